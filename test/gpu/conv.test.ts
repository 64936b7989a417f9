import { expect, it } from 'vitest';
import { conv2dRef, convTranspose2dRef, maxPool2dRef } from '../../src/cpu/conv.ts';
import { conv2d, convTranspose2d, packConvWeight, prepareConv } from '../../src/gpu/ops/conv.ts';
import { maxPool2d } from '../../src/gpu/ops/pool.ts';
import { abs, add, relu } from '../../src/gpu/ops/eltwise.ts';
import { bucketSize } from '../../src/gpu/pool.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, randomConv, rng, type ConvCase } from '../helpers/gpu.ts';

// Tolerance: float32 accumulation over K ≤ 1600 terms of O(1) values in a different order than the float64
// reference: |err| ≲ K·eps·Σ|terms| ~ 1e-4 in practice; we allow atol 1e-4 + rtol 1e-4.
const ATOL = 1e-4,
  RTOL = 1e-4;

const CASES: ConvCase[] = [
  { c: 3, h: 7, w: 9, oc: 5, k: 3, s: 1, p: 1 },
  { c: 3, h: 13, w: 11, oc: 64, k: 7, s: 2, p: 3, relu: true }, // Detectron2 stem shape family
  { c: 8, h: 10, w: 6, oc: 8, k: 1, s: 1, p: 0 }, // 1x1
  { c: 16, h: 9, w: 9, oc: 12, k: 1, s: 2, p: 0, relu: true }, // strided 1x1 (res3 first block)
  { c: 64, h: 12, w: 17, oc: 24, k: 5, s: 2, p: 2 }, // CompressAI conv
  { c: 5, h: 1, w: 1, oc: 3, k: 3, s: 1, p: 1 }, // 1x1 map, all border
  { c: 12, h: 15, w: 8, oc: 70, k: 3, s: 1, p: 1, relu: true, residual: true }, // OC not /4, residual
  { c: 7, h: 6, w: 5, oc: 1, k: 2, s: 2, p: 0 }, // even kernel, single channel
];

