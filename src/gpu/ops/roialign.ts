/** ROIAlign(V2) over FPN levels on the GPU (shaders/roialign.wgsl); CPU reference roiAlignRef in src/cpu/heads-ref.ts. */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { fbits } from './boxes.ts';

export interface RoiAlignOptions {
  /** Spatial scale per level (1/stride). */
  scales: readonly number[];
  resolution: number;
  /** 0 = adaptive ceil(roi/resolution). */
  samplingRatio: number;
  aligned: boolean;
}

/**
 * features: 1..4 HWC maps [C,Hl,Wl]; rois: [≥R,4] boxes in image pixels; levels: [R] u32/i32 index into features.
 * Returns [C*P*P, 1, R] HWC (row r = ROI r, channels in (c, y, x) order).
 */
export function roiAlign(ctx: GpuContext, features: GpuTensor[], rois: GpuTensor, levels: GpuTensor, R: number, o: RoiAlignOptions): GpuTensor {
  if (features.length < 1 || features.length > 4) throw new GpuShapeError(`roiAlign takes 1..4 feature levels, got ${features.length}`);
  if (o.scales.length !== features.length) throw new GpuShapeError('roiAlign: one scale per level');
  if (R <= 0) throw new GpuShapeError('roiAlign needs at least one ROI');
  if (rois.size < R * 4 || levels.size < R) throw new GpuShapeError(`roiAlign: ${rois.size / 4} boxes / ${levels.size} levels for R=${R}`);
  const C = features[0]!.chw[0];
  for (const ft of features) {
    if (ft.layout !== 'hwc') throw new GpuShapeError('roiAlign expects HWC feature maps');
    if (ft.chw[0] !== C) throw new GpuShapeError('roiAlign: levels differ in channel count');
  }
  const P = o.resolution;
  const f = [0, 1, 2, 3].map((i) => features[Math.min(i, features.length - 1)]!);
  const hw = f.flatMap((t) => [t.chw[1], t.chw[2]]);
  const sc = [0, 1, 2, 3].map((i) => fbits(o.scales[Math.min(i, o.scales.length - 1)]!));
  const u = ctx.uniform([R, C, P, o.samplingRatio, ...hw, ...sc, fbits(o.aligned ? 0.5 : 0), 0, 0, 0]);
  const out = ctx.empty([C * P * P, 1, R], 'f32', 'hwc', 'roialign');
  ctx.dispatch1d(ctx.pipeline('roialign'), [u, rois, levels, f[0]!, f[1]!, f[2]!, f[3]!, out], R * P * P * C, 'roialign');
  return out;
}
