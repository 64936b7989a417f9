/** GDN / inverse GDN with the fused 1×1 mixing (shaders/gdn.wgsl). */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';

export interface GdnWeights { C: number; inverse: boolean; beta: GpuTensor; gamma: GpuTensor; label: string; release(): void }

export function prepareGdn(ctx: GpuContext, beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean, label = inverse ? 'igdn' : 'gdn'): GdnWeights {
  if (beta.length !== C || gamma.length !== C * C) throw new GpuShapeError(`GDN parameters (beta ${beta.length}, gamma ${gamma.length}) do not match C = ${C}`);
  const b = ctx.upload(beta, [C], { persistent: true, label: `${label}.beta` });
  const g = ctx.upload(gamma, [C, C], { persistent: true, label: `${label}.gamma` });
  return { C, inverse, beta: b, gamma: g, label, release() { b.release(); g.release(); } };
}

/** Pixels per workgroup (pure; tested): fewer for tiny maps so more workgroups run. */
export function gdnTile(P: number): number {
  return P >= 4096 ? 16 : P >= 256 ? 8 : 4;
}

export function gdn(ctx: GpuContext, x: GpuTensor, g: GdnWeights, label?: string): GpuTensor {
  if (x.layout !== 'hwc') throw new GpuShapeError('gdn expects an HWC feature map');
  const [C, H, W] = x.chw;
  if (C !== g.C) throw new GpuShapeError(`GDN over ${C} channels, parameters for ${g.C}`);
  const P = H * W;
  const TP = gdnTile(P);
  const y = ctx.empty([C, H, W], 'f32', 'hwc', label);
  const pipe = ctx.pipeline('gdn', { TP, INVERSE: g.inverse });
  ctx.dispatch(pipe, [ctx.uniform([P, C]), x, g.beta, g.gamma, y], [Math.ceil(C / 64), Math.ceil(P / TP)], label ?? g.label);
  return y;
}
