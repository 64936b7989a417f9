// Golden pipeline data (../shared/golden/pipeline, case P_A: real Detectron2 + CompressAI chained by the codec
// contract) and the host-side contract formulas the pipeline tests compare against.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, expect } from 'vitest';
import { readNpy, type NpyArray } from '../../src/io/npy.ts';
import type { Detections, ImageSizes } from '../../src/model/detector/types.ts';
import { matchBoxes, type MatchReport } from '../detector/match.ts';
import { createDecoder, type VcmDecoder } from '../../src/api/index.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import { loadCodecWeights, loadDetectorWeights } from '../../src/model/weights/index.ts';
import type { CodecWeights, DetectorWeights } from '../../src/model/weights/types.ts';
import { gpuContext } from './gpu.ts';

import { GOLDEN_ROOT } from './golden.ts';
export { GOLDEN_ROOT };
export const PIPE = resolve(GOLDEN_ROOT, 'pipeline/P_A');
export const DETECTOR_PKL = resolve(GOLDEN_ROOT, 'detectron2/A/weights.pkl');
export const CODEC_PTH = resolve(PIPE, 'codec.pth.tar');
export const IMAGE_NPY = resolve(GOLDEN_ROOT, 'detectron2/A/input_bgr_u8.npy');
export const MIN_SIZE = 320;
export const MAX_SIZE = 544;

export type Method = 'm1' | 'm2';

export function npyAt(path: string): NpyArray {
  return readNpy(new Uint8Array(readFileSync(path)));
}

export function goldenImage(): { height: number; width: number; data: Uint8Array } {
  const a = npyAt(IMAGE_NPY);
  expect(a.shape).toEqual([300, 451, 3]);
  return { height: a.shape[0]!, width: a.shape[1]!, data: a.data as Uint8Array };
}

export interface QuantJson {
  method: 1 | 2;
  original_hw: [number, number];
  resized_hw: [number, number];
  detector_padded_hw: [number, number];
  Hf: number;
  Wf: number;
  mn: number;
  mx: number;
  scale: number;
  range: number;
  mx_f32_hex: string;
  scale_f32_hex: string;
  range_f32_hex: string;
  padding: { left: number; right: number; top: number; bottom: number; applied: boolean };
  codec_input_hw: [number, number];
}

export interface GoldenRun {
  method: Method;
  quant: QuantJson;
  bpp: { y_string_bytes: number; z_string_bytes: number; bpp: number; compress_shape: [number, number] };
  stem: Float32Array;
  q8: Uint8Array;
  yString: Uint8Array;
  zString: Uint8Array;
  ySymbols: Int32Array;
  yIndexes: Int32Array;
  yShape: [number, number, number];
  zSymbols: Int32Array;
  xHat: Float32Array;
  dets: Detections;
  refDets: Detections;
  /** The ImageSizes the receiver needs (original, resized = clipping size, padded = detector input). */
  sizes: ImageSizes;
  /** manifest.json → runs.<m>.quantization_margins.t_max_abs_err_f32_vs_f64 (q units). */
  tMaxAbsErrF32VsF64: number;
}

const hexF32 = (h: string): number => new Float32Array(new Uint32Array([Number.parseInt(h, 16)]).buffer)[0]!;

function dets(dir: string, prefix: string): Detections {
  return {
    boxes: npyAt(resolve(dir, `${prefix}detections_boxes.npy`)).data as Float32Array,
    scores: npyAt(resolve(dir, `${prefix}detections_scores.npy`)).data as Float32Array,
    classes: npyAt(resolve(dir, `${prefix}detections_classes.npy`)).data as Int32Array,
  } as Detections;
}

export function loadRun(method: Method): GoldenRun {
  const dir = resolve(PIPE, method);
  const quant = JSON.parse(readFileSync(resolve(dir, 'quant.json'), 'utf8')) as QuantJson;
  // Use the exact float32 bits, not the decimal rendering.
  quant.mx = hexF32(quant.mx_f32_hex);
  quant.scale = hexF32(quant.scale_f32_hex);
  quant.range = hexF32(quant.range_f32_hex);
  const ys = npyAt(resolve(dir, 'y_symbols.npy'));
  const manifest = JSON.parse(readFileSync(resolve(PIPE, '../manifest.json'), 'utf8')) as {
    cases: { P_A: { runs: Record<Method, { quantization_margins: { t_max_abs_err_f32_vs_f64: number } }> } };
  };
  return {
    tMaxAbsErrF32VsF64: manifest.cases.P_A.runs[method].quantization_margins.t_max_abs_err_f32_vs_f64,
    method,
    quant,
    bpp: JSON.parse(readFileSync(resolve(dir, 'bpp.json'), 'utf8')) as GoldenRun['bpp'],
    stem: npyAt(resolve(dir, 'stem.npy')).data as Float32Array,
    q8: npyAt(resolve(dir, 'q8.npy')).data as Uint8Array,
    yString: new Uint8Array(readFileSync(resolve(dir, 'y_string.bin'))),
    zString: new Uint8Array(readFileSync(resolve(dir, 'z_string.bin'))),
    ySymbols: ys.data as Int32Array,
    yShape: ys.shape.slice(1) as [number, number, number],
    yIndexes: npyAt(resolve(dir, 'y_indexes.npy')).data as Int32Array,
    zSymbols: npyAt(resolve(dir, 'z_symbols.npy')).data as Int32Array,
    xHat: npyAt(resolve(dir, 'x_hat.npy')).data as Float32Array,
    dets: dets(dir, ''),
    refDets: dets(dir, 'ref_'),
    sizes: { original: quant.original_hw, resized: quant.resized_hw, padded: quant.detector_padded_hw },
  };
}

