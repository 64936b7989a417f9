import { describe, expect, it } from 'vitest';
import {
  CONTAINER_HEADER_BYTES,
  ContainerError,
  Method,
  decodeWithIndexes,
  fingerprint,
  readContainer,
  writeContainer,
  type ContainerFields,
} from '../../src/coder/index.ts';
import { caseStreams } from './golden.ts';
import { itGolden } from '../helpers/golden.ts';

function fields(over: Partial<ContainerFields> = {}): ContainerFields {
  return {
    mode: 'compat',
    method: Method.PadCrop,
    fingerprint: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    originalSize: [800, 1216],
    resizedSize: [800, 1216],
    featureShape: [64, 200, 304],
    padding: [28, 8, 28, 8],
    mn: 0,
    mx: Math.fround(17.3),
    zShape: [4, 5],
    yString: Uint8Array.from({ length: 24 }, (_, i) => i + 1),
    zString: Uint8Array.from([0, 0, 0, 0x80, 0, 0, 0, 0]),
    ...over,
  };
}

function reject(bytes: Uint8Array, msg: RegExp, opts = {}) {
  let err: unknown;
  try {
    readContainer(bytes, opts);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ContainerError);
  expect((err as Error).name).toBe('ContainerError');
  expect((err as Error).message).toMatch(msg);
}

function patch(b: Uint8Array, fn: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const c = b.slice();
  fn(new DataView(c.buffer), c);
  return c;
}

