/**
 * GDN / inverse GDN over an HWC feature map x[P][C]:
 *   norm[p][i] = beta[i] + Σ_j gamma[i][j]·x[p][j]²   (gamma row = output channel, as CompressAI's 1×1 conv weight)
 *   GDN: y = x·inverseSqrt(norm);  IGDN: y = x·sqrt(norm).
 * The 1×1 mixing runs through the conv core (shaders/conv2d.wgsl, ops/conv.ts) as a 1×1 C→C conv with gamma as the
 * weight [C_out = i][C_in = j] and beta as the bias, in its GDN epilogue: the loader squares x, the epilogue applies
 * x·inverseSqrt(β + acc) or x·sqrt(β + acc). So GDN gets the conv core's register tiles, vec4 weight loads and
 * per-adapter variant choice (selectConvVariant, tuning). Always f32 (the codec's compat strings depend on it).
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { conv2d, prepareConv, type ConvWeights } from './conv.ts';

export interface GdnWeights {
  C: number;
  inverse: boolean;
  /** The 1×1 C→C conv: weight gamma [C_out][C_in], bias beta (f32). */
  conv: ConvWeights;
  label: string;
  release(): void;
}

/** Typed error for parameters that do not describe a GDN over C channels (pure; tested). */
export function gdnParamsProblem(beta: Float32Array, gamma: Float32Array, C: number): string | null {
  if (!Number.isInteger(C) || C < 1) return `GDN needs a positive integer channel count, got ${C}`;
  if (beta.length !== C || gamma.length !== C * C)
    return `GDN parameters (beta ${beta.length}, gamma ${gamma.length}) do not match C = ${C}`;
  return null;
}

export function prepareGdn(
  ctx: GpuContext,
  beta: Float32Array,
  gamma: Float32Array,
  C: number,
  inverse: boolean,
  label = inverse ? 'igdn' : 'gdn',
): GdnWeights {
  const problem = gdnParamsProblem(beta, gamma, C);
  if (problem) throw new GpuShapeError(problem);
  const conv = prepareConv(ctx, gamma, [C, C, 1, 1], beta, { label, precision: 'f32' });
  return {
    C,
    inverse,
    conv,
    label,
    release() {
      conv.release();
    },
  };
}

export function gdn(ctx: GpuContext, x: GpuTensor, g: GdnWeights, label?: string): GpuTensor {
  if (x.layout !== 'hwc') throw new GpuShapeError('gdn expects an HWC feature map');
  if (x.dtype !== 'f32') throw new GpuShapeError(`gdn expects an f32 feature map, got ${x.dtype}`);
  const C = x.chw[0];
  if (C !== g.C) throw new GpuShapeError(`GDN over ${C} channels, parameters for ${g.C}`);
  return conv2d(ctx, x, g.conv, { label: label ?? g.label, gdn: g.inverse ? 'inverse' : 'forward' });
}
