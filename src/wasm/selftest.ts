/** A quick self-test of the wasm kernels against the CPU reference (conv + transposed conv), for `webvcm doctor`. */
import { conv2dRef, convTranspose2dRef } from '../cpu/conv.ts';
import { mulberry32 } from '../util/random.ts';
import { WasmBackend, WasmEngine } from './backend.ts';

export interface WasmSelfTest { ok: boolean; maxAbsErr: number; tolerance: number; ms: number; shape: string; error?: string }

export async function wasmSelfTest(): Promise<WasmSelfTest> {
  const C = 12, H = 17, W = 13, OC = 20, K = 3, tolerance = 1e-4;
  const shape = `${C}x${H}x${W} -> ${OC} k${K} s2 p1 relu; transposed k${K} s2`;
  const r = mulberry32(42), u = () => 2 * r() - 1;
  const x = Float32Array.from({ length: C * H * W }, u);
  const w = Float32Array.from({ length: OC * C * K * K }, () => u() * 0.2);
  const b = Float32Array.from({ length: OC }, () => u() * 0.1);
  const t0 = performance.now();
  try {
    const be = new WasmBackend(await WasmEngine.create());
    const xt = be.fromCHW(x, C, H, W);
    const got = [be.conv2d(xt, be.prepareConv(w, [OC, C, K, K], b), { stride: 2, pad: 1, relu: true }).f32,
      be.conv2d(xt, be.prepareConv(w, [C, OC, K, K], b, { transposed: true }), { stride: 2, pad: 1, outputPadding: 1 }).f32];
    const ms = performance.now() - t0;
    const ref = [conv2dRef({ data: x, c: C, h: H, w: W }, w, [OC, C, K, K], b, { stride: 2, pad: 1, relu: true }).data,
      convTranspose2dRef({ data: x, c: C, h: H, w: W }, w, [C, OC, K, K], b, { stride: 2, pad: 1, outputPadding: 1 }).data];
    let maxAbsErr = 0;
    for (let k = 0; k < 2; k++) {
      if (got[k]!.length !== ref[k]!.length) maxAbsErr = Infinity;
      else for (let i = 0; i < ref[k]!.length; i++) maxAbsErr = Math.max(maxAbsErr, Math.abs(got[k]![i]! - ref[k]![i]!));
    }
    return { ok: maxAbsErr <= tolerance, maxAbsErr, tolerance, ms, shape };
  } catch (e) {
    return { ok: false, maxAbsErr: Infinity, tolerance, ms: performance.now() - t0, shape, error: (e as Error).message };
  }
}
