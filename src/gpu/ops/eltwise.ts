import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/eltwise.wgsl's struct Params. */
const ELTWISE_PARAMS = defineParams('eltwise', { N: 'u32', _p0: 'u32', _p1: 'u32', _p2: 'u32' });

function sameShape(a: GpuTensor, b: GpuTensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]) || a.layout !== b.layout) {
    throw new GpuShapeError(`element-wise op on [${a.shape}] (${a.layout}) and [${b.shape}] (${b.layout})`);
  }
}

export function add(ctx: GpuContext, a: GpuTensor, b: GpuTensor, opts: { relu?: boolean } = {}): GpuTensor {
  sameShape(a, b);
  const y = ctx.empty(a.shape, 'f32', a.layout);
  ctx.dispatch1d(
    ctx.pipeline('eltwise', { BINARY: true, RELU: !!opts.relu, ABS: false }),
    [ctx.uniform(ELTWISE_PARAMS.pack({ N: a.size })), a, b, y],
    a.size,
    opts.relu ? 'add_relu' : 'add',
  );
  return y;
}

export function relu(ctx: GpuContext, a: GpuTensor): GpuTensor {
  const y = ctx.empty(a.shape, 'f32', a.layout);
  ctx.dispatch1d(
    ctx.pipeline('eltwise', { BINARY: false, RELU: true, ABS: false }),
    [ctx.uniform(ELTWISE_PARAMS.pack({ N: a.size })), a, y],
    a.size,
    'relu',
  );
  return y;
}

export function abs(ctx: GpuContext, a: GpuTensor): GpuTensor {
  const y = ctx.empty(a.shape, 'f32', a.layout);
  ctx.dispatch1d(
    ctx.pipeline('eltwise', { BINARY: false, RELU: false, ABS: true }),
    [ctx.uniform(ELTWISE_PARAMS.pack({ N: a.size })), a, y],
    a.size,
    'abs',
  );
  return y;
}
