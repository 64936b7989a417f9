/** Entropy-model quantization (shaders/quant.wgsl): symbols = round_half_even(x − mean[c]), and back. */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/quant.wgsl's struct Params. */
const QUANT_PARAMS = defineParams('quant', { N: 'u32', C: 'u32', _p0: 'u32', _p1: 'u32' });

function check(x: GpuTensor, mean: GpuTensor | null, what: string): number {
  if (x.layout !== 'hwc') throw new GpuShapeError(`${what} expects an HWC feature map`);
  const C = x.chw[0];
  if (mean && mean.size !== C) throw new GpuShapeError(`${what}: ${mean.size} means for ${C} channels`);
  return C;
}

export function quantizeSymbols(ctx: GpuContext, x: GpuTensor, mean: GpuTensor | null, label = 'quantize'): GpuTensor {
  const C = check(x, mean, 'quantize');
  if (x.dtype !== 'f32') throw new GpuShapeError('quantize expects a float32 tensor');
  const y = ctx.empty(x.shape, 'i32', 'hwc', label);
  const b = [ctx.uniform(QUANT_PARAMS.pack({ N: x.size, C })), x, y];
  if (mean) b.push(mean);
  ctx.dispatch1d(ctx.pipeline('quant', { QUANT: true, HAS_MEAN: !!mean }), b, x.size, label);
  return y;
}

export function dequantizeSymbols(ctx: GpuContext, sym: GpuTensor, mean: GpuTensor | null, label = 'dequantize'): GpuTensor {
  const C = check(sym, mean, 'dequantize');
  if (sym.dtype !== 'i32') throw new GpuShapeError('dequantize expects an int32 tensor');
  const y = ctx.empty(sym.shape, 'f32', 'hwc', label);
  const b = [ctx.uniform(QUANT_PARAMS.pack({ N: sym.size, C })), sym, y];
  if (mean) b.push(mean);
  ctx.dispatch1d(ctx.pipeline('quant', { QUANT: false, HAS_MEAN: !!mean }), b, sym.size, label);
  return y;
}
