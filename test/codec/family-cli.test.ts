// The codec family through the CLI and the API: `webvcm codec compress --level S | --scale G --strings-out DIR` gives
// CompressAI's strings byte for byte (golden VBR cases), the container records model and gain and decodes back;
// `encoder.encode(image, { targetBpp })` on the bundled example lands within 3 % (the golden mbt2018-mean-vbr model
// on the bundled detector's 64-channel stem); fixed-rate models refuse rate options by name.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { compressCommand, decompressCommand } from '../../src/cli/codec.ts';
import { readContainer } from '../../src/coder/index.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { FIXTURES_ROOT } from '../helpers/golden.ts';
import { describeGpu, expectClose } from '../helpers/gpu.ts';

const D = resolve(FIXTURES_ROOT, 'codec-family');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const file = (p: string) => new Uint8Array(readFileSync(p));
const DET = 'weights/default/detector.safetensors';
const FIXED = 'weights/world/codec-l0.006.safetensors'; // a first-generation fixed-rate codec of the same stem
const EXAMPLE = 'weights/world/example.png';
const SIZE = { minSize: 320, maxSize: 456 };

describeGpu('codec family: CLI and API rate control', () => {
  it("codec compress --level/--scale: CompressAI's strings; the container records model and gain; decompress uses them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-family-'));
    const u8 = readNpy(file(join(D, 'x_u8.npy')));
    const input = join(dir, 'x.npy');
    writeFileSync(
      input,
      writeNpy(
        Float32Array.from(u8.data as ArrayLike<number>, (k) => Math.fround(k / 255)),
        [1, 64, 64, 128],
        '<f4',
      ),
    );
    const cases: [string, { level?: number; scale?: number }, string][] = [
      ['bmshj2018-hyperprior-vbr', { level: 3 }, 'level3'],
      ['bmshj2018-hyperprior-vbr', { scale: 0.45 }, 'scale0.45'],
      ['mbt2018-mean-vbr', { level: 0 }, 'level0'],
      ['mbt2018-mean-vbr', { level: 7 }, 'level7'],
      ['mbt2018-mean', {}, 'fixed'],
    ];
    for (const [model, rate, sub] of cases) {
      const weights = join(D, model, 'model.pth.tar');
      const out = join(dir, `${model}-${sub}.vcm`),
        strings = join(dir, `${model}-${sub}`);
      await compressCommand({ weights, input, output: out, mode: 'compat', stringsOut: strings, ...rate });
      for (const s of ['y_string.bin', 'z_string.bin'])
        expect(hex(file(join(strings, s))), `${model} ${sub} ${s}`).toBe(hex(file(join(D, model, sub, s))));
      const f = readContainer(file(out));
      expect(f.model).toBe(model);
      expect(f.gain).toBe(
        rate.level !== undefined || rate.scale !== undefined
          ? (
              JSON.parse(readFileSync(join(D, 'manifest.json'), 'utf8')) as { cases: { model: string; setting: string; gain: number }[] }
            ).cases.find((c) => c.model === model && c.setting === sub)!.gain
          : 1,
      );
      await decompressCommand({ weights, input: out, output: join(dir, 'xh.npy') });
      const xh = readNpy(file(join(dir, 'xh.npy'))).data as Float32Array;
      const ref = readNpy(file(join(D, model, sub, 'x_hat_sample.npy'))).data as Float32Array;
      expectClose(
        Float32Array.from(ref, (_, i) => xh[i * 61]!),
        ref,
        1e-4,
        1e-4,
        `${model} ${sub} x_hat`,
      );
      // CompressAI's raw strings at the same rate
      await decompressCommand({ weights, stringsIn: join(D, model, sub), zShape: [1, 2], output: join(dir, 'raw.npy'), ...rate });
      expect(hex(file(join(dir, 'raw.npy')))).toBe(hex(file(join(dir, 'xh.npy'))));
    }
    await expect(
      compressCommand({ weights: join(D, 'mbt2018-mean/model.pth.tar'), input, output: join(dir, 'x.vcm'), mode: 'compat', level: 1 }),
    ).rejects.toThrow(/fixed-rate model: --level\/--scale need a variable-rate model \(bmshj2018-hyperprior-vbr, mbt2018-mean-vbr\)/);
    await expect(
      decompressCommand({
        weights: join(D, 'mbt2018-mean-vbr/model.pth.tar'),
        input: join(dir, 'mbt2018-mean-fixed.vcm'),
        output: join(dir, 'x.npy'),
      }),
    ).rejects.toThrow(/fingerprint mismatch/);
  }, 240_000);

  it('encode(image, { targetBpp }) on the bundled example: within 3 % and reported; { scale } and levels through the API; the decoder decodes any gain', async () => {
    const codec = join(D, 'mbt2018-mean-vbr/model.pth.tar');
    const enc = await createEncoder({ detector: DET, codec, ...SIZE });
    const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: enc.device, ...SIZE });
    try {
      const img = file(EXAMPLE);
      expect(enc.codecModel.architecture).toBe('mbt2018-mean-vbr');
      const lo = await enc.encode(img, { level: 0 }),
        hi = await enc.encode(img, { level: 7 });
      expect(lo.bpp.strings).toBeLessThan(hi.bpp.strings);
      const target = Math.sqrt(lo.bpp.strings * hi.bpp.strings);
      const r = await enc.encode(img, { targetBpp: target });
      expect(r.rateSearch!.withinTolerance).toBe(true);
      expect(Math.abs(r.bpp.strings / target - 1)).toBeLessThanOrEqual(0.03);
      expect(r.rateSearch!.bpp).toBe(r.bpp.strings);
      expect(readContainer(r.bytes).gain).toBe(r.codec.gain);
      console.log(
        `targetBpp ${target.toFixed(5)}: reached ${r.bpp.strings.toFixed(5)} (${((r.bpp.strings / target - 1) * 100).toFixed(2)} %) at gain ${r.codec.gain} in ${r.rateSearch!.steps} codings; levels 0/7: ${lo.bpp.strings.toFixed(5)} / ${hi.bpp.strings.toFixed(5)}`,
      );
      // out of range: the nearest achievable end, said so
      const far = await enc.encode(img, { targetBpp: hi.bpp.strings * 10 });
      expect([far.rateSearch!.clamped, far.codec.gain]).toEqual(['above', enc.codecModel.gains[7]]);
      const s = await enc.encode(img, { scale: 0.45 });
      expect(s.codec.gain).toBe(Math.fround(0.45));
      for (const e of [lo, r, s]) expect((await dec.decode(e.bytes)).detections.scores.length).toBeGreaterThanOrEqual(0);
      await expect(enc.encode(img, { level: 9 })).rejects.toThrow(/outside 0\.\.7/);
    } finally {
      dec.dispose();
      enc.dispose();
    }
    const fixed = await createEncoder({ detector: DET, codec: FIXED, ...SIZE });
    try {
      await expect(fixed.encode(file(EXAMPLE), { targetBpp: 0.1 })).rejects.toThrow(
        /fixed-rate model: a target bitrate needs a variable-rate model \(bmshj2018-hyperprior-vbr, mbt2018-mean-vbr\)/,
      );
    } finally {
      fixed.dispose();
    }
  }, 300_000);
});
