import { expect, it } from 'vitest';
import { CpuDetectorBackend, upsampleAddRef } from '../../src/cpu/detector-backend.ts';
import { GpuShapeError } from '../../src/gpu/errors.ts';
import { normalizeImage, packBytes } from '../../src/gpu/ops/normalize.ts';
import { upsampleAdd, upsampleAddShape } from '../../src/gpu/ops/upsample.ts';
import { normalizeAndPad } from '../../src/model/detector/preprocess.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../helpers/gpu.ts';

it('upsampleAddShape accepts exact 2x and rejects the rest', () => {
  expect(upsampleAddShape([5, 8, 6], [5, 4, 3])).toEqual([5, 8, 6]);
  expect(() => upsampleAddShape([5, 9, 6], [5, 4, 3])).toThrow(GpuShapeError);
  expect(() => upsampleAddShape([4, 8, 6], [5, 4, 3])).toThrow(GpuShapeError);
  expect(Array.from(new Uint8Array(packBytes(new Uint8Array([1, 2, 3, 4, 5])).buffer))).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
});

it('CPU upsampleAddRef on a hand example', () => {
  const lat = new Float32Array(16).fill(1);
  const coarse = Float32Array.from([10, 20, 30, 40]);
  expect(Array.from(upsampleAddRef(lat, coarse, 1, 4, 4))).toEqual([11, 11, 21, 21, 11, 11, 21, 21, 31, 31, 41, 41, 31, 31, 41, 41]);
  const cpu = new CpuDetectorBackend();
  expect(() => cpu.upsampleAdd(cpu.fromCHW(lat, 1, 4, 4), cpu.fromCHW(new Float32Array(6), 1, 2, 3))).toThrow();
});

describeGpu('detector GPU ops vs CPU references', () => {
  // Pure data movement + one float32 add: exact (tolerance 0).
  for (const [c, h, w] of [
    [3, 1, 1],
    [5, 3, 7],
    [32, 10, 13],
    [1, 2, 2],
  ] as const) {
    it(`upsampleAdd C${c} ${h}x${w} -> ${2 * h}x${2 * w} is exact`, async () => {
      const ctx = await gpuContext();
      const r = rng(c * 100 + h * 10 + w);
      const lat = randn(r, c * 4 * h * w),
        coarse = randn(r, c * h * w);
      const ref = upsampleAddRef(lat, coarse, c, 2 * h, 2 * w);
      const got = await checked(ctx, 'upsampleAdd', async () => {
        const a = ctx.uploadCHW(lat, c, 2 * h, 2 * w),
          b = ctx.uploadCHW(coarse, c, h, w);
        const y = upsampleAdd(ctx, a, b);
        const out = await ctx.readCHW(y);
        a.release();
        b.release();
        y.release();
        return out;
      });
      expectClose(got, ref, 0, 0, 'upsampleAdd');
    });
  }
  for (const [h, w, Hp, Wp] of [
    [5, 7, 32, 32],
    [1, 1, 1, 1],
    [13, 3, 13, 32],
    [33, 17, 64, 32],
  ] as const) {
    it(`normalizeImage ${h}x${w} -> ${Hp}x${Wp} is bit-exact`, async () => {
      const ctx = await gpuContext();
      const r = rng(h * 31 + w);
      const img = new Uint8Array(h * w * 3).map(() => Math.floor(r() * 256));
      const mean: [number, number, number] = [103.53, 116.28, 123.675];
      const ref = normalizeAndPad({ height: h, width: w, data: img }, [Hp, Wp], mean);
      const got = await checked(ctx, 'normalize', async () => {
        const y = normalizeImage(ctx, img, h, w, [Hp, Wp], mean);
        expect(y.shape).toEqual([3, Hp, Wp]);
        const out = await ctx.readCHW(y);
        y.release();
        return out;
      });
      expectClose(got, ref, 0, 0, 'normalize');
    });
  }
});