/** round half to even (torch.round) of a float. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v),
    d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export interface HostQ8 {
  q: Uint8Array;
  mn: number;
  mx: number;
  scale: number;
  range: number;
  t: Float32Array;
}

/**
 * The contract's 8-bit step on the host, float32 throughout: mn = min F, mx = max F, range = f32(mx − mn),
 * scale = f32(range / 255), t = f32(f32(F − mn) / scale) (a correctly rounded division: a double op on two float32
 * values rounded once to float32 is the IEEE float32 result), q = clamp(round_half_even(t), 0, 255).
 */
export function hostQ8(F: Float32Array): HostQ8 {
  let mn = Infinity,
    mx = -Infinity;
  for (const v of F) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  mn = Math.fround(mn) + 0;
  const range = Math.fround(mx - mn);
  const scale = Math.fround(range / 255);
  const q = new Uint8Array(F.length);
  const t = new Float32Array(F.length);
  for (let i = 0; i < F.length; i++) {
    const ti = Math.fround(Math.fround(F[i]! - mn) / scale);
    t[i] = ti;
    q[i] = Math.min(255, Math.max(0, roundHalfEven(ti)));
  }
  return { q, mn, mx: Math.fround(mx), scale, range, t };
}

/** Codec input x = q/255 (float32), CHW. */
export function xFromQ8(q: Uint8Array): Float32Array {
  const x = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) x[i] = Math.fround(q[i]! / 255);
  return x;
}

/** Zero-pad a CHW map by [top, left, bottom, right]. */
export function padCHW(x: Float32Array, C: number, H: number, W: number, p: readonly [number, number, number, number]): Float32Array {
  const [t, l, b, r] = p;
  const H2 = H + t + b,
    W2 = W + l + r;
  const out = new Float32Array(C * H2 * W2);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++) out.set(x.subarray((c * H + y) * W, (c * H + y + 1) * W), (c * H2 + y + t) * W2 + l);
  return out;
}

/** Crop a CHW map [C, Hp, Wp] to [C, H, W] at offset (top, left). */
export function cropCHW(x: Float32Array, C: number, Hp: number, Wp: number, top: number, left: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++) out.set(x.subarray((c * Hp + y + top) * Wp + left, (c * Hp + y + top) * Wp + left + W), (c * H + y) * W);
  return out;
}

