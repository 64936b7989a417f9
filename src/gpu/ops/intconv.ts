/**
 * Exact integer ops of the portable h_s path (shaders/intconv.wgsl, shaders/intops.wgsl): int32 conv / transposed
 * conv into hi/lo accumulators, max of the hi words, requantization and scale-table indexing. Rules:
 * src/model/codec/portable.ts.
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';

export interface IntConvWeights { C: number; OC: number; K: number; transposed: boolean; w: GpuTensor; release(): void }
export interface IntAccGpu { hi: GpuTensor; lo: GpuTensor }

const ACT_MAX = 32767;
const MAX_TERMS = 65535;

/** Repack to [(ky·K + kx)·C + ci][OC] (pure). */
export function packIntWeights(wq: Int32Array, shape: readonly number[], transposed: boolean): { packed: Int32Array; C: number; OC: number; K: number } {
  if (shape.length !== 4 || shape[2] !== shape[3]) throw new GpuShapeError(`int conv weight must be [.,.,K,K], got [${shape.join(',')}]`);
  const [d0, d1, K] = shape as [number, number, number, number];
  const C = transposed ? d0 : d1, OC = transposed ? d1 : d0;
  if (wq.length !== d0 * d1 * K * K) throw new GpuShapeError(`int conv weight has ${wq.length} values for [${shape.join(',')}]`);
  const packed = new Int32Array(K * K * C * OC);
  for (let oc = 0; oc < OC; oc++)
    for (let ci = 0; ci < C; ci++)
      for (let ky = 0; ky < K; ky++)
        for (let kx = 0; kx < K; kx++) {
          const v = wq[transposed ? ((ci * OC + oc) * K + ky) * K + kx : ((oc * C + ci) * K + ky) * K + kx]!;
          if (Math.abs(v) > ACT_MAX) throw new GpuShapeError('int conv weights must satisfy |w| <= 32767');
          packed[((ky * K + kx) * C + ci) * OC + oc] = v;
        }
  if (C * K * K > MAX_TERMS) throw new GpuShapeError(`int conv with ${C * K * K} terms per output exceeds ${MAX_TERMS}`);
  return { packed, C, OC, K };
}

export function prepareIntConv(ctx: GpuContext, wq: Int32Array, shape: readonly number[], transposed: boolean): IntConvWeights {
  const { packed, C, OC, K } = packIntWeights(wq, shape, transposed);
  const w = ctx.upload(packed, [K * K * C, OC], { persistent: true, label: 'intconv.w' });
  return { C, OC, K, transposed, w, release() { w.release(); } };
}

export function intConv(ctx: GpuContext, x: GpuTensor, cw: IntConvWeights, biasHi: Int32Array, biasLo: Int32Array,
  opts: { stride: number; pad: number; outputPadding?: number }, label = 'intconv'): IntAccGpu {
  if (x.layout !== 'hwc' || x.dtype !== 'i32') throw new GpuShapeError('intConv expects an HWC int32 feature map');
  const [C, H, W] = x.chw;
  if (C !== cw.C) throw new GpuShapeError(`intConv: input has ${C} channels, weights expect ${cw.C}`);
  if (biasHi.length !== cw.OC || biasLo.length !== cw.OC) throw new GpuShapeError('intConv: bias length does not match OC');
  const { stride: s, pad: p } = opts, op = opts.outputPadding ?? 0;
  const OH = cw.transposed ? (H - 1) * s - 2 * p + cw.K + op : Math.floor((H + 2 * p - cw.K) / s) + 1;
  const OW = cw.transposed ? (W - 1) * s - 2 * p + cw.K + op : Math.floor((W + 2 * p - cw.K) / s) + 1;
  if (OH <= 0 || OW <= 0) throw new GpuShapeError(`intConv: output would be ${OH}x${OW}`);
  const N = cw.OC * OH * OW;
  const hi = ctx.empty([cw.OC, OH, OW], 'i32', 'hwc', `${label}.hi`);
  const lo = ctx.empty([cw.OC, OH, OW], 'i32', 'hwc', `${label}.lo`);
  ctx.flush(); // uploads go through queue.writeBuffer: never let them overtake recorded work on a recycled buffer
  const bh = ctx.upload(biasHi, [cw.OC]), bl = ctx.upload(biasLo, [cw.OC]);
  const u = ctx.uniform([H, W, C, OH, OW, cw.OC, cw.K, s, p, N, 0, 0]);
  ctx.dispatch1d(ctx.pipeline('intconv', { TRANSPOSED: cw.transposed }), [u, x, cw.w, bh, bl, hi, lo], N, label);
  ctx.flush();
  bh.release(); bl.release();
  return { hi, lo };
}

const OPS = (m: boolean, r: boolean, i: boolean, leaky = false) => ({ MAXHI: m, REQUANT: r, INDEX: i, LEAKY: r && leaky });

export async function intMaxHi(ctx: GpuContext, acc: IntAccGpu): Promise<number> {
  ctx.flush();
  const res = ctx.upload(new Int32Array(4), [4]);
  ctx.dispatch1d(ctx.pipeline('intops', OPS(true, false, false)), [ctx.uniform([acc.hi.size, 0, 0]), acc.hi, acc.lo, res], acc.hi.size, 'int_maxhi');
  const r = (await ctx.read(res)) as Int32Array;
  res.release();
  return r[0]!;
}

export function intRequant(ctx: GpuContext, acc: IntAccGpu, shift: number, leaky = false): GpuTensor {
  if (!Number.isInteger(shift) || shift < 0 || shift > 47) throw new GpuShapeError(`requant shift ${shift} outside 0..47`);
  const out = ctx.empty(acc.hi.shape, 'i32', 'hwc', 'int_requant');
  ctx.dispatch1d(ctx.pipeline('intops', OPS(false, true, false, leaky)), [ctx.uniform([acc.hi.size, shift, 0]), acc.hi, acc.lo, out], acc.hi.size, leaky ? 'int_requant_leaky' : 'int_requant');
  return out;
}

export function intIndexes(ctx: GpuContext, acc: IntAccGpu, thrHi: Int32Array, thrLo: Int32Array): GpuTensor {
  const L = thrHi.length;
  const out = ctx.empty(acc.hi.shape, 'i32', 'hwc', 'int_indexes');
  ctx.flush();
  const th = ctx.upload(thrHi, [L]), tl = ctx.upload(thrLo, [L]);
  ctx.dispatch1d(ctx.pipeline('intops', OPS(false, false, true)), [ctx.uniform([acc.hi.size, 0, L]), acc.hi, acc.lo, th, tl, out], acc.hi.size, 'int_indexes');
  ctx.flush();
  th.release(); tl.release();
  return out;
}
