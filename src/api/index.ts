/**
 * The library API: an encoder (client side: image → stem features → 8-bit quantization → hyperprior codec →
 * bitstream container) and a decoder (receiver side: container → features → res2…ROI heads → detections).
 *
 *   const enc = await createEncoder({ detector: url, codec: url, method: 2, mode: 'portable' });
 *   const { bytes, bpp } = await enc.encode(imageFileBytes);
 *   const dec = await createDecoder({ detector: url, codec: url });
 *   const { detections } = await dec.decode(bytes);
 *
 * Both run on the caller's GPUDevice when given one (`device`), keep no global state, and `dispose()` frees every
 * GPU resource they made (a caller's device is left alive).
 */
import type { Tensor } from '../model/backend.ts';
import type { CodecOps } from '../model/codec/ops.ts';
import type { DetectorBackend } from '../model/detector/heads-adapter.ts';
import { parseBackend, type BackendChoice, type BackendKind, type RuntimeRole } from './backend-choice.ts';
import { createRuntime, type AdapterChoice, type GpuBufferStats, type VcmRuntime } from './runtime.ts';
import { VcmError } from '../util/errors.ts';
import { HyperpriorCodec, type CodecMode } from '../model/codec/codec.ts';
import { encodeFeatures, decodeFeatures } from '../model/codec/features.ts';
import { checkTargetBpp, type RateSearch } from '../model/codec/rate.ts';
import { Detector } from '../model/detector/detector.ts';
import { defaultHeads } from '../model/detector/heads-adapter.ts';
import type { Detections, DetectorConfig, ImageSizes } from '../model/detector/types.ts';
import { classNamesOf } from '../model/weights/class-names.ts';
import { loadCodecWeights, loadDetectorWeights } from '../model/weights/load.ts';
import type { CodecWeights, DetectorWeights, WeightSource } from '../model/weights/types.ts';
import type { ImageInput } from './image-input.ts';
import { isGpuImage, resizeNormalizeImage, type GpuImage } from '../gpu/ops/resize.ts';
import { warmupContext } from '../gpu/backend.ts';
import type { WarmupReport } from '../model/backend.ts';
import { imageSizes } from '../model/detector/preprocess.ts';
import { readContainer } from '../coder/container.ts';
import { parsedFields, type ParsedStream } from './inspect-stream.ts';
import type { BgrImage } from '../io/bgr.ts';
import { parsePrecision, type Precision } from '../util/f16.ts';

export type { ImageInput } from './image-input.ts';
export { inspectStream, isVcmStream, parseStream, type ParsedStream, type StreamReport } from './inspect-stream.ts';
export { CONTAINER_HEADER_BYTES } from '../coder/container.ts';
export {
  detectionsToJson,
  detectionsFromJson,
  DetectionsJsonError,
  DETECTIONS_FORMAT,
  DETECTIONS_VERSION,
  type DetectionsJson,
} from './detections-json.ts';
export { createRuntime, VcmRuntime, ADAPTER_CHOICES, type AdapterChoice, type GpuBufferStats, type RuntimeOptions } from './runtime.ts';
export { BackendChoiceError, decideBackend, type BackendChoice, type BackendDecision, type BackendKind } from './backend-choice.ts';

export interface LoadProgress {
  file: 'detector' | 'codec';
  loaded: number;
  total?: number;
}

