/**
 * The op set of the hyperprior codec graph (src/model/codec/graph.ts). Extends the core `Backend` with GDN, the
 * entropy-model quantizers, `build_indexes`, the exact-integer ops of the portable h_s path and the 8-bit feature
 * quantizer of the paper. Implemented on the GPU (src/gpu/codec-backend.ts) and on the CPU as the reference
 * (src/cpu/codec-backend.ts).
 *
 * Integer tensors (symbols, indexes, fixed-point activations) are [C, H, W] int32 tensors of the backend.
 */
import type { Backend, Tensor } from '../backend.ts';

export interface GdnHandle {
  readonly C: number;
  readonly inverse: boolean;
  release(): void;
}

/** A per-channel float32 vector on the backend (EntropyBottleneck medians). */
export interface ChannelVec {
  readonly length: number;
  release(): void;
}

/** The float32 scale table with its lower bound, ready for `buildIndexes`. */
export interface ScaleTableHandle {
  readonly levels: number;
  release(): void;
}

/** A convolution with int32 weights (|w| ≤ 32767) for the portable h_s path. */
export interface IntConvHandle {
  readonly C: number;
  readonly OC: number;
  readonly K: number;
  readonly transposed: boolean;
  release(): void;
}

/** QuantABCD: Linear(2, H) · ReLU · Linear(H, H) · ReLU · Linear(H, 1), weights [out, in] row-major. */
export interface OffsetMlp {
  hidden: number;
  w: readonly [Float32Array, Float32Array, Float32Array];
  b: readonly [Float32Array, Float32Array, Float32Array];
}

export interface OffsetMlpHandle {
  readonly hidden: number;
  release(): void;
}

/** At most this many hidden units in QuantABCD (CompressAI's has 12). */
export const OFFSET_MLP_MAX_HIDDEN = 64;

/** A 48-bit fixed-point accumulator tensor: value = hi·65536 + lo with 0 ≤ lo < 65536. */
export interface IntAcc<T> {
  hi: T;
  lo: T;
}

export interface CodecOps<T extends Tensor = Tensor> extends Backend<T> {
  fromCHWInt(data: Int32Array, c: number, h: number, w: number): T;
  toCHWInt(t: T): Promise<Int32Array>;

  prepareGdn(beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean, label?: string): GdnHandle;
  /** GDN: x·rsqrt(beta + gamma·x²); inverse GDN: x·sqrt(beta + gamma·x²) (1×1 mixing fused). */
  gdn(x: T, g: GdnHandle): T;

  prepareChannelVec(v: Float32Array): ChannelVec;
  /** int32(round_half_even(x − mean[c])) (mean 0 when `means` is null): CompressAI's "symbols" quantization. */
  quantize(x: T, means: ChannelVec | null): T;
  /** float32(symbol) + mean[c]. */
  dequantize(sym: T, means: ChannelVec | null): T;

  prepareScaleTable(table: Float32Array, bound: number): ScaleTableHandle;
  /** GaussianConditional.build_indexes: smallest k with max(s, bound) ≤ table[k], else levels − 1 (int32). */
  buildIndexes(scales: T, table: ScaleTableHandle): T;

  // ---- mean-scale and variable-rate models (CompressAI's MeanScaleHyperprior, *Vbr) ----
  /** torch's LeakyReLU (negative slope f32(0.01)): x > 0 ? x : x·0.01. */
  leakyRelu(x: T): T;
  /** x·g in float32, one rounding per element (its own op: nothing can fuse it with a later subtraction). */
  scaleBy(x: T, g: number): T;
  /** int32(round_half_even(x − means)) with a means tensor of x's shape (GaussianConditional.compress with means). */
  quantizeAround(x: T, means: T): T;
  /** float32(symbol) + means (GaussianConditional.decompress with means). */
  dequantizeAround(sym: T, means: T): T;
  prepareOffsetMlp(mlp: OffsetMlp): OffsetMlpHandle;
  /**
   * The variable-rate reconstruction (CompressAI's *Vbr.decompress, stage 2): q = f32(symbol),
   * offset = −QuantABCD([max(scalesG, bound), gain]) (0 where |q| < 1e-4), y = sign(q)·(|q| + offset)·rescale (+ means).
   * `scalesG` = scales_hat·gain (scaleBy), `rescale` = f32(1 / gain).
   */
  dequantizeVbr(sym: T, scalesG: T, means: T | null, gain: number, rescale: number, bound: number, mlp: OffsetMlpHandle): T;

  // ---- portable (exact integer) h_s ----
  prepareIntConv(wq: Int32Array, shape: readonly number[], transposed: boolean): IntConvHandle;
  /** Exact Σ a·w + bias into a hi/lo accumulator (bias given per output channel as hi/lo). */
  intConv(x: T, w: IntConvHandle, biasHi: Int32Array, biasLo: Int32Array, opts: { stride: number; pad: number; outputPadding?: number }): IntAcc<T>;
  /** max over elements of max(hi, 0). */
  intMaxHi(acc: IntAcc<T>): Promise<number>;
  /** ReLU, then round(v / 2^shift) (half up) saturated to 32767; `leaky`: negative values by portable.ts's leakyRequantValue. */
  intRequant(acc: IntAcc<T>, shift: number, leaky?: boolean): T;
  /** After ReLU: #{k : v > T_k}, thresholds given as hi/lo. */
  intIndexes(acc: IntAcc<T>, thrHi: Int32Array, thrLo: Int32Array): T;

  // ---- the paper's 8-bit feature quantization ----
  /** Exact min and max over all elements. */
  minMax(x: T): Promise<[number, number]>;
  /**
   * q = clamp(round_half_even((x − mn) / scale), 0, 255) with a correctly rounded float32 division, output q/255
   * (float32), zero-padded by [top, left, bottom, right].
   */
  quantize8(x: T, mn: number, scale: number, pad: readonly [number, number, number, number]): T;
  /** Crop [top, left, H, W], then clamp(x̂, 0, 1)·range + mn (product rounded before the sum: no FMA). */
  dequantize8(xHat: T, mn: number, range: number, crop: readonly [number, number, number, number]): T;
}
