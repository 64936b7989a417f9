/**
 * CompressAI's two entropy models as objects (compressai/entropy_models/entropy_models.py), over any `CodecOps`
 * backend and the rANS coder of src/coder. Every codec model (registry.ts) codes z with an EntropyBottleneck and y with
 * a GaussianConditional; the models differ only in how they get scales, means and the gain.
 *
 * - EntropyBottleneck: symbols = round(z − median[c]), CDF row = channel; z_hat = symbol + median[c].
 * - GaussianConditional: symbols = round(y − means) (means optional), CDF row = the index of the scale; indexes
 *   either as CompressAI's build_indexes in float32 ('compat') or from the exact fixed-point h_s ('portable',
 *   thresholds of portable.ts). A variable-rate model passes y·gain, means·gain, scales·gain and the gain.
 */
import type { Tensor } from '../backend.ts';
import { decodeWithIndexes, encodeWithIndexes, type CdfTables } from '../../coder/index.ts';
import type { ChannelVec, CodecOps, ScaleTableHandle } from './ops.ts';
import { thresholds } from './portable.ts';

export type CodecMode = 'compat' | 'portable';

export class CodecInputError extends Error {
  override name = 'CodecInputError';
}

/**
 * Entropy-code one latent; a symbol the coder cannot represent (|symbol| ≥ 2^27: an input far outside what the codec
 * was trained on, e.g. 1e30, or non-finite values computed on the GPU) becomes a CodecInputError that says so.
 */
function entropyCode(f: () => Uint8Array, which: 'y' | 'z'): Uint8Array {
  try {
    return f();
  } catch (e) {
    if ((e as Error)?.name === 'RansEncodeError') {
      throw new CodecInputError(`the input is out of the codec's range: a quantized ${which} latent is too large for the entropy coder (${(e as Error).message}). Codec inputs are features in the range the model was trained on (8-bit features map to [0, 1]); check for huge or non-finite values`, { cause: e });
    }
    throw e;
  }
}

/** The EntropyBottleneck codes z (C, H, W order) with CDF row = channel. */
function channelIndexes(n: number, h: number, w: number): Int32Array {
  const idx = new Int32Array(n * h * w);
  for (let c = 0; c < n; c++) idx.fill(c, c * h * w, (c + 1) * h * w);
  return idx;
}

export class EntropyBottleneck<T extends Tensor> {
  private readonly vec: ChannelVec;
  constructor(private readonly ops: CodecOps<T>, readonly medians: Float32Array, readonly tables: CdfTables) {
    this.vec = ops.prepareChannelVec(medians);
  }

  get channels(): number { return this.medians.length; }

  /** z → its symbols (a tensor, for the h_s that follows) and their CHW values. */
  async quantize(z: T): Promise<{ symT: T; symbols: Int32Array }> {
    const symT = this.ops.quantize(z, this.vec);
    return { symT, symbols: await this.ops.toCHWInt(symT) };
  }

  compress(symbols: Int32Array, shape: readonly [number, number]): Uint8Array {
    const [h, w] = shape;
    return entropyCode(() => encodeWithIndexes(symbols, channelIndexes(this.channels, h, w), this.tables), 'z');
  }

  decompress(string: Uint8Array, shape: readonly [number, number]): Int32Array {
    const [h, w] = shape;
    return decodeWithIndexes(string, channelIndexes(this.channels, h, w), this.tables);
  }

  /** z_hat = float32(symbol) + median[c] (a symbol tensor, or CHW symbols of the given spatial shape). */
  dequantize(sym: T | Int32Array, shape?: readonly [number, number]): T {
    if (!(sym instanceof Int32Array)) return this.ops.dequantize(sym, this.vec);
    const t = this.ops.fromCHWInt(sym, this.channels, shape![0], shape![1]);
    const zHat = this.ops.dequantize(t, this.vec);
    this.ops.release(t);
    return zHat;
  }

  release(): void { this.vec.release(); }
}

export class GaussianConditional<T extends Tensor> {
  private readonly table: ScaleTableHandle;
  constructor(private readonly ops: CodecOps<T>, readonly scaleTable: Float32Array, readonly scaleBound: number, readonly tables: CdfTables) {
    this.table = ops.prepareScaleTable(scaleTable, scaleBound);
  }

  /** compat: CompressAI's build_indexes(scales) in float32 (a variable-rate model passes scales·gain). */
  buildIndexes(scales: T): T { return this.ops.buildIndexes(scales, this.table); }

  /**
   * portable: the thresholds of the fixed-point h_s output with accumulator exponent E, for scales·gain
   * (index = #{k : v > T_k}).
   */
  thresholds(E: number, gain = 1): { hi: Int32Array; lo: Int32Array } { return thresholds(this.scaleTable, E, gain); }

  /** symbols = round(y − means) (y and means already multiplied by the gain for a variable-rate model). */
  quantize(y: T, means: T | null): T {
    return means ? this.ops.quantizeAround(y, means) : this.ops.quantize(y, null);
  }

  compress(symbols: Int32Array, indexes: Int32Array): Uint8Array {
    return entropyCode(() => encodeWithIndexes(symbols, indexes, this.tables), 'y');
  }

  decompress(string: Uint8Array, indexes: Int32Array): Int32Array {
    return decodeWithIndexes(string, indexes, this.tables);
  }

  /** y_hat = float32(symbol) + means (means null: float32(symbol)). */
  dequantize(sym: T, means: T | null): T {
    return means ? this.ops.dequantizeAround(sym, means) : this.ops.dequantize(sym, null);
  }

  release(): void { this.table.release(); }
}
