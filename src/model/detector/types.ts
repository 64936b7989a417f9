/**
 * Shared types of the Detectron2 Faster R-CNN R50-FPN detector: the dense part (preprocessing, backbone, FPN, RPN head
 * convs) hands `FpnOutputs` to the sparse part (`src/model/detector/heads/`), which returns `Detections`.
 */

/** Test-time configuration; field names follow Detectron2's config keys. */
export interface DetectorConfig {
  /** INPUT.MIN_SIZE_TEST: short side after resizing. */
  minSize: number;
  /** INPUT.MAX_SIZE_TEST: upper bound on the long side after resizing. */
  maxSize: number;
  /** Method 2 resize: each side rounded to the nearest multiple of 256 (ties up, min 256), no padding. */
  method2: boolean;
  /** MODEL.PIXEL_MEAN in BGR order (PIXEL_STD is 1). */
  pixelMean: [number, number, number];
  /** backbone.size_divisibility (32 for FPN): zero padding of the normalised input. */
  sizeDivisibility: number;
  /** MODEL.ANCHOR_GENERATOR.SIZES: one list per FPN level p2..p6. */
  anchorSizes: number[][];
  /** MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS (shared by all levels). */
  anchorAspectRatios: number[];
  /** MODEL.RPN.PRE_NMS_TOPK_TEST (per level). */
  rpnPreNmsTopK: number;
  /** MODEL.RPN.POST_NMS_TOPK_TEST. */
  rpnPostNmsTopK: number;
  /** MODEL.RPN.NMS_THRESH. */
  rpnNmsThresh: number;
  /** MODEL.PROPOSAL_GENERATOR.MIN_SIZE. */
  rpnMinSize: number;
  /** MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION. */
  poolerResolution: number;
  /** MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO (0 = adaptive). */
  poolerSamplingRatio: number;
  /** MODEL.ROI_HEADS.SCORE_THRESH_TEST. */
  scoreThresh: number;
  /** MODEL.ROI_HEADS.NMS_THRESH_TEST. */
  nmsThresh: number;
  /** TEST.DETECTIONS_PER_IMAGE. */
  detectionsPerImage: number;
  /** MODEL.RPN.BBOX_REG_WEIGHTS. */
  bboxRegWeightsRpn: [number, number, number, number];
  /** MODEL.ROI_BOX_HEAD.BBOX_REG_WEIGHTS. */
  bboxRegWeightsRoi: [number, number, number, number];
}

/** Detectron2 defaults for COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml at test time. */
export const DEFAULT_DETECTOR_CONFIG: DetectorConfig = Object.freeze({
  minSize: 800,
  maxSize: 1333,
  method2: false,
  pixelMean: [103.53, 116.28, 123.675] as [number, number, number],
  sizeDivisibility: 32,
  anchorSizes: [[32], [64], [128], [256], [512]],
  anchorAspectRatios: [0.5, 1.0, 2.0],
  rpnPreNmsTopK: 1000,
  rpnPostNmsTopK: 1000,
  rpnNmsThresh: 0.7,
  rpnMinSize: 0,
  poolerResolution: 7,
  poolerSamplingRatio: 0,
  scoreThresh: 0.05,
  nmsThresh: 0.5,
  detectionsPerImage: 100,
  bboxRegWeightsRpn: [1, 1, 1, 1] as [number, number, number, number],
  bboxRegWeightsRoi: [10, 10, 5, 5] as [number, number, number, number],
}) as DetectorConfig;

/** Image sizes through preprocessing, each [H, W]. */
export interface ImageSizes {
  original: [number, number];
  /** h, w after resizing, before padding. */
  resized: [number, number];
  /** h, w of the network input (after zero padding to sizeDivisibility; equals `resized` with method 2). */
  padded: [number, number];
}

/** Final detections. */
export interface Detections {
  /** N*4: x1, y1, x2, y2 in original-image pixels. */
  boxes: Float32Array;
  scores: Float32Array;
  /** Contiguous class indices 0..79. */
  classes: Int32Array;
}

/** What the dense part hands to the heads. Tensors are backend tensors ([C,H,W]). */
export interface FpnOutputs<T> {
  features: { p2: T; p3: T; p4: T; p5: T; p6: T };
  /** Per level p2..p6: [A, Hi, Wi]. */
  rpnObjectness: T[];
  /** Per level p2..p6: [A*4, Hi, Wi]. */
  rpnDeltas: T[];
}

/** Receives an intermediate (float32 NCHW with a leading batch 1 where Detectron2 has one), named as in the golden manifest. */
export type DumpFn = (name: string, data: Float32Array | Int32Array, shape: number[]) => void | Promise<void>;