interface CommonOptions {
  /** Detector weights: a URL / path / bytes / File of a model-zoo .pkl or converted .safetensors, or loaded weights. */
  detector: WeightSource | DetectorWeights;
  /** Codec weights: CompressAI .pth.tar state dict or converted .safetensors, or loaded weights. */
  codec: WeightSource | CodecWeights;
  /**
   * Run on this runtime (createRuntime), shared with other encoders/decoders: one device, one pipeline cache, one
   * buffer pool. The instance never disposes it. Without it the instance makes and owns its own runtime (from the
   * options below).
   */
  runtime?: VcmRuntime;
  /** Run on this device (embedding; left alive by dispose()); otherwise one is acquired (navigator.gpu, or Dawn in Node). */
  device?: GPUDevice;
  /** Which adapter to acquire when neither `runtime` nor `device` is given (Node: lavapipe | swiftshader | system); default 'auto'. */
  adapter?: AdapterChoice;
  /**
   * 'webgpu', 'wasm' (WebAssembly SIMD, no GPU needed) or 'auto' (default; $WEBVCM_BACKEND in Node when set): WebGPU
   * when an adapter exists, else wasm with a one-line notice; in Node also wasm over a software adapter (lavapipe,
   * SwiftShader), where it is measured faster. The choice and its reason: `backend` / `backendReason`.
   */
  backend?: BackendChoice;
  /**
   * wasm backend: kernel threads (the caller + workers on a shared memory). Default: every hardware thread where
   * workers can share memory (Node, or a cross-origin-isolated page), else 1. Results do not depend on it.
   */
  threads?: number;
  /** Where auto's one-line fallback notice goes (default console.warn). */
  onNotice?: (line: string) => void;
  /** Detector resize (Detectron2 INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST); defaults 800 / 1333. */
  minSize?: number;
  maxSize?: number;
  /** Other detector settings (thresholds, …), Detectron2 defaults otherwise. */
  detectorConfig?: Partial<DetectorConfig>;
  /**
   * Detector conv precision (opt-in): 'f16' runs the detector's convolutions — the stem on the encoder, res2 onward,
   * the FPN, the RPN head and the box head on the decoder — with binary16 weights and operands and f32 accumulation.
   * Needs the adapter feature 'shader-f16' (GpuUnavailableError otherwise). The codec always runs in f32. Default 'f32'.
   * What it means and its measured accuracy cost: docs/kernels.md ("f16").
   */
  precision?: Precision;
  onProgress?: (p: LoadProgress) => void;
}

export interface EncoderOptions extends CommonOptions {
  /** 1: pad the stem features to multiples of 64; 2: resize the image to multiples of 256. Default 1. */
  method?: 1 | 2;
  /** 'compat': CompressAI-identical strings; 'portable': cross-device exact entropy parameters. Default 'compat'. */
  mode?: CodecMode;
}

export type DecoderOptions = CommonOptions;

/** Per-call options of `encode`. The rate options need a variable-rate codec (bmshj2018-hyperprior-vbr, mbt2018-mean-vbr). */
export interface EncodeOptions {
  returnFeatures?: boolean;
  /** Code at level s (gain |Gain[s]|). */
  level?: number;
  /** Code at this gain (any positive number; the model's level gains: `codecModel.gains`). */
  scale?: number;
  /** Find the gain whose strings reach this many bits per pixel of the original image (within 3 %, or the nearest achievable). */
  targetBpp?: number;
}

export interface EncodeResult {
  bytes: Uint8Array;
  bpp: { container: number; strings: number };
  /** The codec model and the gain the features were coded at (1 for a fixed-rate model). */
  codec: { architecture: string; gain: number };
  /** With `targetBpp`: the search (target, reached bpp, gain, within tolerance or clamped to the model's range). */
  rateSearch?: RateSearch;
  stringBytes: { y: number; z: number };
  sizes: ImageSizes;
  quant: { min: number; max: number };
  /** Milliseconds per stage (each stage synced). */
  timings: Record<string, number>;
  /** The stem feature map F (NCHW float32, batch dropped), when asked for. */
  features?: { data: Float32Array; shape: [number, number, number] };
}

/** The image size to warm up for (the original image, before the detector's resize). */
export interface WarmupOptions {
  height: number;
  width: number;
  /** Encoder: also warm the on-device resize that GPUTexture / VideoFrame inputs take. */
  gpuInput?: boolean;
}

export type { WarmupReport } from '../model/backend.ts';

export interface DecodeResult {
  detections: Detections;
  sizes: ImageSizes;
  timings: Record<string, number>;
  /** The decoded feature map F̂ (NCHW float32), when asked for. */
  features?: { data: Float32Array; shape: [number, number, number] };
}

function isLoaded<W extends { kind: string }>(x: unknown, kind: string): x is W {
  return (
    typeof x === 'object' && x !== null && (x as { kind?: string }).kind === kind && (x as { tensors?: unknown }).tensors instanceof Map
  );
}

