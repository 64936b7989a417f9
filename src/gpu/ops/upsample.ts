import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/upsample_add.wgsl's struct Params. */
const UPSAMPLE_PARAMS = defineParams('upsample_add', {
  H: 'u32',
  W: 'u32',
  C: 'u32',
  h: 'u32',
  w: 'u32',
  _p0: 'u32',
  _p1: 'u32',
  _p2: 'u32',
});

/** Shape check for the FPN top-down step (pure; tested): the lateral map must be exactly twice the coarse one. */
export function upsampleAddShape(lateral: readonly number[], coarse: readonly number[]): [number, number, number] {
  const [C, H, W] = lateral as [number, number, number];
  const [c, h, w] = coarse as [number, number, number];
  if (lateral.length !== 3 || coarse.length !== 3 || C !== c || H !== 2 * h || W !== 2 * w) {
    throw new GpuShapeError(`upsampleAdd: lateral [${lateral.join(',')}] is not the 2x nearest upsample size of [${coarse.join(',')}]`);
  }
  return [C, H, W];
}

/** lateral + nearest_upsample_2x(coarse), HWC in and out (Detectron2 FPN top-down sum). */
export function upsampleAdd(ctx: GpuContext, lateral: GpuTensor, coarse: GpuTensor, label = 'upsample_add'): GpuTensor {
  if (lateral.layout !== 'hwc' || coarse.layout !== 'hwc') throw new GpuShapeError('upsampleAdd expects HWC feature maps');
  const [C, H, W] = upsampleAddShape(lateral.shape, coarse.shape);
  const y = ctx.empty([C, H, W], 'f32', 'hwc', label);
  ctx.dispatch1d(
    ctx.pipeline('upsample_add'),
    [ctx.uniform(UPSAMPLE_PARAMS.pack({ H, W, C, h: coarse.shape[1]!, w: coarse.shape[2]! })), lateral, coarse, y],
    C * H * W,
    label,
  );
  return y;
}
