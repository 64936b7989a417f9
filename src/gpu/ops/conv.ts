/**
 * Convolution family on the GPU: conv2d (any kernel, stride, padding; bias, residual, ReLU fused) and the
 * transposed convolution of CompressAI's `deconv`, both through shaders/conv2d.wgsl (tiled implicit GEMM).
 * Transposed convolutions run in one of two modes (selectConvMode): stride 2 as four sub-pixel stride-1 convs
 * (section "Sub-pixel mode" below), anything else through the kernel's gather form (TRANSPOSED).
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError, GpuUnavailableError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { describeAdapter, type AdapterDescription } from '../adapter-class.ts';
import { noteConvGeometry, tunedVariant } from '../tuning.ts';
import { defineParams } from '../params.ts';
import {
  convOutputSize,
  convShape,
  convVariantProblem,
  gdnProblem,
  selectConvMode,
  selectConvVariant,
  subpixelProblem,
  subpixelTaps,
  type ConvGeometry,
  type ConvLimits,
  type ConvMode,
  type ConvReplay,
  type ConvShape,
  type ConvVariant,
} from './conv-select.ts';
import { packF16, precisionProblem, type Precision } from '../../util/f16.ts';

export interface ConvWeights {
  /** [K = KH*KW*C][OCP] packed, OCP = OC rounded up to 4. */
  w: GpuTensor;
  b: GpuTensor;
  C: number;
  OC: number;
  KH: number;
  KW: number;
  transposed: boolean;
  /** 'f16': `w` holds binary16 weights (two per u32) and the kernel rounds its A operands to f16; f32 accumulation. */
  precision: Precision;
  /** Transposed only: the host weights [C, OC, KH, KW] (kept by reference) the sub-pixel classes are packed from. */
  host?: { weight: Float32Array; shape: readonly number[] };
  /** Transposed only: sub-pixel class weights per padding "PH,PW", packed and uploaded on first use. */
  subpixel?: Map<string, SubpixelDeconv>;
  release(): void;
}

/**
 * Repack PyTorch weights into the GEMM layout [(ky, kx, ci)][OCP] (pure; tested).
 * conv: weight [OC, C, KH, KW]. transposed: weight [C, OC, KH, KW] (ConvTranspose2d layout).
 */