async function loadBoth(o: CommonOptions): Promise<{ det: DetectorWeights; codec: CodecWeights }> {
  const prog = (file: LoadProgress['file']) => (loaded: number, total: number | undefined) => o.onProgress?.({ file, loaded, total });
  const det = isLoaded<DetectorWeights>(o.detector, 'detectron2-rcnn-fpn')
    ? o.detector
    : loadDetectorWeights(o.detector as WeightSource, { onProgress: prog('detector'), label: 'detector' });
  const codec = isLoaded<CodecWeights>(o.codec, 'compressai-hyperprior')
    ? o.codec
    : loadCodecWeights(o.codec as WeightSource, { onProgress: prog('codec'), label: 'codec' });
  const [d, c] = await Promise.all([det, codec]);
  return { det: d, codec: c };
}

/** The runtime an instance runs on (its own, or a shared one it must not dispose) + the two model backends over it. */
interface Runtime {
  runtime: VcmRuntime;
  owned: boolean;
  det: DetectorBackend<Tensor>;
  codec: CodecOps<Tensor>;
}

async function openRuntime(o: CommonOptions, role: RuntimeRole, precision: Precision): Promise<Runtime> {
  if (o.runtime && o.device) throw new VcmError('input', 'give runtime or device, not both (a runtime already has its device)');
  if (o.runtime?.isDisposed) throw new VcmError('input', 'the runtime was disposed');
  const runtime =
    o.runtime ??
    (await createRuntime({ device: o.device, adapter: o.adapter, backend: o.backend, threads: o.threads, onNotice: o.onNotice, role }));
  try {
    return { runtime, owned: !o.runtime, det: runtime.detectorBackend(precision), codec: runtime.codecBackend() };
  } catch (e) {
    if (!o.runtime) runtime.dispose();
    throw e;
  }
}

/** wasm: the kernels are compiled when the backend is made, so a warm-up has nothing to do. */
function nothingToWarm(): WarmupReport {
  return { planned: 0, compiled: 0, primed: 0, failed: [], planMs: 0, compileMs: 0, primeMs: 0, totalMs: 0 };
}

abstract class Base {
  protected disposed = false;
  protected constructor(
    protected readonly rt: Runtime,
    protected readonly detector: Detector<Tensor>,
    protected readonly codec: HyperpriorCodec<Tensor>,
    readonly detectorWeights: DetectorWeights,
    readonly codecWeights: CodecWeights,
  ) {}
  /** The GPUDevice this instance runs on (pass it to another encoder/decoder to share it). WebGPU backend only. */
  get device(): GPUDevice {
    return this.rt.runtime.device;
  }
  /** The WebGPU adapter (null on the wasm backend). */
  get adapter(): VcmRuntime['adapterInfo'] {
    return this.rt.runtime.adapterInfo;
  }
  /** The runtime this instance runs on (pass it as `runtime` to another encoder/decoder to share it). */
  get runtime(): VcmRuntime {
    return this.rt.runtime;
  }
  /** The backend this instance runs on, and why it was chosen. */
  get backend(): BackendKind {
    return this.rt.runtime.backend;
  }
  get backendReason(): string {
    return this.rt.runtime.backendReason;
  }
  /** Kernel threads on the wasm backend (0 on WebGPU). */
  get threads(): number {
    return this.rt.runtime.threads;
  }
  /** Class names, index = the contiguous class id in `detections.classes` (from the checkpoint, else COCO / class_<k>). */
  get classNames(): string[] {
    return classNamesOf(this.detectorWeights);
  }
  /** Distinct GPU pipelines compiled so far (a warm-up makes the first run add none). */
  get pipelineCount(): number {
    return this.rt.runtime.pipelineCount;
  }
  /** The codec's stream fingerprint: what `.vcm` containers carry and `webvcm inspect` prints (16 bytes). */
  get fingerprint(): Uint8Array {
    return this.codec.fingerprint;
  }
  /** The codec's sizes, for reports such as the server's /v1/models. */
  get codecShape(): { C: number; N: number; M: number } {
    return { C: this.codec.C, N: this.codec.N, M: this.codec.M };
  }
  /** GPU buffer pool counters (live/free buffers and bytes): flat over many calls when nothing leaks (zeros on wasm). */
  gpuBuffers(): GpuBufferStats {
    return this.rt.runtime.gpuBuffers();
  }
  protected check(): void {
    if (this.disposed) throw new VcmError('input', `${this.constructor.name} used after dispose()`);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.detector.dispose();
    this.codec.release();
    if (this.rt.owned) this.rt.runtime.dispose();
  }
}

