/**
 * GPU test harness. GPU tests FAIL when no adapter is found; a developer may opt out locally with WEBVCM_SKIP_GPU=1
 * (never set in CI), in which case they are reported as skipped, not passed.
 */
import { afterAll, describe, expect } from 'vitest';
import { GpuContext } from '../../src/gpu/context.ts';
import { convOutputSize } from '../../src/gpu/ops/conv.ts';

export const SKIP_GPU = process.env.WEBVCM_SKIP_GPU === '1';

let ctxPromise: Promise<GpuContext> | undefined;
export function gpuContext(): Promise<GpuContext> {
  ctxPromise ??= GpuContext.create();
  return ctxPromise;
}

/** describe() for GPU tests: skipped only under the explicit opt-out; disposes the shared context afterwards. */
export function describeGpu(name: string, fn: () => void): void {
  (SKIP_GPU ? describe.skip : describe)(name, () => {
    afterAll(async () => {
      if (ctxPromise) (await ctxPromise).dispose();
      ctxPromise = undefined;
    });
    fn();
  });
}

/** Runs `fn` inside validation/out-of-memory error scopes and fails the test on any error. */
export async function checked<T>(ctx: GpuContext, label: string, fn: () => T | Promise<T>): Promise<T> {
  return ctx.scoped(label, fn);
}

/** Seeded PRNG (mulberry32) for reproducible test data. */
export { mulberry32 as rng } from '../../src/util/random.ts';

export function randn(r: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12),
      v = r();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) * scale;
  }
  return out;
}

export interface CloseReport {
  maxAbs: number;
  worst: number;
  bad: number;
  n: number;
}

/** |got − ref| ≤ atol + rtol·|ref| element-wise; reports the worst element. */
export function compareClose(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number): CloseReport {
  expect(got.length).toBe(ref.length);
  let maxAbs = 0,
    worst = -1,
    bad = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!(d <= atol + rtol * Math.abs(ref[i]!))) {
      bad++;
      if (worst < 0) worst = i;
    }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  return { maxAbs, worst, bad, n: ref.length };
}

export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol: number, what = ''): CloseReport {
  const r = compareClose(got, ref, atol, rtol);
  if (r.bad) {
    throw new Error(
      `${what}: ${r.bad}/${r.n} elements outside atol ${atol} + rtol ${rtol}; first at ${r.worst}: got ${got[r.worst]} ref ${ref[r.worst]}; max |diff| ${r.maxAbs}`,
    );
  }
  return r;
}

/** One conv test case: input c×h×w, oc outputs, square kernel k, stride s, padding p; optional ReLU and residual. */
export interface ConvCase {
  c: number;
  h: number;
  w: number;
  oc: number;
  k: number;
  s: number;
  p: number;
  relu?: boolean;
  residual?: boolean;
}

/** Seeded conv test data: input [c,h,w], weights [oc,c,k,k] scaled 1/√(c·k·k), bias ×0.1 (in that draw order), output size. */
export function randomConv(r: () => number, s: ConvCase) {
  const x = randn(r, s.c * s.h * s.w);
  const w = randn(r, s.oc * s.c * s.k * s.k, 1 / Math.sqrt(s.c * s.k * s.k));
  const b = randn(r, s.oc, 0.1);
  return { x, w, b, OH: convOutputSize(s.h, s.k, s.s, s.p), OW: convOutputSize(s.w, s.k, s.s, s.p) };
}
