/**
 * The four transforms of CompressAI's hyperprior family (compressai/models/google.py, vbr.py) and the portable h_s,
 * written against `CodecOps` so they run on the GPU and on the CPU reference alike. Layers follow the state-dict
 * indices:
 *   g_a: conv 5/2 · GDN · conv · GDN · conv · GDN · conv        g_s: deconv · IGDN · deconv · IGDN · deconv · IGDN · deconv
 *   scale hyperprior (bmshj2018-hyperprior[-vbr]):
 *     h_a(|y|): conv 3/1 · ReLU · conv 5/2 · ReLU · conv 5/2      h_s: deconv 5/2 · ReLU · deconv · ReLU · conv 3/1 · ReLU
 *   mean-scale hyperprior (mbt2018-mean[-vbr]):
 *     h_a(y): conv 3/1 · LeakyReLU · conv 5/2 · LeakyReLU · conv   h_s: deconv · LeakyReLU · deconv · LeakyReLU · conv 3/1
 *     (h_s gives 2M channels, scales then means: its last conv is prepared as two convs, one per half)
 */
import type { ConvHandle, Tensor } from '../backend.ts';
import type { CodecOps, GdnHandle, IntConvHandle } from './ops.ts';
import { architectureOf, type ConvParams, type HyperpriorParams } from './params.ts';
import { CODEC_MODELS } from './registry.ts';
import { biasHiLo, quantizeWeights, requantShift, thresholds } from './portable.ts';

export interface IntLayer { handle: IntConvHandle; Fw: number; bias: Float32Array; stride: number; pad: number; outputPadding: number }

export interface CodecLayers {
  /** Mean-scale hyperprior (h_a on y, LeakyReLU, h_s gives scales and means). */
  meanScale: boolean;
  gA: ConvHandle[];
  gAGdn: GdnHandle[];
  hA: ConvHandle[];
  /** h_s.0, h_s.2, then the scales half of h_s.4 (mean-scale: and its means half, index 3). */
  hS: ConvHandle[];
  gS: ConvHandle[];
  gSGdn: GdnHandle[];
  hSInt: IntLayer[];
  release(): void;
}

function prep<T extends Tensor>(ops: CodecOps<T>, c: ConvParams): ConvHandle {
  return ops.prepareConv(c.weight, c.shape, c.bias, { transposed: c.transposed, label: c.name });
}

/** Output channels [from, from + n) of a (non-transposed) conv: its own conv, computing exactly those outputs. */
export function convOutputSlice(c: ConvParams, from: number, n: number, name: string): ConvParams {
  const [, C, K] = c.shape;
  const per = C * K * K;
  return { name, weight: c.weight.slice(from * per, (from + n) * per), shape: [n, C, K, K], bias: c.bias.slice(from, from + n), transposed: false };
}

