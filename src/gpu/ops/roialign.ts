/** ROIAlign(V2) over FPN levels on the GPU (shaders/roialign.wgsl); CPU reference roiAlignRef in src/cpu/heads-ref.ts. */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/roialign.wgsl's struct Params (up to four levels; unused ones repeat the last). */
const ROIALIGN_PARAMS = defineParams('roialign', {
  R: 'u32',
  C: 'u32',
  P: 'u32',
  sampling: 'u32',
  H0: 'u32',
  W0: 'u32',
  H1: 'u32',
  W1: 'u32',
  H2: 'u32',
  W2: 'u32',
  H3: 'u32',
  W3: 'u32',
  s0: 'f32',
  s1: 'f32',
  s2: 'f32',
  s3: 'f32',
  offset: 'f32',
  _q0: 'f32',
  _q1: 'f32',
  _q2: 'f32',
});

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
export function roiAlign(
  ctx: GpuContext,
  features: GpuTensor[],
  rois: GpuTensor,
  levels: GpuTensor,
  R: number,
  o: RoiAlignOptions,
): GpuTensor {
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
  const s = [0, 1, 2, 3].map((i) => o.scales[Math.min(i, o.scales.length - 1)]!);
  const u = ctx.uniform(
    ROIALIGN_PARAMS.pack({
      R,
      C,
      P,
      sampling: o.samplingRatio,
      H0: f[0]!.chw[1],
      W0: f[0]!.chw[2],
      H1: f[1]!.chw[1],
      W1: f[1]!.chw[2],
      H2: f[2]!.chw[1],
      W2: f[2]!.chw[2],
      H3: f[3]!.chw[1],
      W3: f[3]!.chw[2],
      s0: s[0]!,
      s1: s[1]!,
      s2: s[2]!,
      s3: s[3]!,
      offset: o.aligned ? 0.5 : 0,
    }),
  );
  const out = ctx.empty([C * P * P, 1, R], 'f32', 'hwc', 'roialign');
  ctx.dispatch1d(ctx.pipeline('roialign'), [u, rois, levels, f[0]!, f[1]!, f[2]!, f[3]!, out], R * P * P * C, 'roialign');
  return out;
}
