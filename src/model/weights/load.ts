// Public loaders: any supported file -> validated canonical CodecWeights / DetectorWeights, and back to .safetensors.
import { readCheckpoint } from './checkpoint.ts';
import { convertCompressAI, isCanonicalCodec, isCompressAIStateDict, validateCanonicalCodec } from './codec.ts';
import { convertDetectron2, isCanonicalDetector, isDetectronStateDict, validateCanonicalDetector } from './detector.ts';
import { parseClassNames, parseInputSize } from './class-names.ts';
import { CheckpointError, WrongModelKindError } from './errors.ts';
import { fingerprintTensors, initHash, toHex } from './hash.ts';
import { writeSafetensors } from './safetensors.ts';
import { readSource } from './source.ts';
import { checkFinite } from './tensor.ts';
import type { CodecWeights, DetectorWeights, LoadOptions, ModelWeights, RawCheckpoint, WeightSource } from './types.ts';

export const CONVERTED_FORMAT = 'webvcm-weights/1';
export const CONVERTER_VERSION = 'webvcm-convert 0.1.0';

export type ModelKind = ModelWeights['kind'];

/** Which model a raw checkpoint holds, or undefined. */
export function detectKind(raw: RawCheckpoint): ModelKind | undefined {
  const k = raw.metadata?.kind;
  if (k === 'compressai-hyperprior' || k === 'detectron2-rcnn-fpn') return k;
  if (isCanonicalCodec(raw.tensors) || isCompressAIStateDict(raw.tensors)) return 'compressai-hyperprior';
  if (isCanonicalDetector(raw.tensors) || isDetectronStateDict(raw.tensors)) return 'detectron2-rcnn-fpn';
  return undefined;
}

function kindError(want: ModelKind, raw: RawCheckpoint): WrongModelKindError {
  const got = detectKind(raw);
  const first = [...raw.tensors.keys()].slice(0, 3).join(', ');
  return new WrongModelKindError(
    got
      ? `expected a ${want} checkpoint but this file holds ${got} weights`
      : `expected a ${want} checkpoint; this ${raw.format} file holds neither CompressAI nor Detectron2 weights (first tensors: ${first})`,
  );
}

function checkStoredFingerprint(raw: RawCheckpoint, fp: Uint8Array): void {
  const stored = raw.metadata?.fingerprint;
  if (raw.format === 'safetensors' && stored && stored !== toHex(fp)) {
    throw new CheckpointError('BAD_SAFETENSORS', `tensor fingerprint ${toHex(fp)} differs from the stored ${stored}: the file was modified or damaged`);
  }
}

export function codecWeightsFromRaw(raw: RawCheckpoint): CodecWeights {
  if (detectKind(raw) !== 'compressai-hyperprior') throw kindError('compressai-hyperprior', raw);
  let cfg;
  let tensors;
  if (isCanonicalCodec(raw.tensors)) {
    cfg = validateCanonicalCodec(raw.tensors);
    tensors = raw.tensors;
  } else {
    ({ config: cfg, tensors } = convertCompressAI(raw.tensors));
  }
  checkFinite(tensors);
  const fingerprint = fingerprintTensors(tensors);
  checkStoredFingerprint(raw, fingerprint);
  return { kind: 'compressai-hyperprior', architecture: cfg.architecture, C: cfg.C, N: cfg.N, M: cfg.M, tensors, fingerprint };
}

export function detectorWeightsFromRaw(raw: RawCheckpoint, source?: Uint8Array): DetectorWeights {
  if (detectKind(raw) !== 'detectron2-rcnn-fpn') throw kindError('detectron2-rcnn-fpn', raw);
  let config;
  let tensors;
  if (isCanonicalDetector(raw.tensors)) {
    config = validateCanonicalDetector(raw.tensors);
    tensors = raw.tensors;
  } else {
    checkFinite(raw.tensors); // before folding, so the error names the stored tensor
    ({ config, tensors } = convertDetectron2(raw.tensors, (t) => source !== undefined && t.data.buffer !== source.buffer));
  }
  checkFinite(tensors);
  const fingerprint = fingerprintTensors(tensors);
  checkStoredFingerprint(raw, fingerprint);
  const classNames = parseClassNames(raw.metadata, config.numClasses);
  const inputSize = parseInputSize(raw.metadata);
  return { kind: 'detectron2-rcnn-fpn', config, tensors, fingerprint, ...(classNames ? { classNames } : {}), ...(inputSize ? { inputSize } : {}) };
}