async function build(
  o: CommonOptions,
  method2: boolean,
  role: RuntimeRole,
): Promise<[Runtime, Detector<Tensor>, HyperpriorCodec<Tensor>, DetectorWeights, CodecWeights]> {
  const precision = parsePrecision(o.precision, 'precision'); // before any loading: a typo fails at once
  parseBackend(o.backend);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 64))
    throw new VcmError('input', `threads must be an integer in 1..64, got ${String(o.threads)}`);
  const { det, codec } = await loadBoth(o);
  if (codec.C !== det.config.stemOut) {
    throw new VcmError('input', `the codec codes ${codec.C} channels but the detector's stem has ${det.config.stemOut}`);
  }
  const rt = await openRuntime(o, role, precision);
  try {
    const cfg: Partial<DetectorConfig> = { ...o.detectorConfig, method2 };
    const trained = det.inputSize;
    if (o.minSize !== undefined || trained) cfg.minSize = o.minSize ?? trained!.minSize;
    if (o.maxSize !== undefined || trained) cfg.maxSize = o.maxSize ?? trained!.maxSize;
    const detector = await Detector.create(det, rt.det, cfg, { heads: defaultHeads() });
    try {
      return [rt, detector, await HyperpriorCodec.create(codec, rt.codec), det, codec];
    } catch (e) {
      detector.dispose(); // on a shared runtime nothing else would free its weights
      throw e;
    }
  } catch (e) {
    if (rt.owned) rt.runtime.dispose();
    throw e;
  }
}

export class VcmEncoder extends Base {
  private constructor(
    rt: Runtime,
    d: Detector<Tensor>,
    c: HyperpriorCodec<Tensor>,
    dw: DetectorWeights,
    cw: CodecWeights,
    readonly method: 1 | 2,
    readonly mode: CodecMode,
  ) {
    super(rt, d, c, dw, cw);
  }

  static async create(o: EncoderOptions): Promise<VcmEncoder> {
    const method = o.method ?? 1;
    if (method !== 1 && method !== 2) throw new VcmError('input', `method must be 1 or 2, got ${String(method)}`);
    const mode = o.mode ?? 'compat';
    if (mode !== 'compat' && mode !== 'portable') throw new VcmError('input', `mode must be compat or portable, got ${String(mode)}`);
    const parts = await build(o, method === 2, 'encoder');
    return new VcmEncoder(...parts, method, mode);
  }

  /**
   * Compile every GPU pipeline an encode of a `height`×`width` image needs (planned without GPU work, compiled with
   * createComputePipelineAsync, all at once, and primed), so the first real encode runs at warm speed. Call it once
   * per input size (e.g. the camera's resolution) while nothing else is waiting.
   */
  async warmup(o: WarmupOptions): Promise<WarmupReport> {
    this.check();
    const { height, width } = checkWarmSize(o);
    const ctx = this.rt.runtime.ctx;
    if (!ctx) return nothingToWarm();
    return warmupContext(ctx, async () => {
      if (o.gpuInput) {
        const sizes = imageSizes(height, width, this.detector.cfg);
        const stride = Math.ceil((width * 4) / 256) * 256;
        const img: GpuImage = { kind: 'gpu-image', height, width, data: ctx.empty([(stride * height) / 4], 'u32'), stride, order: 'rgba' };
        resizeNormalizeImage(ctx, img, sizes.resized, sizes.padded, this.detector.cfg.pixelMean).release();
        img.data.release();
      }
      await this.encode({ height, width, data: new Uint8Array(height * width * 3) });
    });
  }