describe('bitstream container', () => {
  const good = writeContainer(fields());

  it('round-trips every field, with the documented fixed layout', () => {
    expect(good.length).toBe(CONTAINER_HEADER_BYTES + 24 + 8);
    expect(String.fromCharCode(...good.subarray(0, 4))).toBe('WVCM');
    expect(Array.from(good.subarray(4, 8))).toEqual([1, 0, 1, 0]);
    const dv = new DataView(good.buffer);
    expect(dv.getUint32(24, true)).toBe(800);
    expect(dv.getUint32(44, true)).toBe(200);
    expect(dv.getFloat32(72, true)).toBe(Math.fround(17.3));
    expect(dv.getUint32(84, true)).toBe(24);
    expect(dv.getUint32(88, true)).toBe(8);
    const f = readContainer(good);
    expect(f).toEqual({ ...fields(), model: 'bmshj2018-hyperprior', gain: 1 });
    const p = readContainer(
      writeContainer(
        fields({
          mode: 'portable',
          method: Method.Resize,
          resizedSize: [768, 1280],
          featureShape: [64, 192, 320],
          padding: [0, 0, 0, 0],
          zShape: [3, 5],
          mn: -3.5,
          mx: -3.5,
        }),
      ),
    );
    expect(p.mode).toBe('portable');
    expect(p.method).toBe(2);
    expect(p.resizedSize).toEqual([768, 1280]);
    expect(p.mn).toBe(-3.5);
  });

  it('rejects original/resized sizes that do not fit the method and the feature shape', () => {
    const good = writeContainer(fields());
    const withSizes = (o: [number, number], r: [number, number]) => {
      const b = good.slice();
      const dv = new DataView(b.buffer);
      dv.setUint32(24, o[0], true);
      dv.setUint32(28, o[1], true);
      dv.setUint32(32, r[0], true);
      dv.setUint32(36, r[1], true);
      return b;
    };
    // a stream that claims a 1x1 original: its boxes would be scaled by 1/800 without a word
    expect(() => readContainer(withSizes([1, 1], [800, 1216]))).toThrow(/not one uniform scale/);
    expect(() => readContainer(withSizes([0xffffffff, 1216], [800, 1216]))).toThrow(ContainerError);
    expect(() => readContainer(withSizes([400, 608], [800, 1216]))).not.toThrow(); // a uniform 2x scale is fine
    expect(() => readContainer(withSizes([400, 609], [800, 1216]))).not.toThrow(); // within rounding
    expect(() => readContainer(withSizes([400, 640], [800, 1216]))).toThrow(/uniform scale/);
    // the stem must be the padded resized image / 4
    expect(() => readContainer(withSizes([800, 1216], [600, 1216]))).toThrow(/stem of/);
    expect(() => writeContainer(fields({ resizedSize: [900, 1216] }))).toThrow(/stem of/);
    // method 2: multiples of 256, stem a quarter of them
    const m2 = { method: Method.Resize, padding: [0, 0, 0, 0] as [number, number, number, number] };
    expect(() => writeContainer(fields({ ...m2, resizedSize: [800, 1216] }))).toThrow(/multiples of 256/);
    expect(() => writeContainer(fields({ ...m2, resizedSize: [768, 1280], featureShape: [64, 200, 304] }))).toThrow(/quarter/);
    expect(() =>
      writeContainer(fields({ ...m2, originalSize: [100, 1216], resizedSize: [768, 1280], featureShape: [64, 192, 320], zShape: [3, 5] })),
    ).toThrow(/uniform scale/);
    expect(() =>
      writeContainer(fields({ ...m2, originalSize: [40, 60], resizedSize: [256, 256], featureShape: [64, 64, 64], zShape: [1, 1] })),
    ).not.toThrow();
  });

  it('rejects a z shape that does not fit the padded feature map, and implausible channel counts', () => {
    expect(() => writeContainer(fields({ zShape: [4, 6] }))).toThrow(
      /z shape 4x6 does not fit the padded feature map 256x320 \(the codec's z of it is 4x5\)/,
    );
    expect(() => writeContainer(fields({ featureShape: [100000, 200, 304] }))).toThrow(/feature C = 100000/);
    const good = writeContainer(fields());
    for (const [off, v, msg] of [
      [76, 5, /z shape 5x5/],
      [80, 0xfffffff0, /z shape 4x4294967280/],
      [40, 0xfffffff0, /feature C/],
    ] as const) {
      const b = good.slice();
      new DataView(b.buffer).setUint32(off, v, true);
      reject(b, msg);
    }
  });

  it('rejects padding that does not fit the method before anything is sized from it (the padding bypass)', () => {
    const good = writeContainer(fields());
    const withPad = (pad: number[], z: [number, number], method = 1) =>
      patch(good, (dv, b) => {
        b[6] = method;
        pad.forEach((v, i) => dv.setUint32(52 + 4 * i, v, true));
        dv.setUint32(76, z[0], true);
        dv.setUint32(80, z[1], true);
      });
    // the attack: a tiny image whose feature map is padded to a huge z (1182x1182 z = 75648 feature rows and columns)
    reject(withPad([0, 0, 1182 * 64 - 200, 1182 * 64 - 304], [1182, 1182]), /feature H = 200 padded by 0 \+ 75448/);
    // each value below 64, the pair taking the side to the next multiple of 64 (not one 64 more)
    reject(withPad([28 + 32, 8, 28 + 32, 8], [5, 5]), /below 64/);
    reject(withPad([64 + 28, 8, 28, 8], [5, 5]), /below 64/);
    reject(withPad([27, 8, 28, 8], [4, 5]), /next multiple of 64/);
    expect(readContainer(withPad([56, 8, 0, 8], [4, 5])).padding).toEqual([56, 8, 0, 8]); // another split is fine
    // method 2 carries no padding at all
    const m2 = writeContainer(
      fields({ method: Method.Resize, resizedSize: [768, 1280], featureShape: [64, 192, 320], padding: [0, 0, 0, 0], zShape: [3, 5] }),
    );
    reject(
      patch(m2, (dv) => {
        dv.setUint32(52, 64, true);
        dv.setUint32(76, 4, true);
      }),
      /method 2 streams carry no padding/,
    );
    expect(() => writeContainer(fields({ padding: [0, 0, 1182 * 64 - 200, 0], zShape: [1182, 5] }))).toThrow(/below 64/);
    expect(() =>
      writeContainer(
        fields({ method: Method.Resize, resizedSize: [768, 1280], featureShape: [64, 192, 320], padding: [0, 0, 64, 0], zShape: [4, 5] }),
      ),
    ).toThrow(/no padding/);
  });

  itGolden('carries real y/z strings that still decode', () => {
    const [y, z] = caseStreams('A');
    const c = writeContainer(
      fields({
        method: Method.Plain,
        originalSize: [128, 192],
        resizedSize: [128, 192],
        featureShape: [64, 128, 192],
        padding: [0, 0, 0, 0],
        yString: y!.encoded,
        zString: z!.encoded,
        zShape: [2, 3],
      }),
    );
    const f = readContainer(c);
    expect(decodeWithIndexes(f.yString, y!.indexes, y!.rows, y!.cdfLengths, y!.offsets)).toEqual(y!.symbols);
    expect(decodeWithIndexes(f.zString, z!.indexes, z!.rows, z!.cdfLengths, z!.offsets)).toEqual(z!.symbols);
  });

  it('fingerprint: first 16 bytes of SHA-256 (WebCrypto), chunked input hashes as concatenated', async () => {
    const fp = await fingerprint(new TextEncoder().encode('abc'));
    expect(Buffer.from(fp).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223'); // SHA-256("abc")
    const fp2 = await fingerprint([new TextEncoder().encode('a'), new TextEncoder().encode('bc')]);
    expect(fp2).toEqual(fp);
    const c = writeContainer(fields({ fingerprint: fp }));
    expect(readContainer(c, { expectFingerprint: fp }).fingerprint).toEqual(fp);
    reject(c, /fingerprint mismatch: stream was coded with ba7816bf.*these weights are/, { expectFingerprint: new Uint8Array(16) });
    reject(c, /expectFingerprint must be a Uint8Array of 16 bytes/, { expectFingerprint: new Uint8Array(8) });
  });

  it('rejects malformed headers', () => {
    reject(good.subarray(0, 91), /shorter than its 92-byte header/);
    reject(
      patch(good, (_, b) => (b[0] = 0x58)),
      /bad magic "XVCM"/,
    );
    reject(
      patch(good, (_, b) => (b[4] = 3)),
      /unsupported container version 3/,
    );
    reject(
      patch(good, (_, b) => (b[4] = 0)),
      /unsupported container version 0/,
    );
    reject(
      patch(good, (_, b) => (b[5] = 2)),
      /unknown mode byte 2/,
    );
    reject(
      patch(good, (_, b) => (b[6] = 3)),
      /unknown method 3/,
    );
    reject(
      patch(good, (_, b) => (b[7] = 1)),
      /reserved byte 7/,
    );
  });

  it('rejects zero sizes', () => {
    const names: [number, RegExp][] = [
      [24, /original H is 0/],
      [28, /original W is 0/],
      [32, /resized h is 0/],
      [36, /resized w is 0/],
      [40, /feature C is 0/],
      [44, /feature H is 0/],
      [48, /feature W is 0/],
      [76, /z h is 0/],
      [80, /z w is 0/],
    ];
    for (const [off, msg] of names)
      reject(
        patch(good, (dv) => dv.setUint32(off, 0, true)),
        msg,
      );
  });

  it('rejects non-finite or inverted quantization ranges', () => {
    reject(
      patch(good, (dv) => dv.setFloat32(68, NaN, true)),
      /mn = NaN is not a finite number/,
    );
    reject(
      patch(good, (dv) => dv.setFloat32(72, Infinity, true)),
      /mx = Infinity is not a finite number/,
    );
    reject(
      patch(good, (dv) => dv.setFloat32(68, -Infinity, true)),
      /mn = -Infinity/,
    );
    reject(
      patch(good, (dv) => dv.setFloat32(68, 20, true)),
      /mx \(17\.\d+\) < mn \(20\)/,
    );
  });

  it('rejects string lengths that run past the end or leave trailing bytes', () => {
    reject(
      patch(good, (dv) => dv.setUint32(84, 28, true)),
      /run past the end/,
    );
    reject(
      patch(good, (dv) => dv.setUint32(88, 0xffffffff, true)),
      /run past the end/,
    );
    reject(
      patch(good, (dv) => dv.setUint32(84, 0xfffffff8, true)),
      /run past the end/,
    );
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    reject(longer, /3 trailing bytes after the z string/);
    reject(good.subarray(0, good.length - 4), /run past the end/);
    // lengths consistent with the file but not valid rANS string lengths
    reject(
      patch(good, (dv) => {
        dv.setUint32(84, 28, true);
        dv.setUint32(88, 4, true);
      }),
      /z string length 4 is not a valid rANS string length/,
    );
    reject(
      patch(good, (dv) => {
        dv.setUint32(84, 30, true);
        dv.setUint32(88, 2, true);
      }),
      /not a valid rANS string length/,
    );
  });

  it('the writer refuses what the reader would reject', () => {
    const bad: [Partial<ContainerFields>, RegExp][] = [
      [{ mode: 'fast' as never }, /unknown mode "fast"/],
      [{ method: 3 as never }, /unknown method 3/],
      [{ fingerprint: new Uint8Array(15) }, /fingerprint must be a Uint8Array of 16 bytes/],
      [{ originalSize: [0, 5] }, /originalSize\[0\] is 0/],
      [{ featureShape: [64, 200] as never }, /featureShape must be an array of 3 integers/],
      [{ padding: [1, 2, -1, 0] }, /padding\[2\] = -1 is not an unsigned 32-bit integer/],
      [{ zShape: [4, 2 ** 32] }, /zShape\[1\]/],
      [{ resizedSize: [1.5, 2] }, /resizedSize\[0\] = 1.5/],
      [{ mn: NaN }, /mn = NaN/],
      [{ mn: 2, mx: 1 }, /mx \(1\) < mn \(2\)/],
      [{ mx: 0.1 }, /mx = 0.1 is not a float32 value/],
      [{ yString: new Uint8Array(6) }, /yString length 6/],
      [{ zString: new Uint8Array(10) }, /zString length 10/],
    ];
    for (const [over, msg] of bad) {
      let err: unknown;
      try {
        writeContainer(fields(over));
      } catch (e) {
        err = e;
      }
      expect(err, String(msg)).toBeInstanceOf(ContainerError);
      expect((err as Error).message).toMatch(msg);
    }
  });
});
