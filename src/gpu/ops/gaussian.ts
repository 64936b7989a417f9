/**
 * The mean-scale and variable-rate Gaussian-conditional kernels on the GPU (shaders/gaussian.wgsl): LeakyReLU,
 * multiplication by a gain, quantization around / dequantization with a means tensor, and the variable-rate
 * reconstruction with CompressAI's QuantABCD offsets. CPU reference: src/cpu/codec-backend.ts.
 */
import { OFFSET_MLP_MAX_HIDDEN, type OffsetMlp, type OffsetMlpHandle } from '../../model/codec/ops.ts';
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';

export interface GpuOffsetMlp extends OffsetMlpHandle { packed: GpuTensor }

type Kernel = 'LEAKY' | 'SCALE' | 'QUANT' | 'DEQUANT' | 'VBR';

function defines(k: Kernel, hasMean = false): Record<string, boolean> {
  return { K_UNARY: k === 'LEAKY' || k === 'SCALE', K_LEAKY: k === 'LEAKY', K_SCALE: k === 'SCALE', K_QUANT: k === 'QUANT', K_DEQUANT: k === 'DEQUANT', K_VBR: k === 'VBR', HAS_MEAN: hasMean };
}

function params(n: number, o: { H?: number; g?: number; rescale?: number; bound?: number } = {}): Uint32Array {
  const u = new Uint32Array(8);
  u[0] = n;
  u[1] = o.H ?? 0;
  const f = new Float32Array(u.buffer);
  f[2] = o.g ?? 1;
  f[3] = o.rescale ?? 1;
  f[4] = o.bound ?? 0;
  return u;
}

function same(a: GpuTensor, b: GpuTensor, what: string): void {
  if (a.size !== b.size || a.layout !== b.layout || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new GpuShapeError(`${what}: [${a.shape.join(',')}] (${a.layout}) and [${b.shape.join(',')}] (${b.layout}) differ`);
  }
}

function f32(t: GpuTensor, what: string): void {
  if (t.dtype !== 'f32') throw new GpuShapeError(`${what} expects a float32 tensor`);
}
function i32(t: GpuTensor, what: string): void {
  if (t.dtype !== 'i32') throw new GpuShapeError(`${what} expects an int32 tensor`);
}

export function leakyRelu(ctx: GpuContext, x: GpuTensor): GpuTensor {
  f32(x, 'leaky_relu');
  const y = ctx.empty(x.shape, 'f32', x.layout, 'leaky_relu');
  ctx.dispatch1d(ctx.pipeline('gaussian', defines('LEAKY')), [ctx.uniform(params(x.size)), x, y], x.size, 'leaky_relu');
  return y;
}

export function scaleBy(ctx: GpuContext, x: GpuTensor, g: number): GpuTensor {
  f32(x, 'scale');
  const y = ctx.empty(x.shape, 'f32', x.layout, 'scale');
  ctx.dispatch1d(ctx.pipeline('gaussian', defines('SCALE')), [ctx.uniform(params(x.size, { g })), x, y], x.size, 'scale');
  return y;
}

export function quantizeAround(ctx: GpuContext, x: GpuTensor, means: GpuTensor): GpuTensor {
  f32(x, 'quantize_around');
  same(x, means, 'quantize_around');
  const sym = ctx.empty(x.shape, 'i32', x.layout, 'quantize_around');
  ctx.dispatch1d(ctx.pipeline('gaussian', defines('QUANT')), [ctx.uniform(params(x.size)), x, means, sym], x.size, 'quantize_around');
  return sym;
}

export function dequantizeAround(ctx: GpuContext, sym: GpuTensor, means: GpuTensor): GpuTensor {
  i32(sym, 'dequantize_around');
  same(sym, means, 'dequantize_around');
  const y = ctx.empty(sym.shape, 'f32', sym.layout, 'dequantize_around');
  ctx.dispatch1d(ctx.pipeline('gaussian', defines('DEQUANT')), [ctx.uniform(params(sym.size)), sym, means, y], sym.size, 'dequantize_around');
  return y;
}

export function prepareOffsetMlp(ctx: GpuContext, mlp: OffsetMlp): GpuOffsetMlp {
  const H = mlp.hidden;
  if (!Number.isInteger(H) || H < 1 || H > OFFSET_MLP_MAX_HIDDEN) throw new GpuShapeError(`QuantABCD with ${H} hidden units (1..${OFFSET_MLP_MAX_HIDDEN})`);
  const sizes = [2 * H, H, H * H, H, H, 1];
  const parts = [mlp.w[0], mlp.b[0], mlp.w[1], mlp.b[1], mlp.w[2], mlp.b[2]];
  const packed = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let o = 0;
  parts.forEach((p, i) => {
    if (p.length !== sizes[i]) throw new GpuShapeError(`QuantABCD part ${i} has ${p.length} values, expected ${sizes[i]}`);
    packed.set(p, o);
    o += p.length;
  });
  const t = ctx.upload(packed, [packed.length], { persistent: true, label: 'quant_abcd' });
  return { hidden: H, packed: t, release() { t.release(); } };
}

export function dequantizeVbr(ctx: GpuContext, sym: GpuTensor, scalesG: GpuTensor, means: GpuTensor | null, gain: number, rescale: number, bound: number, mlp: GpuOffsetMlp): GpuTensor {
  i32(sym, 'dequantize_vbr');
  same(sym, scalesG, 'dequantize_vbr');
  if (means) same(sym, means, 'dequantize_vbr');
  const y = ctx.empty(sym.shape, 'f32', sym.layout, 'dequantize_vbr');
  const b = [ctx.uniform(params(sym.size, { H: mlp.hidden, g: gain, rescale, bound })), sym, scalesG, mlp.packed, y];
  if (means) b.push(means);
  ctx.dispatch1d(ctx.pipeline('gaussian', defines('VBR', !!means)), b, sym.size, 'dequantize_vbr');
  return y;
}