/** How errors name a source: the option label and the path, URL or file name (bytes have none). */
export function describeSource(source: WeightSource, label?: string): string {
  let name = '';
  if (typeof source === 'string') name = source;
  else if (typeof URL !== 'undefined' && source instanceof URL) name = source.href;
  else if (typeof (source as unknown as { name?: unknown }).name === 'string') name = (source as unknown as { name: string }).name;
  return [label, name].filter(Boolean).join(' ');
}

/** Run a load step; a CheckpointError's message is prefixed with the source's name (its class and code are kept). */
async function naming<T>(source: WeightSource, opts: LoadOptions, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const full = describeSource(source, opts.label);
    // a message that already names the file (e.g. "cannot read <path>: ENOENT") gets only the label
    const name = describeSource(source);
    const who = name && e instanceof Error && e.message.includes(name) ? (opts.label ?? '') : full;
    if (e instanceof CheckpointError && who && !e.message.startsWith(who)) e.message = `${who}: ${e.message}`;
    throw e;
  }
}

/** Load any supported codec checkpoint (.pth.tar, converted .safetensors) from bytes, a Blob, a path or a URL. */
export async function loadCodecWeights(source: WeightSource, opts: LoadOptions = {}): Promise<CodecWeights> {
  return naming(source, opts, async () => {
    const [bytes] = await Promise.all([readSource(source, opts), initHash()]);
    return codecWeightsFromRaw(readCheckpoint(bytes));
  });
}

/** Load any supported detector checkpoint (model-zoo .pkl, converted .safetensors). */
export async function loadDetectorWeights(source: WeightSource, opts: LoadOptions = {}): Promise<DetectorWeights> {
  return naming(source, opts, async () => {
    const [bytes] = await Promise.all([readSource(source, opts), initHash()]);
    return detectorWeightsFromRaw(readCheckpoint(bytes), bytes);
  });
}

/** Load whichever model the file holds. */
export async function loadWeights(source: WeightSource, opts: LoadOptions = {}): Promise<ModelWeights> {
  return naming(source, opts, () => loadAny(source, opts));
}

async function loadAny(source: WeightSource, opts: LoadOptions): Promise<ModelWeights> {
  const [bytes] = await Promise.all([readSource(source, opts), initHash()]);
  const raw = readCheckpoint(bytes);
  const kind = detectKind(raw);
  if (kind === 'compressai-hyperprior') return codecWeightsFromRaw(raw);
  if (kind === 'detectron2-rcnn-fpn') return detectorWeightsFromRaw(raw, bytes);
  throw new WrongModelKindError(`this ${raw.format} file holds neither CompressAI hyperprior nor Detectron2 R-CNN FPN weights`);
}

export function weightsConfig(w: ModelWeights): object {
  return w.kind === 'compressai-hyperprior' ? { architecture: w.architecture, C: w.C, N: w.N, M: w.M } : w.config;
}

/** Serialize canonical weights as .safetensors with webvcm metadata (docs/weights.md). */
export function convertToSafetensors(w: CodecWeights | DetectorWeights, sourceSha256: string): Uint8Array {
  const meta: Record<string, string> = {
    format: CONVERTED_FORMAT,
    kind: w.kind,
    config: JSON.stringify(weightsConfig(w)),
    source_sha256: sourceSha256,
    converter: CONVERTER_VERSION,
    fingerprint: toHex(w.fingerprint),
  };
  if (w.kind === 'detectron2-rcnn-fpn' && w.classNames) meta.class_names = JSON.stringify(w.classNames);
  if (w.kind === 'detectron2-rcnn-fpn' && w.inputSize) {
    meta.input_min_size = String(w.inputSize.minSize);
    meta.input_max_size = String(w.inputSize.maxSize);
  }
  return writeSafetensors(w.tensors, meta);
}
