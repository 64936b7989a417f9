/**
 * The sparse half of Detectron2's Faster R-CNN R50-FPN at test time (docs: shared detectron2-reference §4–7):
 * RPN proposals → ROIAlignV2 → box head (FCs as 1x1 convs) → softmax → class-specific decode → threshold → per-class
 * NMS → top-k → detector_postprocess. Written against HeadOps, so it runs on the GPU and the CPU backend.
 */
import type { ConvHandle } from '../../backend.ts';
import type { DetectorWeights, HostTensor } from '../../weights/index.ts';
import type { Detections, DetectorConfig, FpnOutputs, ImageSizes } from '../types.ts';
import { assignLevels, cellAnchors, detectorPostprocess } from './geometry.ts';
import type { Tensor } from '../../backend.ts';
import type { HeadOps } from './ops.ts';
import { VcmError } from '../../../util/errors.ts';

export type { BoxInferenceSpec, HeadOps, Proposals, RawDetections, RoiAlignSpec, RpnSpec, RpnLevelSpec } from './ops.ts';
export { assignLevels, cellAnchors, detectorPostprocess } from './geometry.ts';

/** Strides of p2..p6 (FPN of a ResNet with LastLevelMaxPool). */
export const FPN_STRIDES = [4, 8, 16, 32, 64] as const;
/** Box2BoxTransform scale clamp: log(1000/16). */
export const SCALE_CLAMP = Math.log(1000 / 16);

export class HeadsError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'HeadsError';
  }
}

/** The box head and predictor, uploaded once. */
export interface HeadsHandle {
  fcs: ConvHandle[];
  clsScore: ConvHandle;
  bboxPred: ConvHandle;
  /** Foreground classes (cls_score has numClasses + 1 outputs, background last). */
  numClasses: number;
  /** Channels of the pooled features (FPN out). */
  channels: number;
  resolution: number;
  release(): void;
}

function tensor(w: DetectorWeights, name: string): HostTensor & { data: Float32Array } {
  const t = w.tensors.get(name);
  if (!t) throw new HeadsError(`detector weights lack '${name}'`);
  if (!(t.data instanceof Float32Array)) throw new HeadsError(`'${name}' must be float32`);
  return t as HostTensor & { data: Float32Array };
}

/** Upload the box head (fc1..fcN), cls_score and bbox_pred as 1x1 convs. Widths come from the checkpoint. */
export function prepareHeads<T extends Tensor>(ops: HeadOps<T>, weights: DetectorWeights): HeadsHandle {
  const arch = weights.config;
  const P = arch.poolerResolution;
  const C = arch.fpnOut;
  let fin = C * P * P;
  const fcs: ConvHandle[] = [];
  const fc = (name: string, out: number, label: string): ConvHandle => {
    const wt = tensor(weights, `${name}.weight`),
      b = tensor(weights, `${name}.bias`);
    if (wt.shape.length !== 2 || wt.shape[0] !== out || wt.shape[1] !== fin) {
      throw new HeadsError(`'${name}.weight' has shape [${wt.shape.join(',')}], expected [${out},${fin}]`);
    }
    return ops.prepareConv(wt.data, [out, fin, 1, 1], b.data, { label });
  };
  arch.fcDims.forEach((d, i) => {
    fcs.push(fc(`roi_heads.box_head.fc${i + 1}`, d, `fc${i + 1}`));
    fin = d;
  });
  const clsScore = fc('roi_heads.box_predictor.cls_score', arch.numClasses + 1, 'cls_score');
  const bboxPred = fc('roi_heads.box_predictor.bbox_pred', arch.numClasses * arch.boxDim, 'bbox_pred');
  return {
    fcs,
    clsScore,
    bboxPred,
    numClasses: arch.numClasses,
    channels: C,
    resolution: P,
    release() {
      for (const h of [...fcs, clsScore, bboxPred]) h.release();
    },
  };
}

