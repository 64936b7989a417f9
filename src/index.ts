/// <reference types="@webgpu/types" preserve="true" />
/**
 * webvcm — feature coding for machines on WebGPU. Main entry: the library API plus the building blocks
 * (GPU runtime, rANS coder and container, weight loading, models, COCO evaluation).
 */
export {
  createEncoder,
  createDecoder,
  VcmEncoder,
  VcmDecoder,
  type EncoderOptions,
  type DecoderOptions,
  type EncodeResult,
  type EncodeOptions,
  type DecodeResult,
  type LoadProgress,
  type ImageInput,
  createRuntime,
  VcmRuntime,
  type RuntimeOptions,
  type AdapterChoice,
  type GpuBufferStats,
  inspectStream,
  isVcmStream,
  parseStream,
  type ParsedStream,
  type StreamReport,
  detectionsToJson,
  detectionsFromJson,
  DetectionsJsonError,
  DETECTIONS_FORMAT,
  DETECTIONS_VERSION,
  type DetectionsJson,
} from './api/index.ts';
export { VcmError, errorKind, type VcmErrorKind } from './util/errors.ts';
export { toBgrImage } from './api/image-input.ts';

export * from './coder/index.ts';
export { GpuContext, type ContextOptions } from './gpu/context.ts';
export { GpuTensor } from './gpu/tensor.ts';
export { GpuError, GpuUnavailableError, GpuValidationError, GpuDeviceLostError, GpuShapeError } from './gpu/errors.ts';
export { GpuBackend } from './gpu/backend.ts';
export { CpuBackend } from './cpu/backend.ts';
export type { Backend, Tensor } from './model/backend.ts';
export type { Precision } from './util/f16.ts';

export { loadCodecWeights, loadDetectorWeights, loadWeights, convertToSafetensors } from './model/weights/load.ts';
export type { CodecWeights, DetectorWeights, DetectorArch, HostTensor, WeightSource } from './model/weights/types.ts';
export { CheckpointError } from './model/weights/errors.ts';
export { ClassNamesError, classNamesOf, defaultClassNames } from './model/weights/class-names.ts';

export { Detector } from './model/detector/detector.ts';
export { DEFAULT_DETECTOR_CONFIG, type DetectorConfig, type Detections, type ImageSizes } from './model/detector/types.ts';
export type { BgrImage } from './model/detector/preprocess.ts';
export { HyperpriorCodec, type CodecMode, type RateOptions } from './model/codec/codec.ts';
export { CODEC_ARCHITECTURES, CODEC_MODELS, VBR_ARCHITECTURES, type CodecArchitecture } from './model/codec/registry.ts';
export type { RateSearch } from './model/codec/rate.ts';

export { evaluateBoxes, type CocoStats } from './eval/cocoeval.ts';
export { COCO_CLASS_NAMES, COCO_CATEGORY_IDS, toCocoResults } from './eval/coco-categories.ts';
export {
  createRemoteDecoder,
  RemoteDecoder,
  RemoteError,
  type RemoteDecodeResult,
  type RemoteDecoderOptions,
  type RemoteStream,
  type StreamMessage,
} from './client/remote.ts';
export { RateController, RateControlError, type RateControllerOptions, type RateStats } from './client/rate-controller.ts';