  /** The uncompressed reference: the whole detector on the image (no quantization, no codec). */
  async detectUncompressed(image: ImageInput): Promise<Detections> {
    this.check();
    const img = await this.rt.runtime.image(image);
    try {
      return (await this.detector.detect(img)).detections;
    } finally {
      releaseImage(img);
    }
  }

  /** The codec model (CompressAI's name), its level gains (empty for a fixed-rate model). */
  get codecModel(): { architecture: string; gains: number[] } {
    return { architecture: this.codec.architecture, gains: this.codec.gains };
  }

  async encode(image: ImageInput, opts: EncodeOptions = {}): Promise<EncodeResult> {
    this.check();
    // a bad rate option fails before any GPU work
    this.codec.gainFor({ level: opts.level, scale: opts.scale });
    if (opts.targetBpp !== undefined) checkTargetBpp(this.codec.architecture, this.codec.spec.vbr, opts.targetBpp);
    const timings: Record<string, number> = {};
    let t0 = performance.now();
    const img = await this.rt.runtime.image(image);
    timings['image input'] = performance.now() - t0;
    const tm = new Map<string, number>();
    let stemOut;
    try {
      stemOut = await this.detector.stem(img, { timings: tm });
    } finally {
      releaseImage(img);
    }
    const { stem, sizes } = stemOut;
    for (const [k, v] of tm) timings[k] = v;
    try {
      const features = opts.returnFeatures
        ? { data: await this.rt.det.toCHW(stem), shape: stem.shape as [number, number, number] }
        : undefined;
      t0 = performance.now();
      const r = await encodeFeatures(this.codec, stem, {
        method: this.method,
        mode: this.mode,
        originalSize: sizes.original,
        resizedSize: sizes.resized,
        time: (k: string, ms: number) => {
          timings[k] = ms;
        },
        level: opts.level,
        scale: opts.scale,
        targetBpp: opts.targetBpp,
      });
      timings['feature coding'] = performance.now() - t0;
      return {
        bytes: r.bytes,
        bpp: { container: r.bppContainer, strings: r.bpp },
        codec: { architecture: this.codec.architecture, gain: r.gain },
        ...(r.search ? { rateSearch: r.search } : {}),
        stringBytes: { y: r.strings[0].length, z: r.strings[1].length },
        sizes,
        quant: { min: r.fields.mn, max: r.fields.mx },
        timings,
        features,
      };
    } finally {
      this.rt.det.release(stem);
    }
  }
}

export class VcmDecoder extends Base {
  static async create(o: DecoderOptions): Promise<VcmDecoder> {
    const parts = await build(o, false, 'decoder');
    return new VcmDecoder(...parts);
  }