describeGpu('conv2d (tiled implicit GEMM) vs CPU reference', () => {
  for (const cs of CASES) {
    it(`C${cs.c} ${cs.h}x${cs.w} -> ${cs.oc} k${cs.k} s${cs.s} p${cs.p}${cs.relu ? ' relu' : ''}${cs.residual ? ' +res' : ''}`, async () => {
      const ctx = await gpuContext();
      const r = rng(cs.c * 1000 + cs.oc);
      const { x, w, b, OH, OW } = randomConv(r, cs);
      const resData = cs.residual ? randn(r, cs.oc * OH * OW) : undefined;
      const ref = conv2dRef({ data: x, c: cs.c, h: cs.h, w: cs.w }, w, [cs.oc, cs.c, cs.k, cs.k], b, {
        stride: cs.s,
        pad: cs.p,
        relu: cs.relu,
        residual: resData,
      });
      const got = await checked(ctx, 'conv2d', async () => {
        const xt = ctx.uploadCHW(x, cs.c, cs.h, cs.w);
        const cw = prepareConv(ctx, w, [cs.oc, cs.c, cs.k, cs.k], b);
        const res = resData ? ctx.uploadCHW(resData, cs.oc, OH, OW) : undefined;
        const y = conv2d(ctx, xt, cw, { stride: cs.s, pad: cs.p, relu: cs.relu, residual: res });
        expect(y.shape).toEqual([cs.oc, OH, OW]);
        const out = await ctx.readCHW(y);
        xt.release();
        y.release();
        res?.release();
        cw.release();
        return out;
      });
      expect(ref.h).toBe(OH);
      expectClose(got, ref.data, ATOL, RTOL, 'conv2d');
    });
  }

  for (const [c, oc, h, w] of [
    [8, 6, 3, 4],
    [3, 64, 5, 7],
    [128, 3, 4, 6],
    [6, 5, 1, 1],
  ] as const) {
    it(`transposed conv (CompressAI deconv k5 s2 p2 op1) C${c} -> ${oc} ${h}x${w}`, async () => {
      const ctx = await gpuContext();
      const r = rng(c * 7 + oc);
      const x = randn(r, c * h * w);
      const wt = randn(r, c * oc * 25, 1 / Math.sqrt(c * 25));
      const b = randn(r, oc, 0.1);
      const ref = convTranspose2dRef({ data: x, c, h, w }, wt, [c, oc, 5, 5], b, { stride: 2, pad: 2, outputPadding: 1 });
      expect([ref.h, ref.w]).toEqual([2 * h, 2 * w]);
      const got = await checked(ctx, 'deconv', async () => {
        const xt = ctx.uploadCHW(x, c, h, w);
        const cw = prepareConv(ctx, wt, [c, oc, 5, 5], b, { transposed: true });
        const y = convTranspose2d(ctx, xt, cw, { stride: 2, pad: 2, outputPadding: 1 });
        expect(y.shape).toEqual([oc, 2 * h, 2 * w]);
        const out = await ctx.readCHW(y);
        xt.release();
        y.release();
        cw.release();
        return out;
      });
      expectClose(got, ref.data, ATOL, RTOL, 'deconv');
    });
  }

  it('max-pool 3x3/2 pad 1 on odd sizes and negative values (exact)', async () => {
    const ctx = await gpuContext();
    for (const [c, h, w] of [
      [3, 7, 9],
      [5, 8, 8],
      [2, 1, 3],
    ] as const) {
      const x = randn(rng(h * w), c * h * w);
      const ref = maxPool2dRef({ data: x, c, h, w }, 3, 2, 1);
      const got = await checked(ctx, 'maxpool', async () => {
        const xt = ctx.uploadCHW(x, c, h, w);
        const y = maxPool2d(ctx, xt, 3, 2, 1);
        expect(y.shape).toEqual([c, ref.h, ref.w]);
        return ctx.readCHW(y);
      });
      expectClose(got, ref.data, 0, 0, 'maxpool');
    }
  });

  it('element-wise add / add+relu / relu / abs (exact)', async () => {
    const ctx = await gpuContext();
    const n = 1001;
    const a = randn(rng(1), n),
      b = randn(rng(2), n);
    const out = await checked(ctx, 'eltwise', async () => {
      const at = ctx.upload(a, [n]),
        bt = ctx.upload(b, [n]);
      return Promise.all([add(ctx, at, bt), add(ctx, at, bt, { relu: true }), relu(ctx, at), abs(ctx, at)].map((t) => ctx.read(t)));
    });
    expectClose(
      out[0]!,
      a.map((v, i) => Math.fround(v + b[i]!)),
      0,
      0,
      'add',
    );
    expectClose(
      out[1]!,
      a.map((v, i) => Math.max(0, Math.fround(v + b[i]!))),
      0,
      0,
      'add_relu',
    );
    expectClose(
      out[2]!,
      a.map((v) => Math.max(0, v)),
      0,
      0,
      'relu',
    );
    expectClose(
      out[3]!,
      a.map((v) => Math.abs(v)),
      0,
      0,
      'abs',
    );
  });

  it('reports a validation error through the error scope (not silently)', async () => {
    const ctx = await gpuContext();
    await expect(
      ctx.scoped('bad', () => {
        ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
      }),
    ).rejects.toThrow(/validation/i);
  });

  it('rejects mismatched shapes with a typed error', async () => {
    const ctx = await gpuContext();
    const xt = ctx.uploadCHW(new Float32Array(2 * 3 * 3), 2, 3, 3);
    const cw = prepareConv(ctx, new Float32Array(4 * 3 * 9), [4, 3, 3, 3], null);
    expect(() => conv2d(ctx, xt, cw)).toThrow(/input has 2 channels, weights expect 3/);
    cw.release();
    xt.release();
    expect(() => xt.buffer).toThrow(/released tensor/);
  });
});

it('pool bucketing and weight packing are pure and sane', () => {
  expect(bucketSize(1)).toBe(256);
  expect(bucketSize(1000)).toBeGreaterThanOrEqual(1000);
  expect(bucketSize(1025)).toBeLessThanOrEqual(1280);
  const { packed, OCP } = packConvWeight(Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2, 1, 1], false);
  expect(OCP).toBe(4);
  expect(Array.from(packed)).toEqual([1, 3, 5, 0, 2, 4, 6, 0]);
});
