// Container version 2 (docs/bitstream.md): the codec model in byte 7 and the gain (f32) at offset 92; a
// bmshj2018-hyperprior stream stays version 1, byte for byte as before.
import { describe, expect, it } from 'vitest';
import {
  CONTAINER_HEADER_BYTES,
  CONTAINER_HEADER_BYTES_V2,
  CONTAINER_MODELS,
  ContainerError,
  Method,
  readContainer,
  writeContainer,
  type ContainerFields,
} from '../../src/coder/index.ts';
import { CODEC_ARCHITECTURES } from '../../src/model/codec/registry.ts';

function fields(over: Partial<ContainerFields> = {}): ContainerFields {
  return {
    mode: 'compat', method: Method.PadCrop, fingerprint: Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    originalSize: [800, 1216], resizedSize: [800, 1216], featureShape: [64, 200, 304], padding: [28, 8, 28, 8],
    mn: 0, mx: Math.fround(17.3), zShape: [4, 5],
    yString: Uint8Array.from({ length: 24 }, (_, i) => i + 1), zString: Uint8Array.from([0, 0, 0, 0x80, 0, 0, 0, 0]),
    ...over,
  };
}

describe('container version 2: model and gain', () => {
  it('the model byte table is the registry, in order', () => {
    expect([...CONTAINER_MODELS]).toEqual([...CODEC_ARCHITECTURES]);
  });
  it('bmshj2018-hyperprior (default or explicit, gain 1) writes version 1, identical to a stream without the fields', () => {
    const plain = writeContainer(fields());
    const explicit = writeContainer(fields({ model: 'bmshj2018-hyperprior', gain: 1 }));
    expect(Buffer.from(explicit).equals(Buffer.from(plain))).toBe(true);
    expect(plain[4]).toBe(1);
    expect(plain.length).toBe(CONTAINER_HEADER_BYTES + 32);
    const r = readContainer(plain);
    expect([r.model, r.gain]).toEqual(['bmshj2018-hyperprior', 1]);
  });
  it('every other model round-trips with its gain in a 96-byte header', () => {
    for (const [model, gain] of [['mbt2018-mean', 1], ['bmshj2018-hyperprior-vbr', Math.fround(0.26874)], ['mbt2018-mean-vbr', Math.fround(0.45)]] as const) {
      const b = writeContainer(fields({ model, gain }));
      expect(b[4]).toBe(2);
      expect(b[7]).toBe(CONTAINER_MODELS.indexOf(model));
      expect(b.length).toBe(CONTAINER_HEADER_BYTES_V2 + 32);
      expect(new DataView(b.buffer).getFloat32(92, true)).toBe(gain);
      const r = readContainer(b);
      expect([r.model, r.gain]).toEqual([model, gain]);
      expect(Array.from(r.yString)).toEqual(Array.from(fields().yString));
      expect(Array.from(r.zString)).toEqual(Array.from(fields().zString));
      expect(Buffer.from(writeContainer(r)).equals(Buffer.from(b))).toBe(true);
    }
  });
  it('rejects bad models and gains when writing and when reading', () => {
    const bad = (over: Partial<ContainerFields>, msg: RegExp) => expect(() => writeContainer(fields(over))).toThrow(msg);
    bad({ model: 'mbt2018' as never }, /unknown model/);
    bad({ model: 'mbt2018-mean', gain: 0.5 }, /fixed-rate model mbt2018-mean/);
    bad({ model: 'bmshj2018-hyperprior', gain: Math.fround(0.5) }, /fixed-rate/);
    for (const g of [0, -1, NaN, Infinity]) bad({ model: 'mbt2018-mean-vbr', gain: g }, /gain/);
    bad({ model: 'mbt2018-mean-vbr', gain: 0.1 }, /float32/);
    const good = writeContainer(fields({ model: 'mbt2018-mean-vbr', gain: Math.fround(0.45) }));
    const patch = (f: (dv: DataView, b: Uint8Array) => void) => { const b = good.slice(); f(new DataView(b.buffer), b); return b; };
    const reject = (b: Uint8Array, msg: RegExp) => {
      let err: unknown;
      try { readContainer(b); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(ContainerError);
      expect((err as Error).message).toMatch(msg);
    };
    reject(patch((_, b) => (b[7] = 9)), /unknown model byte 9/);
    reject(patch((dv, b) => { b[7] = 0; dv.setFloat32(92, 1, true); }), /written as version 1/);
    for (const g of [0, -2, NaN, Infinity]) reject(patch((dv) => dv.setFloat32(92, g, true)), /gain/);
    reject(patch((_, b) => (b[7] = 1)), /fixed-rate model mbt2018-mean/); // gain 0.45 with a fixed-rate model
    reject(patch((_, b) => (b[4] = 3)), /unsupported container version 3/);
    reject(good.subarray(0, 94), /shorter than its 96-byte header/);
    // a version 1 header with 4 more bytes is not a version 2 stream: the strings no longer add up
    reject(patch((_, b) => { b[4] = 1; b[7] = 0; }), /trailing bytes/);
  });
});
