/**
 * The pure half of conv2d: variant, loader and mode selection, validity checks and output sizes. No GPU and no
 * context here, so the tuner (../tuning.ts), the benches and the tests use them without the kernel module, and
 * conv.ts imports them (never the other way).
 */
import type { AdapterDescription } from '../adapter-class.ts';
import type { Precision } from '../../util/f16.ts';

/** How conv2d.wgsl fills its A tile (see the shader's header). */
export type ConvLoad = 'generic' | 'hoist' | 'gemm';

/**
 * One specialisation of shaders/conv2d.wgsl: workgroup WGX×WGY, register tile TM pixels × TN vec4 columns per
 * invocation (BM = WGY·TM pixels, BN = 4·WGX·TN channels per workgroup), BK reductions per K step, A loader.
 */
export interface ConvVariant {
  WGX: number;
  WGY: number;
  TM: number;
  TN: number;
  BK: number;
  LOAD: ConvLoad;
  /** A tile stored as vec4 over 4 pixels (needs TM % 4 == 0). */
  A4: boolean;
}

/** A conv's own shape: channels in and out, kernel, stride, padding, and whether it is transposed. */
export interface ConvShape {
  C: number;
  OC: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
  transposed: boolean;
}

/** The {@link ConvShape} fields of a larger record (a dispatch, a recorded geometry), and nothing else. */
export function convShape(s: ConvShape): ConvShape {
  return { C: s.C, OC: s.OC, KH: s.KH, KW: s.KW, SH: s.SH, SW: s.SW, PH: s.PH, PW: s.PW, transposed: s.transposed };
}

/**
 * The geometry a variant is chosen for: the conv's shape over M output pixels. outMap: the output grid is explicit
 * and written through OUT_MAP (a sub-pixel class), so it need not be the input grid (rules out the gemm loader).
 */
export interface ConvGeometry extends ConvShape {
  M: number;
  outMap?: boolean;
}

/** Device limits the variant must respect. */
export interface ConvLimits {
  maxInvocations: number;
  maxWorkgroupStorage: number;
}

/** Multiply-adds (M·OC·K) below which conv2d uses the small, quick-to-compile tile. */
export const CONV_SMALL_WORK = 1 << 26;

const DEFAULT_LIMITS: ConvLimits = { maxInvocations: 256, maxWorkgroupStorage: 16384 };

/**
 * The A loader a geometry can use (pure; tested): gemm for 1×1/stride 1/no padding (output grid = input grid), hoist
 * for other convs and sub-pixel classes, generic for the gather form of transposed convs.
 */
export function selectConvLoad(g: ConvGeometry): ConvLoad {
  if (g.transposed) return 'generic';
  if (g.outMap) return 'hoist';
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
  if (bytes > limits.maxWorkgroupStorage)
    return `tiles need ${bytes} bytes of workgroup storage, the device allows ${limits.maxWorkgroupStorage}`;
  if (g.transposed && v.LOAD !== 'generic') return `transposed convolutions need LOAD 'generic', got '${v.LOAD}'`;
  if (v.LOAD === 'gemm' && selectConvLoad(g) !== 'gemm') return `LOAD 'gemm' needs a 1x1 kernel, stride 1, no padding and no output map`;
  return null;
}

/**
 * Variant choice for conv2d (pure; tested). `target` is either plain limits (treated as a software adapter: the old
 * behaviour) or an AdapterDescription (src/gpu/adapter-class.ts), whose class picks the register tile:
 * - software (llvmpipe, SwiftShader): measured on lavapipe, below;
 * - discrete GPU: 8 px × 2 vec4 (8×8 outputs) per invocation on 8×16 = 128 invocations (128 px × 64 ch tile), the
 *   range the strongest WebGPU matmuls use; integrated GPU: 8 px × 1 vec4 (8×4) on 8×8 = 64 invocations.
 * Shrunk to fit the device limits and to avoid mostly-empty tiles on small maps / few channels.
 */
export function selectConvVariant(g: ConvGeometry, target: ConvLimits | AdapterDescription = DEFAULT_LIMITS): ConvVariant {
  const LOAD = selectConvLoad(g);
  const ocq = Math.ceil(g.OC / 4);
  const adapter = 'class' in target ? target : null;
  const limits: ConvLimits = adapter
    ? { maxInvocations: adapter.maxInvocations, maxWorkgroupStorage: adapter.maxWorkgroupStorage }
    : target;
  let v: ConvVariant;
  if (adapter && adapter.class !== 'software') {
    const discrete = adapter.class === 'discrete';
    const TN = Math.min(discrete ? 2 : 1, ocq);
    let WGX = 8;
    while (WGX > 1 && WGX * TN > ocq) WGX >>= 1;
    let WGY = discrete ? 16 : 8;
    const TM = g.M <= 64 ? 4 : 8;
    while (WGY > 1 && WGY * TM > g.M) WGY >>= 1;
    v = { WGX, WGY, TM, TN, BK: 16, LOAD, A4: true };
  } else if (g.M * g.OC * g.KH * g.KW * g.C < CONV_SMALL_WORK) {
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
    while (WGX > 1 && WGX * TN > ocq) WGX >>= 1; // don't launch mostly-empty channel columns
    let WGY = 8;
    while (WGY > 1 && WGY * 16 > g.M) WGY >>= 1; // small maps: don't launch mostly-empty pixel rows
    v = { WGX, WGY, TM: 16, TN, BK: 16, LOAD, A4: true };
  }
  while (v.WGX * v.WGY > limits.maxInvocations) {
    if (v.WGY >= v.WGX && v.WGY > 1) v.WGY >>= 1;
    else v.WGX >>= 1;
  }
  while (convVariantStorage(v) > limits.maxWorkgroupStorage && v.BK > 4) v.BK /= 2;
  return v;
}