export function prepareLayers<T extends Tensor>(ops: CodecOps<T>, p: HyperpriorParams): CodecLayers {
  const meanScale = CODEC_MODELS[architectureOf(p)].meanScale;
  const gA = p.gA.convs.map((c) => prep(ops, c));
  const gAGdn = p.gA.gdns.map((g) => ops.prepareGdn(g.beta, g.gamma, g.C, false, g.name));
  const hA = p.hA.map((c) => prep(ops, c));
  const last = p.hS[2]!;
  const hSParams = meanScale
    ? [p.hS[0]!, p.hS[1]!, convOutputSlice(last, 0, p.M, 'h_s.4[scales]'), convOutputSlice(last, p.M, p.M, 'h_s.4[means]')]
    : p.hS;
  const hS = hSParams.map((c) => prep(ops, c));
  const gS = p.gS.convs.map((c) => prep(ops, c));
  const gSGdn = p.gS.gdns.map((g) => ops.prepareGdn(g.beta, g.gamma, g.C, true, g.name));
  const hSInt = hSParams.slice(0, 3).map((c, i): IntLayer => {
    const { wq, Fw } = quantizeWeights(c.weight);
    const k = c.shape[2];
    return {
      handle: ops.prepareIntConv(wq, c.shape, c.transposed), Fw, bias: c.bias,
      stride: i < 2 ? 2 : 1, pad: Math.floor(k / 2), outputPadding: i < 2 ? 1 : 0,
    };
  });
  return {
    meanScale, gA, gAGdn, hA, hS, gS, gSGdn, hSInt,
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

/** conv, then LeakyReLU (mean-scale) or a fused ReLU; `act: false` leaves the conv output as it is. */
function convAct<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, x: T, w: ConvHandle, o: { stride: number; pad: number; outputPadding?: number; label: string }, act: boolean): T {
  if (!L.meanScale) return ops.conv2d(x, w, { ...o, relu: act });
  const c = ops.conv2d(x, w, o);
  if (!act) return c;
  const a = ops.leakyRelu(c);
  ops.release(c);
  return a;
}

export function hA<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, y: T): T {
  if (L.meanScale) {
    const t0 = convAct(ops, L, y, L.hA[0]!, { stride: 1, pad: 1, label: 'h_a.0' }, true);
    const t1 = convAct(ops, L, t0, L.hA[1]!, { ...S2, label: 'h_a.2' }, true);
    ops.release(t0);
    const z = ops.conv2d(t1, L.hA[2]!, { ...S2, label: 'h_a.4' });
    ops.release(t1);
    return z;
  }
  const a = ops.abs(y);
  const t0 = ops.conv2d(a, L.hA[0]!, { stride: 1, pad: 1, relu: true, label: 'h_a.0' });
  ops.release(a);
  const t1 = ops.conv2d(t0, L.hA[1]!, { ...S2, relu: true, label: 'h_a.2' });
  ops.release(t0);
  const z = ops.conv2d(t1, L.hA[2]!, { ...S2, label: 'h_a.4' });
  ops.release(t1);
  return z;
}

/** h_s(z_hat): the scales, and for a mean-scale model the means (CompressAI's `gaussian_params.chunk(2, 1)`). */
export function hyperSynthesis<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, zHat: T): { scales: T; means: T | null } {
  const t0 = convAct(ops, L, zHat, L.hS[0]!, { ...D2, label: 'h_s.0' }, true);
  const t1 = convAct(ops, L, t0, L.hS[1]!, { ...D2, label: 'h_s.2' }, true);
  ops.release(t0);
  const last = { stride: 1, pad: 1 } as const;
  const scales = convAct(ops, L, t1, L.hS[2]!, { ...last, label: 'h_s.4' }, !L.meanScale);
  const means = L.meanScale ? ops.conv2d(t1, L.hS[3]!, { ...last, label: 'h_s.4 means' }) : null;
  ops.release(t1);
  return { scales, means };
}

/** h_s(z_hat) → scales (the scale hyperprior's h_s; for a mean-scale model the means are dropped). */
export function hS<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, zHat: T): T {
  const { scales, means } = hyperSynthesis(ops, L, zHat);
  if (means) ops.release(means);
  return scales;
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

export async function hSPortableIndexes<T extends Tensor>(ops: CodecOps<T>, L: CodecLayers, a: T, F: number, scaleTable: Float32Array, trace?: PortableTrace, gain = 1): Promise<T> {
  let x = a;
  for (let i = 0; i < 3; i++) {
    const l = L.hSInt[i]!;
    const E = F + l.Fw;
    const b = biasHiLo(l.bias, E);
    const acc = ops.intConv(x, l.handle, b.hi, b.lo, { stride: l.stride, pad: l.pad, outputPadding: l.outputPadding });
    if (x !== a) ops.release(x);
    if (i === 2) {
      trace?.(i, E, -1);
      const t = thresholds(scaleTable, E, gain);
      const idx = ops.intIndexes(acc, t.hi, t.lo);
      ops.release(acc.hi, acc.lo);
      return idx;
    }
    const s = requantShift(await ops.intMaxHi(acc));
    trace?.(i, E, s);
    x = ops.intRequant(acc, s, L.meanScale); // mean-scale: the portable LeakyReLU (portable.ts)
    ops.release(acc.hi, acc.lo);
    F = E - s;
  }
  throw new Error('unreachable');
}