export interface HeadsResult {
  detections: Detections;
  /** R*4 proposals (resized-image pixels) in logit order, and their objectness logits. */
  proposals: Float32Array;
  proposalLogits: Float32Array;
  /** ROI-heads boxes before detector_postprocess (resized coordinates), N*4, and their scores/classes. */
  resizedBoxes: Float32Array;
  resizedScores: Float32Array;
  resizedClasses: Int32Array;
}

export interface HeadsOptions {
  /** Receives intermediate arrays (row-major, shapes as in Detectron2) under the golden file names. */
  dump?: (name: string, data: Float32Array, shape: number[]) => void | Promise<void>;
}

const cache = new WeakMap<object, WeakMap<DetectorWeights, HeadsHandle>>();

/** The prepared heads of (ops, weights), prepared on first use and kept (weights uploaded once per backend). */
export function cachedHeads<T extends Tensor>(ops: HeadOps<T>, weights: DetectorWeights): HeadsHandle {
  let m = cache.get(ops);
  if (!m) cache.set(ops, (m = new WeakMap()));
  let h = m.get(weights);
  if (!h) m.set(weights, (h = prepareHeads(ops, weights)));
  return h;
}

/** Release what cachedHeads/runHeads uploaded for (ops, weights). */
export function releaseCachedHeads(ops: object, weights: DetectorWeights): void {
  const m = cache.get(ops);
  m?.get(weights)?.release();
  m?.delete(weights);
}

/** [X,1,R] backend tensor → host [R][X]. */
async function rowsOf<T extends Tensor>(ops: HeadOps<T>, t: T): Promise<Float32Array> {
  const [X, , R] = t.shape as [number, number, number];
  const chw = await ops.toCHW(t);
  const out = new Float32Array(X * R);
  for (let x = 0; x < X; x++) for (let r = 0; r < R; r++) out[r * X + x] = chw[x * R + r]!;
  return out;
}

function checkConfig(cfg: DetectorConfig, numLevels: number): void {
  if (cfg.anchorSizes.length !== numLevels)
    throw new HeadsError(`config has anchor sizes for ${cfg.anchorSizes.length} levels, the RPN produced ${numLevels}`);
  for (const [k, v] of Object.entries({
    rpnPreNmsTopK: cfg.rpnPreNmsTopK,
    rpnPostNmsTopK: cfg.rpnPostNmsTopK,
    detectionsPerImage: cfg.detectionsPerImage,
    poolerResolution: cfg.poolerResolution,
  })) {
    if (!Number.isInteger(v) || v <= 0) throw new HeadsError(`config ${k} must be a positive integer, got ${v}`);
  }
}

/**
 * Run the heads on the FPN outputs of one image. `heads` is a prepared handle (prepareHeads) or the weights (then
 * prepared on first use and cached per (ops, weights): see cachedHeads / releaseCachedHeads).
 */
export async function runHeads<T extends Tensor>(
  ops: HeadOps<T>,
  fpn: FpnOutputs<T>,
  sizes: ImageSizes,
  heads: HeadsHandle | DetectorWeights,
  cfg: DetectorConfig,
  opts: HeadsOptions = {},
): Promise<HeadsResult> {
  const h = 'tensors' in heads ? cachedHeads(ops, heads) : heads;
  return run(ops, fpn, sizes, h, cfg, opts);
}

