/**
 * Convolution family on the GPU: conv2d (any kernel, stride, padding; bias, residual, ReLU fused) and the
 * transposed convolution of CompressAI's `deconv`, both through shaders/conv2d.wgsl (tiled implicit GEMM).
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';

export interface ConvWeights {
  /** [K = KH*KW*C][OCP] packed, OCP = OC rounded up to 4. */
  w: GpuTensor;
  b: GpuTensor;
  C: number;
  OC: number;
  KH: number;
  KW: number;
  transposed: boolean;
  release(): void;
}

/**
 * Repack PyTorch weights into the GEMM layout [(ky, kx, ci)][OCP] (pure; tested).
 * conv: weight [OC, C, KH, KW]. transposed: weight [C, OC, KH, KW] (ConvTranspose2d layout).
 */
export function packConvWeight(weight: Float32Array, shape: readonly number[], transposed: boolean): { packed: Float32Array; C: number; OC: number; KH: number; KW: number; OCP: number } {
  if (shape.length !== 4) throw new GpuShapeError(`conv weight must be 4-D, got [${shape.join(',')}]`);
  const [d0, d1, KH, KW] = shape as [number, number, number, number];
  const OC = transposed ? d1 : d0;
  const C = transposed ? d0 : d1;
  if (weight.length !== d0 * d1 * KH * KW) throw new GpuShapeError(`conv weight has ${weight.length} values for [${shape.join(',')}]`);
  const OCP = Math.ceil(OC / 4) * 4;
  const packed = new Float32Array(KH * KW * C * OCP);
  for (let oc = 0; oc < OC; oc++)
    for (let ci = 0; ci < C; ci++)
      for (let ky = 0; ky < KH; ky++)
        for (let kx = 0; kx < KW; kx++) {
          const src = transposed ? ((ci * OC + oc) * KH + ky) * KW + kx : ((oc * C + ci) * KH + ky) * KW + kx;
          const k = (ky * KW + kx) * C + ci;
          packed[k * OCP + oc] = weight[src]!;
        }
  return { packed, C, OC, KH, KW, OCP };
}

export function prepareConv(ctx: GpuContext, weight: Float32Array, shape: readonly number[], bias: Float32Array | null, opts: { transposed?: boolean; label?: string } = {}): ConvWeights {
  const transposed = !!opts.transposed;
  const { packed, C, OC, KH, KW, OCP } = packConvWeight(weight, shape, transposed);
  const b = new Float32Array(OCP);
  if (bias) {
    if (bias.length !== OC) throw new GpuShapeError(`bias has ${bias.length} values, conv has ${OC} output channels`);
    b.set(bias);
  }
  const w = ctx.upload(packed, [KH * KW * C, OCP], { persistent: true, label: `${opts.label ?? 'conv'}.w` });
  const bt = ctx.upload(b, [OCP], { persistent: true, label: `${opts.label ?? 'conv'}.b` });
  return { w, b: bt, C, OC, KH, KW, transposed, release() { w.release(); bt.release(); } };
}

export interface ConvTile { WGX: number; WGY: number; TM: number; BK: number }

/**
 * Tile choice (pure; tested): BN = 4·WGX output channels, BM = WGY·TM pixels per workgroup, with
 * WGX·WGY ≤ the device's invocation limit and the tiles within workgroup storage.
 */
export function selectConvTile(M: number, OC: number, maxInvocations = 256): ConvTile {
  const ocq = Math.ceil(OC / 4);
  const WGX = ocq >= 16 ? 16 : ocq >= 8 ? 8 : ocq >= 4 ? 4 : ocq >= 2 ? 2 : 1;
  let WGY = Math.min(Math.floor(maxInvocations / WGX), 16);
  while (WGY > 4 && WGY * 4 > M) WGY >>= 1; // tiny maps: don't launch mostly-empty tiles
  const TM = WGX >= 8 ? 4 : 8;
  return { WGX, WGY, TM, BK: 16 };
}

export function convOutputSize(inSize: number, k: number, stride: number, pad: number, transposed = false, outputPadding = 0): number {
  return transposed ? (inSize - 1) * stride - 2 * pad + k + outputPadding : Math.floor((inSize + 2 * pad - k) / stride) + 1;
}

export interface ConvOptions {
  stride?: number | [number, number];
  pad?: number | [number, number];
  outputPadding?: number;
  relu?: boolean;
  residual?: GpuTensor;
  label?: string;
}

function pair(v: number | [number, number] | undefined, d: number): [number, number] {
  return v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;
}

export function conv2d(ctx: GpuContext, x: GpuTensor, cw: ConvWeights, opts: ConvOptions = {}): GpuTensor {
  if (x.layout !== 'hwc') throw new GpuShapeError('conv2d expects an HWC feature map');
  const [C, H, W] = x.chw;
  if (C !== cw.C) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: input has ${C} channels, weights expect ${cw.C}`);
  const [SH, SW] = pair(opts.stride, 1);
  const [PH, PW] = pair(opts.pad, 0);
  const op = opts.outputPadding ?? 0;
  const OH = convOutputSize(H, cw.KH, SH, PH, cw.transposed, op);
  const OW = convOutputSize(W, cw.KW, SW, PW, cw.transposed, op);
  if (OH <= 0 || OW <= 0) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: output would be ${OH}x${OW}`);
  const y = ctx.empty([cw.OC, OH, OW], 'f32', 'hwc', opts.label);
  if (opts.residual) {
    const r = opts.residual.shape;
    if (r[0] !== cw.OC || r[1] !== OH || r[2] !== OW) throw new GpuShapeError(`residual [${r.join(',')}] does not match conv output [${cw.OC},${OH},${OW}]`);
  }
  const M = OH * OW;
  const K = cw.KH * cw.KW * C;
  const OCP = Math.ceil(cw.OC / 4) * 4;
  const tile = selectConvTile(M, cw.OC, ctx.limits.maxComputeInvocationsPerWorkgroup);
  const pipe = ctx.pipeline('conv2d', {
    ...tile,
    VEC_A: C % 4 === 0,
    TRANSPOSED: cw.transposed,
    RESIDUAL: !!opts.residual,
    RELU: !!opts.relu,
  });
  const u = ctx.uniform([H, W, C, OH, OW, cw.OC, cw.KW, SH, SW, PH, PW, K, M, OCP, 0, 0]);
  const bindings = [u, x, cw.w, cw.b, y];
  if (opts.residual) bindings.push(opts.residual);
  ctx.dispatch(pipe, bindings, [Math.ceil(cw.OC / (4 * tile.WGX)), Math.ceil(M / (tile.WGY * tile.TM))], opts.label ?? 'conv2d');
  return y;
}

/** CompressAI deconv: ConvTranspose2d(k, stride, padding = k // 2, output_padding = stride - 1). */
export function convTranspose2d(ctx: GpuContext, x: GpuTensor, cw: ConvWeights, opts: ConvOptions = {}): GpuTensor {
  if (!cw.transposed) throw new GpuShapeError('convTranspose2d needs weights prepared with transposed: true');
  return conv2d(ctx, x, cw, opts);
}
