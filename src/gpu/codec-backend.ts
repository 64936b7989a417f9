/** The GPU implementation of the codec op set (src/model/codec/ops.ts), extending the core GpuBackend. */
import type { ConvHandle } from '../model/backend.ts';
import type { ChannelVec, CodecOps, GdnHandle, IntAcc, IntConvHandle, OffsetMlp, OffsetMlpHandle, ScaleTableHandle } from '../model/codec/ops.ts';
import { GpuBackend } from './backend.ts';
import type { GpuContext } from './context.ts';
import { GpuShapeError } from './errors.ts';
import { buildIndexes, prepareScaleTable, type ScaleTable } from './ops/entropy.ts';
import { dequantize8, minMax, q8Lut, quantize8 } from './ops/featquant.ts';
import { dequantizeAround, dequantizeVbr, leakyRelu, prepareOffsetMlp, quantizeAround, scaleBy, type GpuOffsetMlp } from './ops/gaussian.ts';
import { gdn, prepareGdn, type GdnWeights } from './ops/gdn.ts';
import { intConv, intIndexes, intMaxHi, intRequant, prepareIntConv, type IntConvWeights } from './ops/intconv.ts';
import { dequantizeSymbols, quantizeSymbols } from './ops/quant.ts';
import type { GpuTensor } from './tensor.ts';

interface GpuVec extends ChannelVec { t: GpuTensor }

export function chwToHwcI32(src: Int32Array, c: number, h: number, w: number): Int32Array {
  const out = new Int32Array(c * h * w);
  for (let ci = 0; ci < c; ci++) for (let i = 0; i < h * w; i++) out[i * c + ci] = src[ci * h * w + i]!;
  return out;
}
export function hwcToChwI32(src: Int32Array, c: number, h: number, w: number): Int32Array {
  const out = new Int32Array(c * h * w);
  for (let i = 0; i < h * w; i++) for (let ci = 0; ci < c; ci++) out[ci * h * w + i] = src[i * c + ci]!;
  return out;
}

export class GpuCodecBackend extends GpuBackend implements CodecOps<GpuTensor> {
  private lut: GpuTensor | null = null;
  /** The codec always runs in f32 (compat strings depend on it). */
  constructor(ctx: GpuContext) { super(ctx, { precision: 'f32' }); }

  fromCHWInt(data: Int32Array, c: number, h: number, w: number): GpuTensor {
    if (data.length !== c * h * w) throw new GpuShapeError(`fromCHWInt: ${data.length} values for [${c},${h},${w}]`);
    this.ctx.flush(); // writeBuffer must not overtake recorded work that reads a recycled buffer
    return this.ctx.upload(chwToHwcI32(data, c, h, w), [c, h, w], { layout: 'hwc' });
  }
  async toCHWInt(t: GpuTensor): Promise<Int32Array> {
    if (t.dtype !== 'i32') throw new GpuShapeError('toCHWInt expects an int32 tensor');
    const d = (await this.ctx.read(t)) as Int32Array;
    if (t.layout !== 'hwc') return d;
    const [c, h, w] = t.chw;
    return hwcToChwI32(d, c, h, w);
  }

  /**
   * Persistent weights are destroyed on release; submit the recorded work first so no pending dispatch refers to a
   * destroyed buffer (WebGPU keeps destroyed buffers alive for already-submitted work).
   */
  private flushing<H extends { release(): void }>(h: H): H {
    const rel = h.release.bind(h);
    h.release = () => { this.ctx.flush(); rel(); };
    return h;
  }

  /** Stride-2 transposed convs (h_s, g_s) run in the core conv's sub-pixel mode (ops/conv.ts selectConvMode). */
  override prepareConv(weight: Float32Array, shape: readonly number[], bias: Float32Array | null, opts: { transposed?: boolean; label?: string } = {}): ConvHandle {
    return this.flushing(super.prepareConv(weight, shape, bias, opts));
  }

