/** GaussianConditional.build_indexes on the GPU (shaders/entropy.wgsl). */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';

export interface ScaleTable { levels: number; bound: number; table: GpuTensor; release(): void }

export function prepareScaleTable(ctx: GpuContext, table: Float32Array, bound: number): ScaleTable {
  if (table.length < 2) throw new GpuShapeError('scale table needs at least 2 levels');
  const t = ctx.upload(table, [table.length], { persistent: true, label: 'scale_table' });
  return { levels: table.length, bound: Math.fround(bound), table: t, release() { t.release(); } };
}

export function buildIndexes(ctx: GpuContext, scales: GpuTensor, t: ScaleTable, label = 'build_indexes'): GpuTensor {
  if (scales.dtype !== 'f32') throw new GpuShapeError('build_indexes expects float32 scales');
  const idx = ctx.empty(scales.shape, 'i32', scales.layout, label);
  const u = new Uint32Array([scales.size, t.levels, 0, 0]);
  new Float32Array(u.buffer, 8, 1)[0] = t.bound;
  ctx.dispatch1d(ctx.pipeline('entropy'), [ctx.uniform(u), scales, t.table, idx], scales.size, label);
  return idx;
}
