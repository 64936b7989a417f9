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
 * Tile choice of the original kernel (pure; tested; also used by ops/deconv.ts for deconv2.wgsl, so it stays as
 * it is): BN = 4·WGX output channels, BM = WGY·TM pixels per workgroup, with WGX·WGY ≤ the device's invocation
 * limit and the tiles within workgroup storage.
 */
export function selectConvTile(M: number, OC: number, maxInvocations = 256): ConvTile {
  const ocq = Math.ceil(OC / 4);
  const WGX = ocq >= 16 ? 16 : ocq >= 8 ? 8 : ocq >= 4 ? 4 : ocq >= 2 ? 2 : 1;
  let WGY = Math.min(Math.floor(maxInvocations / WGX), 16);
  while (WGY > 4 && WGY * 4 > M) WGY >>= 1; // tiny maps: don't launch mostly-empty tiles
  const TM = WGX >= 8 ? 4 : 8;
  return { WGX, WGY, TM, BK: 16 };
}

/** How conv2d.wgsl fills its A tile (see the shader's header). */
export type ConvLoad = 'generic' | 'hoist' | 'gemm';

/**
 * One specialisation of shaders/conv2d.wgsl: workgroup WGX×WGY, register tile TM pixels × TN vec4 columns per
 * invocation (BM = WGY·TM pixels, BN = 4·WGX·TN channels per workgroup), BK reductions per K step, A loader.
 */
export interface ConvVariant {
  WGX: number; WGY: number; TM: number; TN: number; BK: number; LOAD: ConvLoad;
  /** A tile stored as vec4 over 4 pixels (needs TM % 4 == 0). */
  A4: boolean;
}

/** The geometry a variant is chosen for. */
export interface ConvGeometry { M: number; C: number; OC: number; KH: number; KW: number; SH: number; SW: number; PH: number; PW: number; transposed: boolean }

/** Device limits the variant must respect. */
export interface ConvLimits { maxInvocations: number; maxWorkgroupStorage: number }

/** Multiply-adds (M·OC·K) below which conv2d uses the small, quick-to-compile tile. */
export const CONV_SMALL_WORK = 1 << 26;

const DEFAULT_LIMITS: ConvLimits = { maxInvocations: 256, maxWorkgroupStorage: 16384 };

/** The A loader a geometry can use (pure; tested): gemm for 1×1/stride 1/no padding, hoist for other convs, generic for transposed. */
export function selectConvLoad(g: ConvGeometry): ConvLoad {
  if (g.transposed) return 'generic';
  if (g.KH === 1 && g.KW === 1 && g.SH === 1 && g.SW === 1 && g.PH === 0 && g.PW === 0) return 'gemm';
  return 'hoist';
}

/** Workgroup storage (bytes) a variant needs: A tile BK×BM floats + B tile BK×BN4 vec4s. */
export function convVariantStorage(v: ConvVariant): number {
  return 4 * v.BK * v.WGY * v.TM + 16 * v.BK * v.WGX * v.TN;
}

/**
 * Why a variant cannot run this geometry on a device with these limits, or null when it can (pure; tested).
 */
export function convVariantProblem(v: ConvVariant, g: ConvGeometry, limits: ConvLimits = DEFAULT_LIMITS): string | null {
  for (const k of ['WGX', 'WGY', 'TM', 'TN', 'BK'] as const) {
    if (!Number.isInteger(v[k]) || v[k] < 1) return `${k} must be a positive integer, got ${v[k]}`;
  }
  if (v.TN > 4) return `TN must be 1 to 4, got ${v.TN}`;
  if (v.BK % 4 !== 0) return `BK must be a multiple of 4, got ${v.BK}`;
  if (v.A4 && v.TM % 4 !== 0) return `A4 needs TM % 4 == 0, got TM ${v.TM}`;
  if (v.WGX * v.WGY > limits.maxInvocations) return `workgroup ${v.WGX}x${v.WGY} exceeds the device's ${limits.maxInvocations} invocations`;
  const bytes = convVariantStorage(v);
  if (bytes > limits.maxWorkgroupStorage) return `tiles need ${bytes} bytes of workgroup storage, the device allows ${limits.maxWorkgroupStorage}`;
  if (g.transposed && v.LOAD !== 'generic') return `transposed convolutions need LOAD 'generic', got '${v.LOAD}'`;
  if (v.LOAD === 'gemm' && selectConvLoad(g) !== 'gemm') return `LOAD 'gemm' needs a 1x1 kernel, stride 1 and no padding`;
  return null;
}

