/**
 * The paper's 8-bit feature quantization on the GPU (shaders/featquant.wgsl): exact min/max, quantize with a
 * correctly rounded float32 division + zero padding, dequantize with crop (product and sum in separate dispatches).
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/featquant.wgsl's struct Params (QUANT8: a = mn, b = scale; DEQMUL: b = range; DEQADD: a = mn). */
const FEATQUANT_PARAMS = defineParams('featquant', {
  N: 'u32',
  C: 'u32',
  H: 'u32',
  W: 'u32',
  OH: 'u32',
  OW: 'u32',
  TOP: 'u32',
  LEFT: 'u32',
  a: 'f32',
  b: 'f32',
  _p0: 'u32',
  _p1: 'u32',
});

const DEF = (mm: boolean, q: boolean, dm: boolean, da: boolean) => ({ MINMAX: mm, QUANT8: q, DEQMUL: dm, DEQADD: da });
let lutHost: Float32Array | null = null;
/** f32(k / 255) for k = 0..255 (correctly rounded). */
export function q8Lut(): Float32Array {
  lutHost ??= Float32Array.from({ length: 256 }, (_, k) => Math.fround(k / 255));
  return lutHost;
}

function params(
  N: number,
  C: number,
  H: number,
  W: number,
  OH: number,
  OW: number,
  TOP: number,
  LEFT: number,
  a: number,
  b: number,
): Uint32Array {
  return FEATQUANT_PARAMS.pack({ N, C, H, W, OH, OW, TOP, LEFT, a, b });
}

export async function minMax(ctx: GpuContext, x: GpuTensor): Promise<[number, number]> {
  if (x.dtype !== 'f32') throw new GpuShapeError('minMax expects a float32 tensor');
  const groups = Math.min(256, Math.max(1, Math.ceil(x.size / 1024)));
  const part = ctx.empty([2 * groups], 'f32', 'flat', 'minmax.part');
  ctx.dispatch(
    ctx.pipeline('featquant', DEF(true, false, false, false)),
    [ctx.uniform(params(x.size, 0, 0, 0, 0, 0, 0, 0, 0, 0)), x, part],
    [groups],
    'minmax',
  );
  const d = (await ctx.read(part)) as Float32Array;
  part.release();
  let mn = Infinity,
    mx = -Infinity;
  for (let i = 0; i < groups; i++) {
    mn = Math.min(mn, d[2 * i]!);
    mx = Math.max(mx, d[2 * i + 1]!);
  }
  return [mn, mx];
}

export function quantize8(
  ctx: GpuContext,
  x: GpuTensor,
  mn: number,
  scale: number,
  pad: readonly [number, number, number, number],
  lut: GpuTensor,
): GpuTensor {
  if (x.layout !== 'hwc' || x.dtype !== 'f32') throw new GpuShapeError('quantize8 expects an HWC float32 feature map');
  const [C, H, W] = x.chw;
  const [t, l, b, r] = pad;
  const OH = H + t + b,
    OW = W + l + r;
  const y = ctx.empty([C, OH, OW], 'f32', 'hwc', 'quantize8');
  const n = C * OH * OW;
  ctx.dispatch1d(
    ctx.pipeline('featquant', DEF(false, true, false, false)),
    [ctx.uniform(params(n, C, H, W, OH, OW, t, l, mn, scale)), x, lut, y],
    n,
    'quantize8',
  );
  return y;
}

export function dequantize8(
  ctx: GpuContext,
  xHat: GpuTensor,
  mn: number,
  range: number,
  crop: readonly [number, number, number, number],
): GpuTensor {
  if (xHat.layout !== 'hwc' || xHat.dtype !== 'f32') throw new GpuShapeError('dequantize8 expects an HWC float32 feature map');
  const [C, H, W] = xHat.chw;
  const [top, left, h, w] = crop;
  if (top + h > H || left + w > W || h <= 0 || w <= 0) throw new GpuShapeError(`crop [${crop.join(',')}] outside [${C},${H},${W}]`);
  const y = ctx.empty([C, h, w], 'f32', 'hwc', 'dequantize8');
  const n = C * h * w;
  ctx.dispatch1d(
    ctx.pipeline('featquant', DEF(false, false, true, false)),
    [ctx.uniform(params(n, C, H, W, h, w, top, left, 0, range)), xHat, y],
    n,
    'dequantize8.mul',
  );
  ctx.dispatch1d(
    ctx.pipeline('featquant', DEF(false, false, false, true)),
    [ctx.uniform(params(n, C, H, W, h, w, 0, 0, mn, 0)), y],
    n,
    'dequantize8.add',
  );
  return y;
}
