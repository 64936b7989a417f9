/** A quick conv self-test against the CPU reference, used by `webvcm doctor` and the browser smoke test. */
import { conv2dRef } from '../cpu/conv.ts';
import type { GpuContext } from './context.ts';
import { conv2d, prepareConv } from './ops/conv.ts';

export interface SelfTestResult {
  ok: boolean;
  maxAbsErr: number;
  tolerance: number;
  ms: number;
  shape: string;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
}

export async function convSelfTest(ctx: GpuContext): Promise<SelfTestResult> {
  const C = 12,
    H = 17,
    W = 13,
    OC = 20,
    K = 3;
  const r = lcg(42);
  const x = Float32Array.from({ length: C * H * W }, r);
  const w = Float32Array.from({ length: OC * C * K * K }, () => r() * 0.2);
  const b = Float32Array.from({ length: OC }, () => r() * 0.1);
  const t0 = performance.now();
  const got = await ctx.scoped('doctor conv self-test', async () => {
    const xt = ctx.uploadCHW(x, C, H, W);
    const cw = prepareConv(ctx, w, [OC, C, K, K], b);
    const y = conv2d(ctx, xt, cw, { stride: 2, pad: 1, relu: true });
    const out = await ctx.readCHW(y);
    xt.release();
    y.release();
    cw.release();
    return out;
  });
  const ms = performance.now() - t0;
  const ref = conv2dRef({ data: x, c: C, h: H, w: W }, w, [OC, C, K, K], b, { stride: 2, pad: 1, relu: true });
  let maxAbsErr = 0;
  for (let i = 0; i < ref.data.length; i++) maxAbsErr = Math.max(maxAbsErr, Math.abs(got[i]! - ref.data[i]!));
  if (got.length !== ref.data.length) maxAbsErr = Infinity;
  const tolerance = 1e-4;
  return { ok: maxAbsErr <= tolerance, maxAbsErr, tolerance, ms, shape: `${C}x${H}x${W} -> ${OC} k${K} s2 p1 relu` };
}
