/** GaussianConditional.build_indexes on the GPU (shaders/entropy.wgsl). */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/entropy.wgsl's struct Params. */
const ENTROPY_PARAMS = defineParams('entropy', { N: 'u32', L: 'u32', bound: 'f32', _p0: 'u32' });

export interface ScaleTable {
  levels: number;
  bound: number;
  table: GpuTensor;
  release(): void;
}

export function prepareScaleTable(ctx: GpuContext, table: Float32Array, bound: number): ScaleTable {
  if (table.length < 2) throw new GpuShapeError('scale table needs at least 2 levels');
  const t = ctx.upload(table, [table.length], { persistent: true, label: 'scale_table' });
  return {
    levels: table.length,
    bound: Math.fround(bound),
    table: t,
    release() {
      t.release();
    },
  };
}

export function buildIndexes(ctx: GpuContext, scales: GpuTensor, t: ScaleTable, label = 'build_indexes'): GpuTensor {
  if (scales.dtype !== 'f32') throw new GpuShapeError('build_indexes expects float32 scales');
  const idx = ctx.empty(scales.shape, 'i32', scales.layout, label);
  const u = ENTROPY_PARAMS.pack({ N: scales.size, L: t.levels, bound: t.bound });
  ctx.dispatch1d(ctx.pipeline('entropy'), [ctx.uniform(u), scales, t.table, idx], scales.size, label);
  return idx;
}
