// Public types of the weight loader (see docs/weights.md).
import type { CodecArchitecture } from '../codec/registry.ts';

/** A tensor in host memory. `data` may be a view into the buffer the checkpoint was read from. C order. */
export interface HostTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

export type CheckpointFormat = 'torch-zip' | 'pickle' | 'safetensors';

export interface RawCheckpoint {
  format: CheckpointFormat;
  /** Every tensor/array of the file, flattened to dotted names (torch state dict or detectron2 "model" dict). */
  tensors: Map<string, HostTensor>;
  /** safetensors `__metadata__`, or scalar entries of a pickle (e.g. `__author__`). */
  metadata?: Record<string, string>;
}

export type WeightSource = Uint8Array | ArrayBuffer | string | URL | Blob;

export interface LoadOptions {
  /** Called as bytes arrive: `total` is undefined when the server sends no Content-Length. */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Abort a download. */
  signal?: AbortSignal;
  /**
   * What errors call this source, e.g. `'--codec'` or `'codec'` (the option that named it). A CheckpointError's
   * message then starts with it and the source (path, URL or file name): "--codec weights/x.safetensors: …".
   */
  label?: string;
}

export interface CodecConfig {
  /** The CompressAI model (src/model/codec/registry.ts), recognised from the state dict's keys and shapes. */
  architecture: CodecArchitecture;
  C: number;
  N: number;
  M: number;
}

export interface CodecWeights extends CodecConfig {
  kind: 'compressai-hyperprior';
  tensors: Map<string, HostTensor>;
  /** SHA-256 of the canonical tensors (docs/weights.md), first 16 bytes. */
  fingerprint: Uint8Array;
}

export interface DetectorStage {
  name: 'res2' | 'res3' | 'res4' | 'res5';
  blocks: number;
  bottleneck: number;
  out: number;
  inFirst: number;
  firstStride: number;
}

export interface DetectorArch {
  stemOut: number;
  stages: DetectorStage[];
  fpnOut: number;
  numAnchors: number;
  boxDim: number;
  fcDims: number[];
  poolerResolution: number;
  numClasses: number;
}

export interface DetectorWeights {
  kind: 'detectron2-rcnn-fpn';
  config: DetectorArch;
  tensors: Map<string, HostTensor>;
  fingerprint: Uint8Array;
  /**
   * Class names stored in the checkpoint (index = contiguous class id, length = numClasses), when it has them.
   * `classNamesOf(weights)` gives the names with the fallback (COCO names for 80 classes, else class_<k>).
   */
  classNames?: string[];
  /**
   * The input size the detector was trained for (Detectron2's INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST), from the
   * checkpoint's `input_min_size` / `input_max_size` metadata; used when the caller gives no minSize/maxSize.
   */
  inputSize?: { minSize: number; maxSize: number };
}

export type ModelWeights = CodecWeights | DetectorWeights;