/** F̂ = clamp(x̂, 0, 1)·range + mn, float32 (multiply, round, add, round: no FMA). */
export function hostFhat(xHat: Float32Array, mn: number, range: number): Float32Array {
  const out = new Float32Array(xHat.length);
  for (let i = 0; i < xHat.length; i++) out[i] = Math.fround(Math.fround(Math.min(1, Math.max(0, xHat[i]!)) * range) + mn);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One-to-one matching against golden detections: IoU ≥ 0.99, same class, |Δscore| ≤ 1e-3. */
export function matchDetections(
  ref: Detections,
  got: { boxes: ArrayLike<number>; scores: ArrayLike<number>; classes: ArrayLike<number> },
): MatchReport {
  return matchBoxes(ref.boxes, got.boxes, {
    refScores: ref.scores,
    gotScores: got.scores,
    refClasses: ref.classes,
    gotClasses: got.classes,
    minIou: 0.99,
    maxDs: 1e-3,
  });
}

export function describeMatch(what: string, ref: Detections, got: { scores: ArrayLike<number> }, m: MatchReport): string {
  return (
    `${what}: ${got.scores.length} detections vs ${ref.scores.length} golden, matched ${m.matched} ` +
    `(${((100 * m.matched) / Math.max(1, ref.scores.length)).toFixed(1)} %), unmatched golden ${m.unmatchedRef.length}, extra ${m.unmatchedGot.length}, ` +
    `min IoU ${m.minIou.toFixed(6)}, max |Δscore| ${m.maxScoreDiff.toExponential(2)}`
  );
}

/**
 * Tolerance (in q units, i.e. units of t = (F − mn)/scale) for "at a rounding tie", from the README's margin table
 * (manifest.json → quantization_margins.t_max_abs_err_f32_vs_f64: the largest |t32 − t64| over the tensor, stem and
 * q8 step re-evaluated in float64; 1.15e-4 for m1, 1.19e-4 for m2). torch's float32 t and a port's float32 t each lie
 * within about that of the exact value, so they can differ by up to twice it: a value may flip only if the golden t
 * is within 2·t_max_abs_err of a tie (2.3e-4 / 2.4e-4 q units; the closest golden values are 4.8e-7 away).
 */
export function tieTolerance(g: GoldenRun): number {
  return 2 * g.tMaxAbsErrF32VsF64;
}

export interface Q8TieReport {
  /** q values that differ from the golden q8. */
  differing: number;
  maxDq: number;
  /** Largest |t_ref − (k + ½)| among the differing values (t_ref from stem.npy with the golden scale). */
  maxTieDistOfDiffering: number;
  /** Golden values with |t_ref − (k + ½)| ≤ tieTolerance (the only ones allowed to flip). */
  candidates: number;
  /** max |t − t_ref| over the tensor (ours vs golden). */
  maxDt: number;
}

/** Compare a host-computed q8 (from our F) with the golden q8.npy, and locate the differences relative to ties. */
export function q8TieReport(h: HostQ8, g: GoldenRun): Q8TieReport {
  expect(h.q.length).toBe(g.q8.length);
  const mn = 0,
    scale = g.quant.scale,
    tol = tieTolerance(g);
  let differing = 0,
    maxDq = 0,
    maxTie = 0,
    candidates = 0,
    maxDt = 0;
  for (let i = 0; i < g.q8.length; i++) {
    const tRef = Math.fround(Math.fround(g.stem[i]! - mn) / scale);
    const tieDist = Math.abs(tRef - Math.floor(tRef) - 0.5);
    if (tieDist <= tol) candidates++;
    maxDt = Math.max(maxDt, Math.abs(h.t[i]! - tRef));
    const dq = Math.abs(h.q[i]! - g.q8[i]!);
    if (dq !== 0) {
      differing++;
      maxDq = Math.max(maxDq, dq);
      maxTie = Math.max(maxTie, tieDist);
    }
  }
  return { differing, maxDq, maxTieDistOfDiffering: maxTie, candidates, maxDt };
}

/**
 * Ideal code length in bits of symbols coded with the given CDF rows (CompressAI's rANS layout: value v = symbol −
 * offset[row]; values outside [0, maxValue) take the escape bin plus the bypass payload: a 4-bit count per 15 chunks,
 * then one 4-bit chunk per nibble of the folded value). The byte lengths of the strings move in 4-byte words, so this
 * is how the rate of two index choices is compared at a finer grain.
 */
export function idealBits(
  symbols: Int32Array,
  indexes: ArrayLike<number>,
  t: { cdf: Int32Array; rowStart: Int32Array; maxValue: Int32Array; offsets: Int32Array },
): number {
  let bits = 0;
  for (let i = 0; i < symbols.length; i++) {
    const r = indexes[i]!;
    const base = t.rowStart[r]!,
      max = t.maxValue[r]!;
    let v = symbols[i]! - t.offsets[r]!;
    let raw = -1;
    if (v < 0) {
      raw = -2 * v - 1;
      v = max;
    } else if (v >= max) {
      raw = 2 * (v - max);
      v = max;
    }
    bits -= Math.log2((t.cdf[base + v + 1]! - t.cdf[base + v]!) / 65536);
    if (raw >= 0) {
      let n = 0;
      while (Math.floor(raw / 16 ** n) !== 0) n++;
      bits += 4 * (Math.floor(n / 15) + 1) + 4 * n;
    }
  }
  return bits;
}

/** 'identical', or how many elements differ and the first difference. */
export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  let n = 0,
    first = -1;
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) {
      n++;
      if (first < 0) first = i;
    }
  return n === 0 ? 'identical' : `${n} differ, first at ${first}: ${a[first]} vs ${b[first]}`;
}

// ---- shared GPU fixture of the pipeline tests ----------------------------------------------------------------------

export interface PipelineFixture {
  codecW: CodecWeights;
  detW: DetectorWeights;
  backend: GpuCodecBackend;
  codec: HyperpriorCodec<GpuTensor>;
  decoder: VcmDecoder;
}

/** Registers a beforeAll in the calling describe: P_A weights, a GPU codec and a decoder on the shared context. */
export function usePipelineFixture(): PipelineFixture {
  const fx = {} as PipelineFixture;
  beforeAll(async () => {
    const ctx = await gpuContext();
    [fx.codecW, fx.detW] = await Promise.all([loadCodecWeights(CODEC_PTH), loadDetectorWeights(DETECTOR_PKL)]);
    fx.backend = new GpuCodecBackend(ctx);
    fx.codec = await HyperpriorCodec.create(fx.codecW, fx.backend);
    fx.decoder = await createDecoder({ detector: fx.detW, codec: fx.codecW, device: ctx.device, minSize: MIN_SIZE, maxSize: MAX_SIZE });
    return () => {
      fx.decoder.dispose();
      fx.codec.release();
    };
  });
  return fx;
}