async function run<T extends Tensor>(
  ops: HeadOps<T>,
  fpn: FpnOutputs<T>,
  sizes: ImageSizes,
  h: HeadsHandle,
  cfg: DetectorConfig,
  opts: HeadsOptions,
): Promise<HeadsResult> {
  const dump = opts.dump;
  const L = fpn.rpnObjectness.length;
  if (fpn.rpnDeltas.length !== L) throw new HeadsError(`${L} objectness maps but ${fpn.rpnDeltas.length} delta maps`);
  checkConfig(cfg, L);
  if (cfg.poolerResolution !== h.resolution)
    throw new HeadsError(`config pooler resolution ${cfg.poolerResolution} differs from the checkpoint's ${h.resolution}`);
  const imageHW: [number, number] = [sizes.resized[0], sizes.resized[1]];

  const levels = fpn.rpnObjectness.map((t, i) => {
    const cell = cellAnchors(cfg.anchorSizes[i]!, cfg.anchorAspectRatios);
    if (t.shape[0] !== cell.length / 4)
      throw new HeadsError(`level ${i}: ${t.shape[0]} objectness channels but ${cell.length / 4} anchors per cell`);
    return { cellAnchors: cell, stride: FPN_STRIDES[i] ?? 4 * 2 ** i };
  });
  const props = await ops.rpnProposals(fpn.rpnObjectness, fpn.rpnDeltas, {
    levels,
    preNmsTopK: cfg.rpnPreNmsTopK,
    postNmsTopK: cfg.rpnPostNmsTopK,
    nmsThresh: cfg.rpnNmsThresh,
    minSize: cfg.rpnMinSize,
    imageHW,
    weights: cfg.bboxRegWeightsRpn,
    scaleClamp: SCALE_CLAMP,
  });
  const R = props.count;
  await dump?.('proposals_boxes', props.hostBoxes, [R, 4]);
  await dump?.('proposals_logits', props.hostLogits, [R]);
  const empty = { boxes: new Float32Array(0), scores: new Float32Array(0), classes: new Int32Array(0) };
  if (R === 0) {
    ops.release(props.boxes);
    return {
      detections: empty,
      proposals: props.hostBoxes,
      proposalLogits: props.hostLogits,
      resizedBoxes: empty.boxes,
      resizedScores: empty.scores,
      resizedClasses: empty.classes,
    };
  }

  const f = fpn.features;
  const pooledLevels = [f.p2, f.p3, f.p4, f.p5];
  const lv = assignLevels(props.hostBoxes, R, 2, 5);
  const P = h.resolution;
  let x = ops.roiAlign(pooledLevels, props.boxes, R, lv, {
    scales: [0, 1, 2, 3].map((i) => 1 / FPN_STRIDES[i]!),
    resolution: P,
    samplingRatio: cfg.poolerSamplingRatio,
    aligned: true,
  });
  if (dump) {
    const n = Math.min(R, 100),
      X = h.channels * P * P;
    await dump('roi_pooled_first100', (await rowsOf(ops, x)).slice(0, n * X), [n, h.channels, P, P]);
  }
  for (const fc of h.fcs) {
    const y = ops.conv2d(x, fc, { relu: true, label: 'box_head.fc' });
    ops.release(x);
    x = y;
  }
  if (dump) await dump('box_head_features', await rowsOf(ops, x), [R, x.shape[0]!]);
  const logits = ops.conv2d(x, h.clsScore, { label: 'cls_score' });
  const deltas = ops.conv2d(x, h.bboxPred, { label: 'bbox_pred' });
  ops.release(x);
  const probs = ops.softmaxRows(logits);
  const K = h.numClasses + 1;
  if (dump) {
    await dump('box_cls_logits', await rowsOf(ops, logits), [R, K]);
    await dump('box_cls_probs', await rowsOf(ops, probs), [R, K]);
    await dump('box_deltas', await rowsOf(ops, deltas), [R, deltas.shape[0]!]);
  }
  ops.release(logits);
  const raw = await ops.boxDetections(probs, deltas, props.boxes, R, {
    weights: cfg.bboxRegWeightsRoi,
    scaleClamp: SCALE_CLAMP,
    scoreThresh: cfg.scoreThresh,
    nmsThresh: cfg.nmsThresh,
    topK: cfg.detectionsPerImage,
    imageHW,
  });
  ops.release(probs, deltas, props.boxes);
  const N = raw.scores.length;
  await dump?.('detections_resized_boxes', raw.boxes, [N, 4]);
  const detections = detectorPostprocess(raw.boxes, raw.scores, raw.classes, imageHW, sizes.original);
  return {
    detections,
    proposals: props.hostBoxes,
    proposalLogits: props.hostLogits,
    resizedBoxes: raw.boxes,
    resizedScores: raw.scores,
    resizedClasses: raw.classes,
  };
}