export function packConvWeight(
  weight: Float32Array,
  shape: readonly number[],
  transposed: boolean,
): { packed: Float32Array; C: number; OC: number; KH: number; KW: number; OCP: number } {
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

export function prepareConv(
  ctx: GpuContext,
  weight: Float32Array,
  shape: readonly number[],
  bias: Float32Array | null,
  opts: { transposed?: boolean; label?: string; precision?: Precision } = {},
): ConvWeights {
  const transposed = !!opts.transposed;
  const precision = opts.precision ?? 'f32';
  checkPrecision(ctx, precision, `conv ${opts.label ?? ''}: `);
  if (precision === 'f16' && transposed)
    throw new GpuShapeError(
      `conv ${opts.label ?? ''}: precision 'f16' is for ordinary convolutions (the codec's transposed convs stay f32)`,
    );
  if (shape.length !== 4) throw new GpuShapeError(`conv weight must be 4-D, got [${shape.join(',')}]`);
  const [d0, d1, KH, KW] = shape as [number, number, number, number];
  if (weight.length !== d0 * d1 * KH * KW) throw new GpuShapeError(`conv weight has ${weight.length} values for [${shape.join(',')}]`);
  const OC = transposed ? d1 : d0,
    C = transposed ? d0 : d1,
    OCP = Math.ceil(OC / 4) * 4;
  const b = new Float32Array(OCP);
  if (bias) {
    if (bias.length !== OC) throw new GpuShapeError(`bias has ${bias.length} values, conv has ${OC} output channels`);
    b.set(bias);
  }
  const label = opts.label ?? 'conv';
  const bt = ctx.upload(b, [OCP], { persistent: true, label: `${label}.b` });
  // f16: [K][OCP] binary16 values, two per u32 (OCP is a multiple of 4, so rows stay vec4-aligned)
  const upload = (): GpuTensor => {
    const packed = packConvWeight(weight, shape, transposed).packed;
    return precision === 'f16'
      ? ctx.upload(packF16(packed, `${label}.weight`), [KH * KW * C, OCP / 2], { persistent: true, label: `${label}.w16` })
      : ctx.upload(packed, [KH * KW * C, OCP], { persistent: true, label: `${label}.w` });
  };
  if (!transposed) {
    const w = upload();
    return {
      w,
      b: bt,
      C,
      OC,
      KH,
      KW,
      transposed,
      precision,
      release() {
        w.release();
        bt.release();
      },
    };
  }
  // Transposed: the gather-form packing is uploaded only if a gather-mode call needs it (stride-2 calls run in
  // sub-pixel mode from per-class packings), so the weights are not resident twice.
  let w: GpuTensor | null = null;
  const subpixel = new Map<string, SubpixelDeconv>();
  return {
    get w(): GpuTensor {
      return (w ??= upload());
    },
    b: bt,
    C,
    OC,
    KH,
    KW,
    transposed,
    precision,
    host: { weight, shape: [...shape] },
    subpixel,
    release() {
      w?.release();
      w = null;
      bt.release();
      for (const d of subpixel.values()) d.release();
      subpixel.clear();
    },
  };
}

/**
 * Throws GpuUnavailableError (with the fix) when `precision` cannot run on ctx's device: 'f16' needs 'shader-f16'.
 * The one check behind GpuBackend's precision option and prepareConv.
 */
export function checkPrecision(ctx: GpuContext, precision: Precision, prefix = ''): void {
  const problem = precisionProblem(precision, ctx.features, `adapter '${ctx.info.description || ctx.info.vendor || 'unknown'}'`);
  if (problem)
    throw new GpuUnavailableError(
      `${prefix}${problem}`,
      "precision: 'f32' (the default), or an adapter that has 'shader-f16' (webvcm doctor lists the features)",
    );
}

// ---- Sub-pixel mode of the stride-2 transposed convolution ---------------------------------------------------------
// Output pixel (2·my + PY, 2·mx + PX) of ConvTranspose2d(stride 2, padding pad) only receives taps ky = RY + 2·ty
// (RY = (PY + pad) % 2, ty < NTY = ⌈(KH − RY) / 2⌉) from input row iy = my + DY − ty (DY = ⌊(PY + pad) / 2⌋); same
// for x. With the taps reversed (t' = NTY − 1 − ty) each parity class is an ordinary stride-1 conv over the input
// with an NTY×NTX kernel and top/left padding NTY − 1 − DY / NTX − 1 − DX, whose output (my, mx) the kernel's OUT_MAP
// epilogue writes to (2·my + PY, 2·mx + PX). Compared with the gather form this skips the ~3/4 of the K·K taps that
// never reach a given output pixel, and it runs on the tuned direct-conv loaders and register tiles.

/**
 * Pack ConvTranspose2d weights [C, OC, KH, KW] for parity class (PY, PX) as the [(ty', tx', ci)][OCP] weights of the
 * class's stride-1 conv (taps reversed: ty' = NTY − 1 − ty holds ky = RY + 2·ty) (pure; tested).
 * PH/PW: that conv's top/left padding.
 */
export function packSubpixel(weight: Float32Array, shape: readonly number[], pad: number | [number, number], PY: number, PX: number) {
  if (shape.length !== 4) throw new GpuShapeError(`deconv weight must be 4-D, got [${shape.join(',')}]`);
  const [C, OC, KH, KW] = shape as [number, number, number, number];
  if (weight.length !== C * OC * KH * KW) throw new GpuShapeError(`deconv weight has ${weight.length} values for [${shape.join(',')}]`);
  const [padY, padX] = pair(pad, 0);
  const ty = subpixelTaps(KH, padY, PY),
    tx = subpixelTaps(KW, padX, PX);
  const RY = ty.R,
    RX = tx.R,
    NTY = ty.NT,
    NTX = tx.NT;
  const OCP = Math.ceil(OC / 4) * 4;
  const packed = new Float32Array(Math.max(1, NTY * NTX * C) * OCP);
  for (let a = 0; a < NTY; a++)
    for (let b = 0; b < NTX; b++)
      for (let ci = 0; ci < C; ci++)
        for (let oc = 0; oc < OC; oc++) {
          const ky = RY + 2 * (NTY - 1 - a),
            kx = RX + 2 * (NTX - 1 - b);
          packed[((a * NTX + b) * C + ci) * OCP + oc] = weight[((ci * OC + oc) * KH + ky) * KW + kx]!;
        }
  return { packed, RY, RX, NTY, NTX, PH: ty.pad, PW: tx.pad, OCP };
}

export interface SubpixelClass {
  PY: number;
  PX: number;
  NTY: number;
  NTX: number;
  PH: number;
  PW: number;
  w: GpuTensor;
}
export interface SubpixelDeconv {
  pad: [number, number];
  classes: SubpixelClass[];
  release(): void;
}

/** Pack and upload the four class weights of a stride-2 transposed conv for padding `pad` (bias: the conv's own). */
export function prepareSubpixelDeconv(
  ctx: GpuContext,
  weight: Float32Array,
  shape: readonly number[],
  pad: number | [number, number],
  label = 'deconv',
): SubpixelDeconv {
  const classes: SubpixelClass[] = [];
  for (const [PY, PX] of [
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ] as const) {
    const s = packSubpixel(weight, shape, pad, PY, PX);
    const w = ctx.upload(s.packed, [s.packed.length / s.OCP, s.OCP], { persistent: true, label: `${label}.sub${PY}${PX}.w` });
    classes.push({ PY, PX, NTY: s.NTY, NTX: s.NTX, PH: s.PH, PW: s.PW, w });
  }
  return {
    pad: pair(pad, 0),
    classes,
    release() {
      for (const c of classes) c.w.release();
    },
  };
}

export * from './conv-select.ts';

/** shaders/conv2d.wgsl's struct Params (YW..OPX: the OUT_MAP epilogue; GI: the GDN epilogue, 1 = inverse). */
const CONV_PARAMS = defineParams('conv2d', {
  H: 'u32',
  W: 'u32',
  C: 'u32',
  OH: 'u32',
  OW: 'u32',
  OC: 'u32',
  KW: 'u32',
  SH: 'u32',
  SW: 'u32',
  PH: 'u32',
  PW: 'u32',
  K: 'u32',
  M: 'u32',
  OCP: 'u32',
  YW: 'u32',
  OSY: 'u32',
  OSX: 'u32',
  OPY: 'u32',
  OPX: 'u32',
  GI: 'u32',
});

// ---- conv2d ------------------------------------------------------------------------------------------------------------

export interface ConvOptions {
  stride?: number | [number, number];
  pad?: number | [number, number];
  outputPadding?: number;
  relu?: boolean;
  residual?: GpuTensor;
  label?: string;
  /** Override (parts of) the selected kernel variant: for benchmarks and tests; checked against the device limits. */
  variant?: Partial<ConvVariant>;
  /** Transposed convs: override the selected mode ('gather' always works; 'subpixel' is checked): for tests and benchmarks. */
  mode?: 'gather' | 'subpixel';
  /**
   * GDN epilogue (ops/gdn.ts): the conv is GDN's 1×1 mixing (weights gamma, bias beta): inputs are squared in the
   * loader and the output is x·inverseSqrt(beta + Σ gamma·x²) ('forward') or x·sqrt(…) ('inverse'). Checked by gdnProblem.
   */
  gdn?: 'forward' | 'inverse';
}

function pair(v: number | [number, number] | undefined, d: number): [number, number] {
  return v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;
}

const ADAPTERS = new WeakMap<GpuContext, AdapterDescription>();
/** The context's adapter description (classified once per context). */
export function adapterOf(ctx: GpuContext): AdapterDescription {
  let a = ADAPTERS.get(ctx);
  if (!a) {
    a = describeAdapter(ctx.info, ctx.limits, ctx.features);
    ADAPTERS.set(ctx, a);
  }
  return a;
}

/** One dispatch of conv2d.wgsl: the GEMM over an OH×OW grid, written to y directly or through `map` (OUT_MAP). */
interface ConvGemm extends ConvShape {
  x: GpuTensor;
  w: GpuTensor;
  b: GpuTensor;
  y: GpuTensor;
  residual?: GpuTensor;
  H: number;
  W: number;
  OH: number;
  OW: number;
  /** f16 weights in `w` (F16 kernel). */
  f16?: boolean;
  /** GDN epilogue (checked by conv2d with gdnProblem). */
  gdn?: 'forward' | 'inverse';
  map?: { YW: number; OSY: number; OSX: number; OPY: number; OPX: number };
}

function dispatchConv(ctx: GpuContext, d: ConvGemm, opts: ConvOptions): void {
  const M = d.OH * d.OW;
  const K = d.KH * d.KW * d.C;
  const OCP = Math.ceil(d.OC / 4) * 4;
  const geom: ConvGeometry = { M, ...convShape(d), outMap: !!d.map };
  const adapter = adapterOf(ctx);
  const limits: ConvLimits = { maxInvocations: adapter.maxInvocations, maxWorkgroupStorage: adapter.maxWorkgroupStorage };
  noteConvGeometry(ctx, {
    geom,
    H: d.H,
    W: d.W,
    OH: d.OH,
    OW: d.OW,
    yShape: [d.y.chw[0], d.y.chw[1], d.y.chw[2]],
    map: d.map,
    residual: !!d.residual,
    relu: !!opts.relu,
  });
  const tuned = tunedVariant(ctx, geom);
  const chosen = tuned && convVariantProblem(tuned, geom, limits) === null ? tuned : selectConvVariant(geom, adapter);
  const v: ConvVariant = { ...chosen, ...opts.variant };
  const problem = convVariantProblem(v, geom, limits);
  if (problem) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: kernel variant ${JSON.stringify(v)}: ${problem}`);
  const pipe = ctx.pipeline('conv2d', {
    WGX: v.WGX,
    WGY: v.WGY,
    TM: v.TM,
    TN: v.TN,
    BK: v.BK,
    A4: v.A4,
    LOAD_GENERIC: v.LOAD === 'generic',
    LOAD_HOIST: v.LOAD === 'hoist',
    LOAD_GEMM: v.LOAD === 'gemm',
    VEC_A: d.C % 4 === 0,
    TRANSPOSED: d.transposed,
    RESIDUAL: !!d.residual,
    RELU: !!opts.relu,
    OUT_MAP: !!d.map,
    F16: !!d.f16,
    GDN: !!d.gdn,
  });
  const m = d.map ?? { YW: d.OW, OSY: 1, OSX: 1, OPY: 0, OPX: 0 };
  const u = ctx.uniform(
    CONV_PARAMS.pack({
      H: d.H,
      W: d.W,
      C: d.C,
      OH: d.OH,
      OW: d.OW,
      OC: d.OC,
      KW: d.KW,
      SH: d.SH,
      SW: d.SW,
      PH: d.PH,
      PW: d.PW,
      K,
      M,
      OCP,
      YW: m.YW,
      OSY: m.OSY,
      OSX: m.OSX,
      OPY: m.OPY,
      OPX: m.OPX,
      GI: d.gdn === 'inverse' ? 1 : 0,
    }),
  );
  const bindings = [u, d.x, d.w, d.b, d.y];
  if (d.residual) bindings.push(d.residual);
  ctx.dispatch(pipe, bindings, [Math.ceil(d.OC / (4 * v.WGX * v.TN)), Math.ceil(M / (v.WGY * v.TM))], opts.label ?? 'conv2d');
}

/**
 * Allocate random-free (zero) tensors for a recorded dispatch; `run(variant)` encodes it once with that variant.
 * For tuning only: the values do not matter, the shapes and the variant do.
 */
export function convReplay(ctx: GpuContext, r: ConvReplay): { run(variant: ConvVariant): void; release(): void } {
  const g = r.geom;
  const OCP = Math.ceil(g.OC / 4) * 4;
  const x = ctx.upload(new Float32Array(g.C * r.H * r.W), [g.C, r.H, r.W], { layout: 'hwc', label: 'tune.x' });
  const w = ctx.upload(new Float32Array(g.KH * g.KW * g.C * OCP), [g.KH * g.KW * g.C, OCP], { label: 'tune.w' });
  const b = ctx.upload(new Float32Array(OCP), [OCP], { label: 'tune.b' });
  const y = ctx.empty(r.yShape, 'f32', 'hwc', 'tune.y');
  const residual = r.residual ? ctx.empty(r.yShape, 'f32', 'hwc', 'tune.res') : undefined;
  return {
    run(variant) {
      dispatchConv(
        ctx,
        {
          x,
          w,
          b,
          y,
          residual,
          ...convShape(g),
          H: r.H,
          W: r.W,
          OH: r.OH,
          OW: r.OW,
          map: r.map,
        },
        { relu: r.relu, variant, label: 'tune' },
      );
    },
    release() {
      x.release();
      w.release();
      b.release();
      y.release();
      residual?.release();
    },
  };
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
  if (opts.mode && !cw.transposed)
    throw new GpuShapeError(`conv2d ${opts.label ?? ''}: mode '${opts.mode}' is for transposed convolutions`);
  const g: ConvShape = { C, OC: cw.OC, KH: cw.KH, KW: cw.KW, SH, SW, PH, PW, transposed: cw.transposed };
  const mode: ConvMode = opts.mode ?? selectConvMode(g);
  if (mode === 'subpixel') {
    const problem = subpixelProblem(g) ?? (cw.host && cw.subpixel ? null : 'the weights were not prepared with their host copy');
    if (problem) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: ${problem}`);
  }
  if (opts.gdn) {
    const problem =
      opts.gdn !== 'forward' && opts.gdn !== 'inverse'
        ? `gdn must be 'forward' or 'inverse', got '${String(opts.gdn)}'`
        : gdnProblem({ ...g, precision: cw.precision, residual: !!opts.residual, relu: !!opts.relu });
    if (problem) throw new GpuShapeError(`conv2d ${opts.label ?? ''}: ${problem}`);
  }
  if (opts.residual) {
    const r = opts.residual.shape;
    if (r[0] !== cw.OC || r[1] !== OH || r[2] !== OW)
      throw new GpuShapeError(`residual [${r.join(',')}] does not match conv output [${cw.OC},${OH},${OW}]`);
  }
  const y = ctx.empty([cw.OC, OH, OW], 'f32', 'hwc', opts.label);
  const base = { x, b: cw.b, y, residual: opts.residual, H, W, C, OC: cw.OC };
  if (mode !== 'subpixel') {
    dispatchConv(ctx, { ...base, ...g, w: cw.w, OH, OW, f16: cw.precision === 'f16', gdn: opts.gdn }, opts);
    return y;
  }
  const key = `${PH},${PW}`;
  let sub = cw.subpixel!.get(key);
  if (!sub) {
    sub = prepareSubpixelDeconv(ctx, cw.host!.weight, cw.host!.shape, [PH, PW], opts.label);
    cw.subpixel!.set(key, sub);
  }
  for (const c of sub.classes) {
    // class (PY, PX) covers output rows PY, PY + 2, ... and columns PX, PX + 2, ...
    const OHC = Math.ceil((OH - c.PY) / 2),
      OWC = Math.ceil((OW - c.PX) / 2);
    if (OHC <= 0 || OWC <= 0) continue;
    dispatchConv(
      ctx,
      {
        ...base,
        w: c.w,
        KH: c.NTY,
        KW: c.NTX,
        SH: 1,
        SW: 1,
        PH: c.PH,
        PW: c.PW,
        OH: OHC,
        OW: OWC,
        transposed: false,
        map: { YW: OW, OSY: 2, OSX: 2, OPY: c.PY, OPX: c.PX },
      },
      opts,
    );
  }
  return y;
}

/** CompressAI deconv: ConvTranspose2d(k, stride, padding = k // 2, output_padding = stride - 1). */
export function convTranspose2d(ctx: GpuContext, x: GpuTensor, cw: ConvWeights, opts: ConvOptions = {}): GpuTensor {
  if (!cw.transposed) throw new GpuShapeError('convTranspose2d needs weights prepared with transposed: true');
  return conv2d(ctx, x, cw, opts);
}
