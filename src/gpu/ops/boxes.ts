/** Box kernels of the Detectron2 heads (shaders/boxes.wgsl); CPU references in src/cpu/heads-ref.ts. */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import { defineParams } from '../params.ts';
import type { GpuTensor } from '../tensor.ts';

/** shaders/boxes.wgsl's struct Params, one per kernel. */
const RPN_DECODE_PARAMS = defineParams('boxes', {
  k: 'u32',
  A: 'u32',
  W: 'u32',
  outOff: 'u32',
  level: 'u32',
  _p0: 'u32',
  _p1: 'u32',
  _p2: 'u32',
  stride: 'f32',
  clampv: 'f32',
  imgH: 'f32',
  imgW: 'f32',
  wx: 'f32',
  wy: 'f32',
  ww: 'f32',
  wh: 'f32',
  minSize: 'f32',
  _q0: 'f32',
  _q1: 'f32',
  _q2: 'f32',
});
const SOFTMAX_PARAMS = defineParams('boxes', { R: 'u32', K: 'u32', _p0: 'u32', _p1: 'u32' });
const ROI_DECODE_PARAMS = defineParams('boxes', {
  R: 'u32',
  K: 'u32',
  NC: 'u32',
  _p0: 'u32',
  imgH: 'f32',
  imgW: 'f32',
  thresh: 'f32',
  clampv: 'f32',
  wx: 'f32',
  wy: 'f32',
  ww: 'f32',
  wh: 'f32',
});
const CAND_KEYS_PARAMS = defineParams('boxes', { n: 'u32', m: 'u32', NC: 'u32', _p0: 'u32' });
const GATHER_PARAMS = defineParams('boxes', { K: 'u32', NC: 'u32', _p0: 'u32', _p1: 'u32' });

const weightFields = (w: readonly number[]) => ({ wx: w[0]!, wy: w[1]!, ww: w[2]!, wh: w[3]! });

const KERNELS = ['RPN_DECODE', 'SOFTMAX', 'ROI_DECODE', 'CAND_KEYS', 'GATHER'] as const;
type Kernel = (typeof KERNELS)[number];

export function kernelDefines(kernels: readonly string[], k: string): Record<string, boolean> {
  return Object.fromEntries(kernels.map((n) => [`K_${n}`, n === k]));
}
function pipe(ctx: GpuContext, k: Kernel): GPUComputePipeline {
  return ctx.pipeline('boxes', kernelDefines(KERNELS, k));
}

export interface RpnDecodeParams {
  k: number;
  A: number;
  W: number;
  outOff: number;
  level: number;
  stride: number;
  clamp: number;
  imageHW: readonly [number, number];
  weights: readonly number[];
  minSize: number;
}

/**
 * Decode the top-k anchors of one level (sorted entries from topkEntries) into boxes/scores/entries at
 * [outOff, outOff+k) of the shared candidate arrays. logits: [A,H,W] HWC, deltas: [4A,H,W] HWC (so anchor i's
 * logit is logits[i] and its deltas deltas[4i..4i+3]); cell: [A,4] cell anchors.
 */
export function rpnDecode(
  ctx: GpuContext,
  sorted: GpuTensor,
  logits: GpuTensor,
  deltas: GpuTensor,
  cell: GpuTensor,
  boxes: GpuTensor,
  scores: GpuTensor,
  entries: GpuTensor,
  q: RpnDecodeParams,
): void {
  if (deltas.size !== logits.size * 4) throw new GpuShapeError(`rpn deltas (${deltas.size}) must be 4x the logits (${logits.size})`);
  if (q.outOff + q.k > scores.size) throw new GpuShapeError('rpn candidates overflow');
  const u = ctx.uniform(
    RPN_DECODE_PARAMS.pack({
      k: q.k,
      A: q.A,
      W: q.W,
      outOff: q.outOff,
      level: q.level,
      stride: q.stride,
      clampv: q.clamp,
      imgH: q.imageHW[0],
      imgW: q.imageHW[1],
      ...weightFields(q.weights),
      minSize: q.minSize,
    }),
  );
  ctx.dispatch1d(pipe(ctx, 'RPN_DECODE'), [u, sorted, logits, deltas, cell, boxes, scores, entries], q.k, 'rpn_decode');
}