  /**
   * Compile every GPU pipeline a decode of a stream from a `height`×`width` image needs: the codec's decompress and
   * the dense detector are planned and compiled asynchronously; the heads then run once on synthetic features (their
   * pipelines depend on the number of proposals). `height`×`width` is the original image; the stream's sizes follow
   * the encoder's `method`, `minSize` and `maxSize` (default: this decoder's).
   */
  async warmup(
    o: (WarmupOptions & { method?: 1 | 2; minSize?: number; maxSize?: number }) | { stream: Uint8Array },
  ): Promise<WarmupReport> {
    this.check();
    const t0 = performance.now();
    let method: 1 | 2, sizes: ImageSizes;
    if ('stream' in o) {
      // the exact geometry of a stream (e.g. the first one of a session): its container header
      const f = readContainer(o.stream);
      method = f.method === 2 ? 2 : 1;
      sizes = { original: f.originalSize, resized: f.resizedSize, padded: [f.featureShape[1] * 4, f.featureShape[2] * 4] };
    } else {
      const { height, width } = checkWarmSize(o);
      method = o.method === 2 ? 2 : 1;
      // the stream's geometry follows the *encoder's* resize settings: pass them when they differ from this decoder's
      const cfg = {
        ...this.detector.cfg,
        method2: method === 2,
        minSize: o.minSize ?? this.detector.cfg.minSize,
        maxSize: o.maxSize ?? this.detector.cfg.maxSize,
      };
      sizes = imageSizes(height, width, cfg);
    }
    const [height, width] = sizes.original;
    const [c, h, w] = this.detector.stemShape(sizes);
    if (!this.rt.runtime.ctx) return nothingToWarm();
    const codec = await warmupContext(this.rt.runtime.ctx, async (unrecorded) => {
      for (const mode of ['compat', 'portable'] as const) {
        // a stream of this size to plan the decoder with (its encoder-side pipelines are not compiled)
        const bytes = await unrecorded(async () => {
          const stem = this.rt.codec.fromCHW(new Float32Array(c * h * w), c, h, w);
          try {
            return (await encodeFeatures(this.codec, stem, { method, mode, originalSize: sizes.original, resizedSize: sizes.resized }))
              .bytes;
          } finally {
            this.rt.codec.release(stem);
          }
        });
        this.rt.det.release((await decodeFeatures(this.codec, bytes)).features);
      }
    });
    const det = await this.detector.warmup(height, width, { part: 'fromStem', sizes });
    const parts = [codec, det].filter((r): r is WarmupReport => r !== null);
    const sum = (k: 'planned' | 'compiled' | 'primed' | 'planMs' | 'compileMs' | 'primeMs'): number =>
      parts.reduce((acc, r) => acc + r[k], 0);
    return {
      planned: sum('planned'),
      compiled: sum('compiled'),
      primed: sum('primed'),
      failed: parts.flatMap((r) => r.failed),
      planMs: sum('planMs'),
      compileMs: sum('compileMs'),
      primeMs: sum('primeMs'),
      extraMs: det?.extraMs,
      totalMs: performance.now() - t0,
      perPipelineMs: codec.perPipelineMs || det?.perPipelineMs ? { ...codec.perPipelineMs, ...det?.perPipelineMs } : undefined,
    };
  }

  /**
   * Decode a stream to detections: its `.vcm` bytes, or what `parseStream(bytes)` returned for them (a receiver that
   * inspected the stream to route it; the container is then not read again).
   */
  async decode(stream: Uint8Array | ParsedStream, opts: { returnFeatures?: boolean } = {}): Promise<DecodeResult> {
    this.check();
    const timings: Record<string, number> = {};
    let t0 = performance.now();
    const { features: stem, fields } = await decodeFeatures(this.codec, parsedFields(stream) ?? (stream as Uint8Array), {
      time: (k: string, ms: number) => {
        timings[k] = ms;
      },
    });
    const sizes: ImageSizes = {
      original: fields.originalSize,
      resized: fields.resizedSize,
      padded: [fields.featureShape[1] * 4, fields.featureShape[2] * 4],
    };
    timings['feature decoding'] = performance.now() - t0;
    try {
      const features = opts.returnFeatures
        ? { data: await this.rt.det.toCHW(stem), shape: stem.shape as [number, number, number] }
        : undefined;
      t0 = performance.now();
      const tm = new Map<string, number>();
      const detections = await this.detector.fromStem(stem, sizes, { timings: tm });
      for (const [k, v] of tm) timings[k] = v;
      timings['detection'] = performance.now() - t0;
      return { detections, sizes, timings, features };
    } finally {
      this.rt.det.release(stem);
    }
  }
}

function checkWarmSize(o: WarmupOptions): { height: number; width: number } {
  const ok = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && (v as number) <= 16384;
  if (!o || !ok(o.height) || !ok(o.width))
    throw new VcmError('input', `warmup needs an integer { height, width } in 1..16384 (got ${o?.height}x${o?.width})`);
  return { height: o.height, width: o.width };
}

/** GPU inputs come as a GpuImage in a pooled buffer: give it back once the stem that reads it is recorded. */
function releaseImage(img: BgrImage | GpuImage): void {
  if (isGpuImage(img)) img.data.release();
}

export function createEncoder(o: EncoderOptions): Promise<VcmEncoder> {
  return VcmEncoder.create(o);
}
export function createDecoder(o: DecoderOptions): Promise<VcmDecoder> {
  return VcmDecoder.create(o);
}
