/**
 * HeadOps: the op set of the sparse half of the detector (RPN proposal selection, ROIAlign, box inference), on top of
 * the core Backend (whose conv2d runs the box head's FC layers as 1x1 convs over ROIs-as-pixels). Implemented by
 * src/gpu/heads-backend.ts (WGSL kernels, only small final arrays read back) and src/cpu/heads-backend.ts (plain TS).
 *
 * Tensor conventions (logical shapes; each backend keeps its own storage order):
 * - RPN maps per level: objectness [A,H,W], deltas [4A,H,W] (channel a*4 + k).
 * - Proposals: [≥R,4] flat XYXY in resized-image pixels (rows past R are padding).
 * - ROI features / FC activations / logits / deltas: [X, 1, R] feature maps (one "pixel" per ROI).
 */
import type { Backend, Tensor } from '../../backend.ts';

export interface RpnLevelSpec {
  /** Cell anchors [A,4] (x1,y1,x2,y2 around 0), float32. */
  cellAnchors: Float32Array;
  stride: number;
}

export interface RpnSpec {
  levels: RpnLevelSpec[];
  preNmsTopK: number;
  postNmsTopK: number;
  nmsThresh: number;
  minSize: number;
  /** Resized (unpadded) image size [h, w], for clipping. */
  imageHW: [number, number];
  weights: [number, number, number, number];
  scaleClamp: number;
}

export interface Proposals<T> {
  /** [≥count, 4] on the backend (consumed by roiAlign and boxDetections). */
  boxes: T;
  count: number;
  /** count*4 boxes and count logits on the host, in score order. */
  hostBoxes: Float32Array;
  hostLogits: Float32Array;
}

export interface RoiAlignSpec {
  /** 1/stride of each pooled level (p2..p5). */
  scales: number[];
  resolution: number;
  samplingRatio: number;
  aligned: boolean;
}

export interface BoxInferenceSpec {
  weights: [number, number, number, number];
  scaleClamp: number;
  scoreThresh: number;
  nmsThresh: number;
  topK: number;
  imageHW: [number, number];
}

/** ROI-heads output in resized-image coordinates, score descending. */
export interface RawDetections {
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array;
}

export interface HeadOps<T extends Tensor> extends Backend<T> {
  /** RPN: per-level top-k by logit, decode (clamp), clip, min-size filter, per-level NMS, post-NMS top-k. */
  rpnProposals(objectness: T[], deltas: T[], spec: RpnSpec): Promise<Proposals<T>>;
  /** ROIAlign of the first `count` proposals; `levels` (host, 0-based into `features`) per proposal. → [C*P*P, 1, count]. */
  roiAlign(features: T[], proposals: T, count: number, levels: Int32Array, spec: RoiAlignSpec): T;
  /** Softmax over the channels of a [K, 1, R] tensor (per ROI). */
  softmaxRows(logits: T): T;
  /** probs [K,1,R] (background last), deltas [(K−1)*4,1,R] → per-class decode, clip, threshold, per-class NMS, top-k. */
  boxDetections(probs: T, deltas: T, proposals: T, count: number, spec: BoxInferenceSpec): Promise<RawDetections>;
}