/** Row softmax of R rows of K values (row-major, i.e. a [K,1,R] HWC tensor). */
export function softmaxRows(ctx: GpuContext, x: GpuTensor, R: number, K: number): GpuTensor {
  if (x.size !== R * K) throw new GpuShapeError(`softmax: ${x.size} values for ${R}x${K}`);
  const y = ctx.empty(x.shape, 'f32', x.layout, 'softmax');
  ctx.dispatch1d(pipe(ctx, 'SOFTMAX'), [ctx.uniform(SOFTMAX_PARAMS.pack({ R, K })), x, y], R, 'softmax');
  return y;
}

export interface RoiDecodeOut {
  boxes: GpuTensor;
  scores: GpuTensor;
  counter: GpuTensor;
  cand: GpuTensor;
}

/** Class-specific decode + clip + finiteness + score threshold (candidates appended in arbitrary order). */
export function roiDecode(
  ctx: GpuContext,
  probs: GpuTensor,
  deltas: GpuTensor,
  proposals: GpuTensor,
  R: number,
  K: number,
  spec: { weights: readonly number[]; clamp: number; thresh: number; imageHW: readonly [number, number] },
): RoiDecodeOut {
  const NC = K - 1;
  if (probs.size !== R * K || deltas.size !== R * NC * 4 || proposals.size < R * 4) {
    throw new GpuShapeError(`roiDecode: probs ${probs.size}, deltas ${deltas.size}, proposals ${proposals.size} for R=${R}, K=${K}`);
  }
  const boxes = ctx.empty([R * NC, 4], 'f32', 'flat', 'det.boxes');
  const scores = ctx.empty([R * NC], 'f32', 'flat', 'det.scores');
  const counter = ctx.upload(new Uint32Array(4), [4]);
  const cand = ctx.empty([R * NC], 'u32', 'flat', 'det.cand');
  const u = ctx.uniform(
    ROI_DECODE_PARAMS.pack({
      R,
      K,
      NC,
      imgH: spec.imageHW[0],
      imgW: spec.imageHW[1],
      thresh: spec.thresh,
      clampv: spec.clamp,
      ...weightFields(spec.weights),
    }),
  );
  ctx.dispatch1d(pipe(ctx, 'ROI_DECODE'), [u, probs, deltas, proposals, boxes, scores, counter, cand], R, 'roi_decode');
  return { boxes, scores, counter, cand };
}

/** Candidates → entries (class, descKey(score), flat, 1), sentinels up to n. */
export function candidateKeys(ctx: GpuContext, cand: GpuTensor, scores: GpuTensor, m: number, n: number, NC: number): GpuTensor {
  const out = ctx.empty([n, 4], 'u32', 'flat', 'det.entries');
  ctx.dispatch1d(pipe(ctx, 'CAND_KEYS'), [ctx.uniform(CAND_KEYS_PARAMS.pack({ n, m, NC })), cand, scores, out], n, 'cand_keys');
  return out;
}

/** First K sorted entries → boxes [K,4], scores [K], classes [K] (payload % NC; −1 for sentinels). */
export function gatherTop(
  ctx: GpuContext,
  sorted: GpuTensor,
  boxes: GpuTensor,
  scores: GpuTensor,
  K: number,
  NC: number,
): { boxes: GpuTensor; scores: GpuTensor; classes: GpuTensor } {
  if (K > sorted.shape[0]!) throw new GpuShapeError(`gatherTop: ${K} of ${sorted.shape[0]} entries`);
  const ob = ctx.empty([K, 4], 'f32', 'flat', 'top.boxes');
  const os = ctx.empty([K], 'f32', 'flat', 'top.scores');
  const oc = ctx.empty([K], 'i32', 'flat', 'top.classes');
  ctx.dispatch1d(pipe(ctx, 'GATHER'), [ctx.uniform(GATHER_PARAMS.pack({ K, NC })), sorted, boxes, scores, ob, os, oc], K, 'gather_top');
  return { boxes: ob, scores: os, classes: oc };
}