  prepareGdn(beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean, label?: string): GdnHandle { return this.flushing(prepareGdn(this.ctx, beta, gamma, C, inverse, label)); }
  gdn(x: GpuTensor, g: GdnHandle): GpuTensor { return gdn(this.ctx, x, g as GdnWeights); }

  prepareChannelVec(v: Float32Array): ChannelVec {
    const t = this.ctx.upload(v, [v.length], { persistent: true, label: 'channel_vec' });
    const r: GpuVec = { length: v.length, t, release: () => { this.ctx.flush(); t.release(); } };
    return r;
  }
  quantize(x: GpuTensor, means: ChannelVec | null): GpuTensor { return quantizeSymbols(this.ctx, x, (means as GpuVec | null)?.t ?? null); }
  dequantize(sym: GpuTensor, means: ChannelVec | null): GpuTensor { return dequantizeSymbols(this.ctx, sym, (means as GpuVec | null)?.t ?? null); }

  leakyRelu(x: GpuTensor): GpuTensor { return leakyRelu(this.ctx, x); }
  scaleBy(x: GpuTensor, g: number): GpuTensor { return scaleBy(this.ctx, x, g); }
  quantizeAround(x: GpuTensor, means: GpuTensor): GpuTensor { return quantizeAround(this.ctx, x, means); }
  dequantizeAround(sym: GpuTensor, means: GpuTensor): GpuTensor { return dequantizeAround(this.ctx, sym, means); }
  prepareOffsetMlp(mlp: OffsetMlp): OffsetMlpHandle { return this.flushing(prepareOffsetMlp(this.ctx, mlp)); }
  dequantizeVbr(sym: GpuTensor, scalesG: GpuTensor, means: GpuTensor | null, gain: number, rescale: number, bound: number, mlp: OffsetMlpHandle): GpuTensor {
    return dequantizeVbr(this.ctx, sym, scalesG, means, gain, rescale, bound, mlp as GpuOffsetMlp);
  }

  prepareScaleTable(table: Float32Array, bound: number): ScaleTableHandle { return this.flushing(prepareScaleTable(this.ctx, table, bound)); }
  buildIndexes(scales: GpuTensor, table: ScaleTableHandle): GpuTensor { return buildIndexes(this.ctx, scales, table as ScaleTable); }

  prepareIntConv(wq: Int32Array, shape: readonly number[], transposed: boolean): IntConvHandle { return this.flushing(prepareIntConv(this.ctx, wq, shape, transposed)); }
  intConv(x: GpuTensor, w: IntConvHandle, biasHi: Int32Array, biasLo: Int32Array, opts: { stride: number; pad: number; outputPadding?: number }): IntAcc<GpuTensor> {
    return intConv(this.ctx, x, w as IntConvWeights, biasHi, biasLo, opts);
  }
  intMaxHi(acc: IntAcc<GpuTensor>): Promise<number> { return intMaxHi(this.ctx, acc); }
  intRequant(acc: IntAcc<GpuTensor>, shift: number, leaky = false): GpuTensor { return intRequant(this.ctx, acc, shift, leaky); }
  intIndexes(acc: IntAcc<GpuTensor>, thrHi: Int32Array, thrLo: Int32Array): GpuTensor { return intIndexes(this.ctx, acc, thrHi, thrLo); }

  minMax(x: GpuTensor): Promise<[number, number]> { return minMax(this.ctx, x); }
  quantize8(x: GpuTensor, mn: number, scale: number, pad: readonly [number, number, number, number]): GpuTensor {
    this.lut ??= this.ctx.upload(q8Lut(), [256], { persistent: true, label: 'q8_lut' });
    return quantize8(this.ctx, x, mn, scale, pad, this.lut);
  }
  dequantize8(xHat: GpuTensor, mn: number, range: number, crop: readonly [number, number, number, number]): GpuTensor {
    return dequantize8(this.ctx, xHat, mn, range, crop);
  }
}
