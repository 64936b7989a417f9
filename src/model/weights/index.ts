// Public API of the weight loader (docs/weights.md).
export type {
  CheckpointFormat,
  CodecConfig,
  CodecWeights,
  DetectorArch,
  DetectorStage,
  DetectorWeights,
  HostTensor,
  LoadOptions,
  ModelWeights,
  RawCheckpoint,
  WeightSource,
} from './types.ts';
export * from './errors.ts';
export { readCheckpoint, detectFormat } from './checkpoint.ts';
export {
  loadCodecWeights,
  loadDetectorWeights,
  loadWeights,
  codecWeightsFromRaw,
  detectorWeightsFromRaw,
  convertToSafetensors,
  detectKind,
  weightsConfig,
  CONVERTED_FORMAT,
  CONVERTER_VERSION,
} from './load.ts';
export { readSource } from './source.ts';
export { readSafetensors, writeSafetensors } from './safetensors.ts';
export { gdnEffective, normalizeCompressAIKey } from './codec.ts';
export { foldFrozenBN, inferDetectorArch } from './detector.ts';
export { createSha256, fingerprintTensors, initHash, toHex } from './hash.ts';
export { ClassNamesError, classNamesOf, defaultClassNames, parseClassNames, validateClassNames } from './class-names.ts';