/**
 * Variant choice for conv2d (pure; tested). Register tile and workgroup shape from measurements on lavapipe
 * (bench/conv.ts); shrunk to fit the device limits and to avoid mostly-empty tiles on small maps / few channels.
 */
export function selectConvVariant(g: ConvGeometry, limits: ConvLimits = DEFAULT_LIMITS): ConvVariant {
  const LOAD = selectConvLoad(g);
  const ocq = Math.ceil(g.OC / 4);
  let v: ConvVariant;
  if (g.M * g.OC * g.KH * g.KW * g.C < CONV_SMALL_WORK) {
    // Small problems (tests, hyperprior convs on small maps): run in milliseconds with any tile, so use the tile that
    // lavapipe compiles in ~1 s (the big register tile below takes 5–7 s per variant on first use).
    const WGX = ocq >= 16 ? 16 : ocq >= 8 ? 8 : ocq >= 4 ? 4 : ocq >= 2 ? 2 : 1;
    let WGY = 16;
    while (WGY > 1 && WGY * 4 > g.M) WGY >>= 1;
    v = { WGX, WGY, TM: 4, TN: 1, BK: 16, LOAD, A4: true };
  } else {
    // Measured on lavapipe (one workgroup = SIMD lanes on one core; bench/conv.ts): the inner loop is bound by
    // workgroup-memory loads (TM/4 + TN vec4 loads per 4·TM·TN FMAs), so big register tiles win even though the
    // accumulators spill: 16 pixels × 4 vec4 columns per invocation on a 4×8 workgroup (128 × 64 output tile), with
    // the A tile stored as vec4 over pixels, was 1.5–2.5× the original 4×1 on 16×16 for 3×3 and 5×5 convs.
    const TN = Math.min(4, ocq);
    let WGX = 4;
    while (WGX > 1 && WGX * TN > ocq) WGX >>= 1;        // don't launch mostly-empty channel columns
    let WGY = 8;
    while (WGY > 1 && WGY * 16 > g.M) WGY >>= 1;         // small maps: don't launch mostly-empty pixel rows
    v = { WGX, WGY, TM: 16, TN, BK: 16, LOAD, A4: true };
  }
  while (v.WGX * v.WGY > limits.maxInvocations) { if (v.WGY >= v.WGX && v.WGY > 1) v.WGY >>= 1; else v.WGX >>= 1; }
  while (convVariantStorage(v) > limits.maxWorkgroupStorage && v.BK > 4) v.BK /= 2;
  return v;
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
  /** Override (parts of) the selected kernel variant: for benchmarks and tests; checked against the device limits. */
  variant?: Partial<ConvVariant>;
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
  const geom: ConvGeometry = { M, C, OC: cw.OC, KH: cw.KH, KW: cw.KW, SH, SW, PH, PW, transposed: cw.transposed };
  const limits: ConvLimits = {
    maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupStorage: ctx.limits.maxComputeWorkgroupStorageSize,
  };
  const v: ConvVariant = { ...selectConvVariant(geom, limits), ...opts.variant };
  const problem = convVariantProblem(v, geom, limits);
  if (problem) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: kernel variant ${JSON.stringify(v)}: ${problem}`);
  const pipe = ctx.pipeline('conv2d', {
    WGX: v.WGX, WGY: v.WGY, TM: v.TM, TN: v.TN, BK: v.BK, A4: v.A4,
    LOAD_GENERIC: v.LOAD === 'generic',
    LOAD_HOIST: v.LOAD === 'hoist',
    LOAD_GEMM: v.LOAD === 'gemm',
    VEC_A: C % 4 === 0,
    TRANSPOSED: cw.transposed,
    RESIDUAL: !!opts.residual,
    RELU: !!opts.relu,
  });
  const u = ctx.uniform([H, W, C, OH, OW, cw.OC, cw.KW, SH, SW, PH, PW, K, M, OCP, 0, 0]);
  const bindings = [u, x, cw.w, cw.b, y];
  if (opts.residual) bindings.push(opts.residual);
  ctx.dispatch(pipe, bindings, [Math.ceil(cw.OC / (4 * v.WGX * v.TN)), Math.ceil(M / (v.WGY * v.TM))], opts.label ?? 'conv2d');
  return y;
}

/** CompressAI deconv: ConvTranspose2d(k, stride, padding = k // 2, output_padding = stride - 1). */
export function convTranspose2d(ctx: GpuContext, x: GpuTensor, cw: ConvWeights, opts: ConvOptions = {}): GpuTensor {
  if (!cw.transposed) throw new GpuShapeError('convTranspose2d needs weights prepared with transposed: true');
  return conv2d(ctx, x, cw, opts);
}
