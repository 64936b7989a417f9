/**
 * The four transforms of ScaleHyperprior (compressai/models/google.py) and the portable h_s, written against
 * `CodecOps` so they run on the GPU and on the CPU reference alike. Layers follow the state-dict indices:
 *   g_a: conv 5/2 · GDN · conv · GDN · conv · GDN · conv        h_a(|y|): conv 3/1 · ReLU · conv 5/2 · ReLU · conv 5/2
 *   h_s: deconv 5/2 · ReLU · deconv · ReLU · conv 3/1 · ReLU     g_s: deconv · IGDN · deconv · IGDN · deconv · IGDN · deconv
 */
import type { ConvHandle, Tensor } from '../backend.ts';
import type { CodecOps, GdnHandle, IntConvHandle } from './ops.ts';
import type { ConvParams, HyperpriorParams } from './params.ts';
import { biasHiLo, quantizeWeights, requantShift, thresholds } from './portable.ts';

export interface IntLayer { handle: IntConvHandle; Fw: number; bias: Float32Array; stride: number; pad: number; outputPadding: number }

export interface CodecLayers {
  gA: ConvHandle[];
  gAGdn: GdnHandle[];
  hA: ConvHandle[];
  hS: ConvHandle[];
  gS: ConvHandle[];
  gSGdn: GdnHandle[];
  hSInt: IntLayer[];
  release(): void;
}

function prep<T extends Tensor>(ops: CodecOps<T>, c: ConvParams): ConvHandle {
  return ops.prepareConv(c.weight, c.shape, c.bias, { transposed: c.transposed, label: c.name });
}

export function prepareLayers<T extends Tensor>(ops: CodecOps<T>, p: HyperpriorParams): CodecLayers {
  const gA = p.gA.convs.map((c) => prep(ops, c));
  const gAGdn = p.gA.gdns.map((g) => ops.prepareGdn(g.beta, g.gamma, g.C, false, g.name));
  const hA = p.hA.map((c) => prep(ops, c));
  const hS = p.hS.map((c) => prep(ops, c));
  const gS = p.gS.convs.map((c) => prep(ops, c));
  const gSGdn = p.gS.gdns.map((g) => ops.prepareGdn(g.beta, g.gamma, g.C, true, g.name));
  const hSInt = p.hS.map((c, i): IntLayer => {
    const { wq, Fw } = quantizeWeights(c.weight);
    const k = c.shape[2];
    return {
      handle: ops.prepareIntConv(wq, c.shape, c.transposed), Fw, bias: c.bias,
      stride: i < 2 ? 2 : 1, pad: Math.floor(k / 2), outputPadding: i < 2 ? 1 : 0,
    };
  });
  return {
    gA, gAGdn, hA, hS, gS, gSGdn, hSInt,
    release() {
      for (const h of [...gA, ...hA, ...hS, ...gS, ...gAGdn, ...gSGdn]) h.release();
      for (const l of hSInt) l.handle.release();
    },
  };
}

const S2 = { stride: 2, pad: 2 } as const;
const D2 = { stride: 2, pad: 2, outputPadding: 1 } as const;

export function gA<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, x: T): T {
  let t = x;
  for (let i = 0; i < 4; i++) {
    const c = ops.conv2d(t, L.gA[i]!, { ...S2, label: `g_a.${2 * i}` });
    if (t !== x) ops.release(t);
    t = c;
    if (i < 3) { const g = ops.gdn(t, L.gAGdn[i]!); ops.release(t); t = g; }
  }
  return t;
}

export function hA<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, y: T): T {
  const a = ops.abs(y);
  const t0 = ops.conv2d(a, L.hA[0]!, { stride: 1, pad: 1, relu: true, label: 'h_a.0' });
  ops.release(a);
  const t1 = ops.conv2d(t0, L.hA[1]!, { ...S2, relu: true, label: 'h_a.2' });
  ops.release(t0);
  const z = ops.conv2d(t1, L.hA[2]!, { ...S2, label: 'h_a.4' });
  ops.release(t1);
  return z;
}

export function hS<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, zHat: T): T {
  const t0 = ops.conv2d(zHat, L.hS[0]!, { ...D2, relu: true, label: 'h_s.0' });
  const t1 = ops.conv2d(t0, L.hS[1]!, { ...D2, relu: true, label: 'h_s.2' });
  ops.release(t0);
  const s = ops.conv2d(t1, L.hS[2]!, { stride: 1, pad: 1, relu: true, label: 'h_s.4' });
  ops.release(t1);
  return s;
}

export function gS<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, yHat: T): T {
  let t = yHat;
  for (let i = 0; i < 4; i++) {
    const c = ops.conv2d(t, L.gS[i]!, { ...D2, label: `g_s.${2 * i}` });
    if (t !== yHat) ops.release(t);
    t = c;
    if (i < 3) { const g = ops.gdn(t, L.gSGdn[i]!); ops.release(t); t = g; }
  }
  return t;
}

/**
 * Portable h_s → Gaussian indexes in exact integer arithmetic (rules in portable.ts). `a` is the fixed-point input
 * (int32 [N, h, w]) with exponent F. Returns the int32 index tensor [M, 4h, 4w].
 */
/** Receives, per h_s layer, the exponent E of its accumulator and the requantization shift (−1 for the last). */
export type PortableTrace = (layer: number, E: number, shift: number) => void;

export async function hSPortableIndexes<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, a: T, F: number, scaleTable: Float32Array, trace?: PortableTrace): Promise<T> {
  let x = a;
  for (let i = 0; i < 3; i++) {
    const l = L.hSInt[i]!;
    const E = F + l.Fw;
    const b = biasHiLo(l.bias, E);
    const acc = ops.intConv(x, l.handle, b.hi, b.lo, { stride: l.stride, pad: l.pad, outputPadding: l.outputPadding });
    if (x !== a) ops.release(x);
    if (i === 2) {
      trace?.(i, E, -1);
      const t = thresholds(scaleTable, E);
      const idx = ops.intIndexes(acc, t.hi, t.lo);
      ops.release(acc.hi, acc.lo);
      return idx;
    }
    const s = requantShift(await ops.intMaxHi(acc));
    trace?.(i, E, s);
    x = ops.intRequant(acc, s);
    ops.release(acc.hi, acc.lo);
    F = E - s;
  }
  throw new Error('unreachable');
}
