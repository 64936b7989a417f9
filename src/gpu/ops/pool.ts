import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/maxpool2d.wgsl's struct Params. */
const POOL_PARAMS = defineParams('maxpool2d', { H: 'u32', W: 'u32', C: 'u32', OH: 'u32', OW: 'u32', K: 'u32', S: 'u32', P: 'u32' });

/** Max pooling (padding = -inf), HWC in and out. Detectron2's stem: k 3, stride 2, pad 1. P6: k 1, stride 2. */
export function maxPool2d(ctx: GpuContext, x: GpuTensor, k = 3, stride = 2, pad = 1, label = 'maxpool'): GpuTensor {
  if (x.layout !== 'hwc') throw new GpuShapeError('maxPool2d expects an HWC feature map');
  const [C, H, W] = x.chw;
  const OH = Math.floor((H + 2 * pad - k) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - k) / stride) + 1;
  const y = ctx.empty([C, OH, OW], 'f32', 'hwc', label);
  ctx.dispatch1d(
    ctx.pipeline('maxpool2d'),
    [ctx.uniform(POOL_PARAMS.pack({ H, W, C, OH, OW, K: k, S: stride, P: pad })), x, y],
    C * OH * OW,
    label,
  );
  return y;
}