export function convOutputSize(inSize: number, k: number, stride: number, pad: number, transposed = false, outputPadding = 0): number {
  return transposed ? (inSize - 1) * stride - 2 * pad + k + outputPadding : Math.floor((inSize + 2 * pad - k) / stride) + 1;
}

/** Tap set of parity class P along one dimension of a stride-2 transposed conv with kernel K, padding pad (pure). */
export function subpixelTaps(K: number, pad: number, P: number): { R: number; NT: number; pad: number } {
  const R = (P + pad) % 2;
  const NT = Math.max(0, Math.ceil((K - R) / 2));
  return { R, NT, pad: NT - 1 - Math.floor((P + pad) / 2) };
}

/** How conv2d runs: an ordinary conv, a transposed conv in the gather form, or a stride-2 transposed conv as sub-pixel classes. */
export type ConvMode = 'direct' | 'gather' | 'subpixel';

/** Why the sub-pixel mode cannot run this transposed conv, or null when it can (pure; tested). */
export function subpixelProblem(g: Pick<ConvShape, 'KH' | 'KW' | 'SH' | 'SW' | 'PH' | 'PW'>): string | null {
  if (g.SH !== 2 || g.SW !== 2) return `sub-pixel mode needs stride 2, got ${g.SH}x${g.SW}`;
  if (g.KH < 2 || g.KW < 2) return `sub-pixel mode needs kernels of at least 2 taps per dimension, got ${g.KH}x${g.KW}`;
  if (g.PH < 0 || g.PW < 0) return `sub-pixel mode needs non-negative padding, got ${g.PH}x${g.PW}`;
  for (const P of [0, 1]) {
    // a class conv would need negative (cropping) padding: padding larger than the kernel reaches
    if (subpixelTaps(g.KH, g.PH, P).pad < 0 || subpixelTaps(g.KW, g.PW, P).pad < 0)
      return `sub-pixel mode needs padding within the kernel, got ${g.PH}x${g.PW} for ${g.KH}x${g.KW}`;
  }
  return null;
}

/**
 * Mode choice (pure; tested): transposed convs with stride 2 (CompressAI's deconvs) run as sub-pixel classes when the
 * geometry allows it, other transposed convs in the gather form; ordinary convs directly.
 */
export function selectConvMode(g: Omit<ConvShape, 'C' | 'OC'>): ConvMode {
  if (!g.transposed) return 'direct';
  return subpixelProblem(g) === null ? 'subpixel' : 'gather';
}

/**
 * Why the GDN epilogue cannot run on this conv, or null when it can (pure; tested): it needs a square (C == OC) 1×1
 * conv, stride 1, no padding, f32, and nothing else fused (no residual, ReLU or transposition).
 */
export function gdnProblem(g: ConvShape & { precision: Precision; residual: boolean; relu: boolean }): string | null {
  if (g.transposed) return 'the GDN epilogue is for ordinary convolutions, not transposed ones';
  if (g.KH !== 1 || g.KW !== 1) return `the GDN epilogue needs a 1x1 kernel, got ${g.KH}x${g.KW}`;
  if (g.SH !== 1 || g.SW !== 1 || g.PH !== 0 || g.PW !== 0)
    return `the GDN epilogue needs stride 1 and no padding, got stride ${g.SH}x${g.SW}, padding ${g.PH}x${g.PW}`;
  if (g.C !== g.OC) return `the GDN epilogue needs as many output as input channels, got ${g.C} -> ${g.OC}`;
  if (g.precision !== 'f32') return `the GDN epilogue runs in f32, got precision '${g.precision}'`;
  if (g.residual || g.relu) return 'the GDN epilogue cannot be combined with a residual or ReLU';
  return null;
}

/** What `webvcm tune` needs to replay one conv dispatch: its geometry and tensor sizes (recorded by conv2d). */
export interface ConvReplay {
  geom: ConvGeometry;
  H: number;
  W: number;
  OH: number;
  OW: number;
  yShape: [number, number, number];
  map?: { YW: number; OSY: number; OSX: number; OPY: number; OPX: number };
  residual: boolean;
  relu: boolean;
}
