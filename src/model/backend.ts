/**
 * The op set the model graphs (codec, detector) are written against. Graphs never touch WebGPU directly, so the
 * same graph runs on the GPU backend (src/gpu/backend.ts) and on the CPU reference backend (src/cpu/backend.ts).
 *
 * Tensors are opaque handles with a logical shape; feature maps are [C, H, W] (batch 1). Ops are synchronous to
 * record (the GPU backend batches dispatches) and only `toCHW`/`read` are async. Every op returns a new tensor;
 * callers `release()` what they no longer need (the GPU backend returns buffers to its pool).
 *
 * Model-specific op families extend this interface in their own files (e.g. CodecOps, DetectorOps), each with a
 * GPU and a CPU implementation.
 */
export interface Tensor {
  readonly shape: readonly number[];
}

/** A prepared convolution (weights in the backend's own layout). */
export interface ConvHandle {
  readonly C: number;
  readonly OC: number;
  readonly KH: number;
  readonly KW: number;
  readonly transposed: boolean;
  release(): void;
}

export interface ConvOpts {
  stride?: number;
  pad?: number;
  /** Transposed convolutions only (CompressAI deconv: stride − 1). */
  outputPadding?: number;
  relu?: boolean;
  /** Added before the ReLU (ResNet bottleneck: relu(conv3 + shortcut)). */
  residual?: Tensor;
  label?: string;
}

export interface Backend<T extends Tensor = Tensor> {
  readonly kind: 'gpu' | 'cpu' | 'wasm';
  /** Upload an NCHW (batch 1) feature map. */
  fromCHW(data: Float32Array, c: number, h: number, w: number): T;
  /** Read a feature map back as NCHW float32. */
  toCHW(t: T): Promise<Float32Array>;
  /** Upload / read flat arrays (shape as given, row-major). */
  fromFlat(data: Float32Array | Int32Array, shape: readonly number[]): T;
  readFlat(t: T): Promise<Float32Array | Int32Array>;
  release(...ts: (T | undefined | null)[]): void;

  /** weight [OC, C, KH, KW] (conv) or [C, OC, KH, KW] (transposed), PyTorch layout. */
  /** precision: override the backend's conv precision for this conv ('f16' only for ordinary convs). */
  prepareConv(weight: Float32Array, shape: readonly number[], bias: Float32Array | null, opts?: { transposed?: boolean; label?: string; precision?: 'f32' | 'f16' }): ConvHandle;
  conv2d(x: T, w: ConvHandle, opts?: ConvOpts): T;
  maxPool2d(x: T, k: number, stride: number, pad: number): T;
  add(a: T, b: T, opts?: { relu?: boolean }): T;
  relu(a: T): T;
  abs(a: T): T;
  /** Wait for all recorded work (GPU: submit and wait; CPU: no-op). */
  sync(): Promise<void>;
  /**
   * Optional (GPU): run `fn` once as a plan (no GPU work, reads give zeros) to learn every pipeline it needs, then
   * compile them all asynchronously and prime them, so the first real run does not pay for compilation.
   */
  warmup?(fn: (unrecorded: <R>(g: () => Promise<R>) => Promise<R>) => Promise<unknown>): Promise<WarmupReport>;
}

/** What a warm-up did (milliseconds; pipeline counts). */
export interface WarmupReport {
  /** Pipelines the planned run asked for that were not compiled yet. */
  planned: number;
  compiled: number;
  /** Pipelines given their first (one-workgroup) dispatch: where software drivers JIT the shader. */
  primed: number;
  /** Variants that failed to compile or prime (the real run reports the real error). */
  failed: string[];
  planMs: number;
  compileMs: number;
  primeMs: number;
  /** Extra real work some models add (the detector's heads on synthetic features), ms. */
  extraMs?: number;
  totalMs: number;
  /** With GpuContext.profileWarmup: first-dispatch milliseconds per pipeline key. */
  perPipelineMs?: Record<string, number>;
}
