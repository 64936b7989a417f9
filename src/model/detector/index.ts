/** Detectron2 Faster R-CNN R50-FPN (test time) with the stem split: public entry points. */
export * from './types.ts';
export { resolveDetectorConfig } from './config.ts';
export {
  DetectorInputError, MAX_RESIZED_PIXELS, checkBgrImage, imageSizes, normalizeAndPad, pillowResizeBilinear, resizeForDetector, resizedSize, roundTo256, shortestEdgeSize,
  type BgrImage,
} from './preprocess.ts';
export { DetectorWeightsError, FPN_LEVELS, prepareBackbone, releaseFpn, runFromStem, runStem, type BackboneHandles } from './backbone.ts';
export { Detector, dequantizeStem, type DetectOptions, type DumpFn, type HeadsFn, type HeadsResult } from './detector.ts';
export { defaultHeads } from './heads-adapter.ts';
export type { DetectorOps } from './ops.ts';
export { r50FpnArch, randomDetectorWeights } from './random-weights.ts';
