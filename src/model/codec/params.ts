/**
 * Codec parameters of CompressAI's ScaleHyperprior (bmshj2018-hyperprior), resolved from a flat tensor map (a raw
 * CompressAI state dict read by src/model/weights, or a converted file with the same names).
 *
 * - C (input/output channels), N and M come from the tensor shapes (g_a.0.weight [N, C, 5, 5], g_a.6.weight [M, N, 5, 5]).
 * - GDN/IGDN: when the reparametrization buffers (`*.beta_reparam.pedestal`, `*.lower_bound.bound`) are present the
 *   stored beta/gamma are raw and the effective values are computed exactly as CompressAI does in float32
 *   (max(raw, bound)² − pedestal); without them the stored values are taken as effective already.
 * - Both CompressAI state dicts and the canonical converted tensors of src/model/weights (docs/weights.md:
 *   `entropy_bottleneck.medians`, tables without the leading underscore, effective GDN values) are accepted.
 * - EntropyBottleneck: medians = quantiles[:, 0, 1]; the integer tables (_quantized_cdf, _cdf_length, _offset) are
 *   used as stored (never regenerated). Old key names (`_matrices.i`, `_matrix{i}`) do not matter: coding only needs
 *   quantiles and tables.
 * - GaussianConditional: the integer tables and the float32 scale_table as stored; scale bound from
 *   `lower_bound_scale.bound` (default f32(0.11)).
 */
import { CdfTables } from '../../coder/index.ts';
import { gdnEffective } from '../weights/codec.ts'; // CompressAI's NonNegativeParametrizer in float32 (shared with the loader)
import { CODEC_MODELS, recognizeArchitecture, type CodecArchitecture } from './registry.ts';

export class CodecWeightsError extends Error {
  override name = 'CodecWeightsError';
}

export interface NamedTensor {
  dtype?: string;
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

export interface ConvParams {
  name: string;
  weight: Float32Array;
  /** PyTorch layout: conv [OC, C, K, K], transposed [C, OC, K, K]. */
  shape: [number, number, number, number];
  bias: Float32Array;
  transposed: boolean;
}

export interface GdnParams {
  name: string;
  C: number;
  /** Effective beta [C] and gamma [C, C] (row = output channel). */
  beta: Float32Array;
  gamma: Float32Array;
  inverse: boolean;
}

/** The variable-rate models' extra parameters (CompressAI's ScaleHyperpriorVbr / MeanScaleHyperpriorVbr). */
export interface VbrParams {
  /** Gain[s] per level s (float32; the codec uses |Gain[s]| as CompressAI's compress does). */
  gain: Float32Array;
  /** QuantABCD: Linear(2, H) · ReLU · Linear(H, H) · ReLU · Linear(H, 1); weights [out, in] row-major. */
  quantABCD: { w: [Float32Array, Float32Array, Float32Array]; b: [Float32Array, Float32Array, Float32Array]; hidden: number };
}

export interface HyperpriorParams {
  /** Which CompressAI model (registry.ts); absent means bmshj2018-hyperprior. */
  architecture?: CodecArchitecture;
  C: number;
  N: number;
  M: number;
  gA: { convs: ConvParams[]; gdns: GdnParams[] };
  gS: { convs: ConvParams[]; gdns: GdnParams[] };
  hA: ConvParams[];
  hS: ConvParams[];
  /** EntropyBottleneck medians [N] (float32). */
  medians: Float32Array;
  ebTables: CdfTables;
  gcTables: CdfTables;
  /** float32 scale table [L] (L = 64 in CompressAI). */
  scaleTable: Float32Array;
  /** f32 lower bound applied to scales before indexing. */
  scaleBound: number;
  /** Present exactly for the variable-rate architectures. */
  vbr?: VbrParams;
}

/** The architecture of resolved parameters (absent: bmshj2018-hyperprior, as before the family existed). */
export function architectureOf(p: HyperpriorParams): CodecArchitecture {
  return p.architecture ?? 'bmshj2018-hyperprior';
}

type TensorMap = ReadonlyMap<string, NamedTensor>;

function get(t: TensorMap, name: string): NamedTensor {
  const v = t.get(name);
  if (!v) throw new CodecWeightsError(`codec checkpoint is missing tensor '${name}' (is this a CompressAI bmshj2018-hyperprior state dict?)`);
  return v;
}

function f32(t: TensorMap, name: string, shape?: readonly number[]): Float32Array {
  const v = get(t, name);
  if (!(v.data instanceof Float32Array)) throw new CodecWeightsError(`tensor '${name}' must be float32`);
  if (shape && (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i]))) {
    throw new CodecWeightsError(`tensor '${name}' has shape [${v.shape.join(',')}], expected [${shape.join(',')}]`);
  }
  return v.data;
}

function i32(t: TensorMap, name: string): NamedTensor & { data: Int32Array } {
  const v = get(t, name);
  if (!(v.data instanceof Int32Array)) throw new CodecWeightsError(`tensor '${name}' must be int32`);
  return v as NamedTensor & { data: Int32Array };
}

function conv(t: TensorMap, name: string, inC: number, outC: number, k: number, transposed: boolean): ConvParams {
  const shape: [number, number, number, number] = transposed ? [inC, outC, k, k] : [outC, inC, k, k];
  return { name, weight: f32(t, `${name}.weight`, shape), shape, bias: f32(t, `${name}.bias`, [outC]), transposed };
}

/** CompressAI NonNegativeParametrizer in float32: max(raw, bound)² − pedestal. */

function gdn(t: TensorMap, name: string, C: number, inverse: boolean): GdnParams {
  const rawBeta = f32(t, `${name}.beta`, [C]);
  const rawGamma = f32(t, `${name}.gamma`, [C, C]);
  const hasReparam = t.has(`${name}.beta_reparam.pedestal`);
  let beta = rawBeta, gamma = rawGamma;
  if (hasReparam) {
    const scalar = (n: string) => f32(t, n)[0]!;
    beta = gdnEffective(rawBeta, scalar(`${name}.beta_reparam.lower_bound.bound`), scalar(`${name}.beta_reparam.pedestal`));
    gamma = gdnEffective(rawGamma, scalar(`${name}.gamma_reparam.lower_bound.bound`), scalar(`${name}.gamma_reparam.pedestal`));
  }
  return { name, C, beta, gamma, inverse };
}

/** Resolve every parameter the codec needs; shapes are read from the checkpoint, never assumed. */
export function hyperpriorParams(tensors: TensorMap): HyperpriorParams {
  const ga0 = get(tensors, 'g_a.0.weight');
  const ga6 = get(tensors, 'g_a.6.weight');
  if (ga0.shape.length !== 4 || ga6.shape.length !== 4) throw new CodecWeightsError('g_a.0.weight / g_a.6.weight must be 4-D');
  const N = ga0.shape[0]!, C = ga0.shape[1]!, M = ga6.shape[0]!;
  if (ga6.shape[1] !== N) throw new CodecWeightsError(`g_a.6.weight has ${ga6.shape[1]} input channels, expected N = ${N}`);
  const architecture = recognizeArchitecture((n) => tensors.get(n)?.shape);
  if (!architecture) throw new CodecWeightsError("codec checkpoint is missing tensor 'h_s.4.weight' (is this a CompressAI hyperprior state dict?)");
  const spec = CODEC_MODELS[architecture];
  // mbt2018-mean's h_s: deconv(N, M) · deconv(M, 3M/2) · conv(3M/2, 2M)
  const [h0, h1, h2] = spec.meanScale ? [M, Math.floor((M * 3) / 2), 2 * M] : [N, N, M];
  const gA = {
    convs: [conv(tensors, 'g_a.0', C, N, 5, false), conv(tensors, 'g_a.2', N, N, 5, false), conv(tensors, 'g_a.4', N, N, 5, false), conv(tensors, 'g_a.6', N, M, 5, false)],
    gdns: [gdn(tensors, 'g_a.1', N, false), gdn(tensors, 'g_a.3', N, false), gdn(tensors, 'g_a.5', N, false)],
  };
  const gS = {
    convs: [conv(tensors, 'g_s.0', M, N, 5, true), conv(tensors, 'g_s.2', N, N, 5, true), conv(tensors, 'g_s.4', N, N, 5, true), conv(tensors, 'g_s.6', N, C, 5, true)],
    gdns: [gdn(tensors, 'g_s.1', N, true), gdn(tensors, 'g_s.3', N, true), gdn(tensors, 'g_s.5', N, true)],
  };
  const hA = [conv(tensors, 'h_a.0', M, N, 3, false), conv(tensors, 'h_a.2', N, N, 5, false), conv(tensors, 'h_a.4', N, N, 5, false)];
  const hS = [conv(tensors, 'h_s.0', N, h0, 5, true), conv(tensors, 'h_s.2', h0, h1, 5, true), conv(tensors, 'h_s.4', h1, h2, 3, false)];

  // The weight loader's canonical tensors (src/model/weights, docs/weights.md) carry `entropy_bottleneck.medians` and
  // the tables without the leading underscore; raw CompressAI state dicts carry quantiles and `_quantized_cdf`.
  let medians: Float32Array;
  if (tensors.has('entropy_bottleneck.medians')) medians = f32(tensors, 'entropy_bottleneck.medians', [N]).slice();
  else {
    const quantiles = f32(tensors, 'entropy_bottleneck.quantiles', [N, 1, 3]);
    medians = new Float32Array(N);
    for (let c = 0; c < N; c++) medians[c] = quantiles[c * 3 + 1]!;
  }

  const tables = (prefix: string, rows: number | null, what: string): CdfTables => {
    const u = tensors.has(`${prefix}._quantized_cdf`) ? '_' : '';
    const cdf = i32(tensors, `${prefix}.${u}quantized_cdf`);
    const len = i32(tensors, `${prefix}.${u}cdf_length`);
    const off = i32(tensors, `${prefix}.${u}offset`);
    if (cdf.shape.length !== 2 || cdf.shape[0] === 0 || cdf.shape[1] === 0) {
      throw new CodecWeightsError(`${what}: _quantized_cdf is empty or not 2-D ([${cdf.shape.join(',')}]); run CompressAI's model.update() before saving`);
    }
    if (rows !== null && cdf.shape[0] !== rows) throw new CodecWeightsError(`${what}: _quantized_cdf has ${cdf.shape[0]} rows, expected ${rows}`);
    if (len.data.length !== cdf.shape[0] || off.data.length !== cdf.shape[0]) throw new CodecWeightsError(`${what}: _cdf_length/_offset do not match _quantized_cdf rows`);
    return CdfTables.from({ data: cdf.data, stride: cdf.shape[1]! }, len.data, off.data);
  };
  const ebTables = tables('entropy_bottleneck', N, 'EntropyBottleneck');
  const gcTables = tables('gaussian_conditional', null, 'GaussianConditional');
  const scaleTable = f32(tensors, 'gaussian_conditional.scale_table');
  if (scaleTable.length !== gcTables.count) {
    throw new CodecWeightsError(`scale_table has ${scaleTable.length} entries but the Gaussian CDF table has ${gcTables.count} rows`);
  }
  for (let k = 1; k < scaleTable.length; k++) {
    if (!(scaleTable[k]! > scaleTable[k - 1]!)) throw new CodecWeightsError('scale_table must be strictly increasing');
  }
  const sb = tensors.get('gaussian_conditional.lower_bound_scale.bound');
  const scaleBound = sb && sb.data instanceof Float32Array ? sb.data[0]! : Math.fround(0.11);
  const vbr = spec.vbr ? vbrParams(tensors) : undefined;
  return { architecture, C, N, M, gA, gS, hA, hS, medians, ebTables, gcTables, scaleTable, scaleBound, ...(vbr ? { vbr } : {}) };
}

function vbrParams(t: TensorMap): VbrParams {
  const gain = f32(t, 'Gain');
  if (gain.length === 0) throw new CodecWeightsError('Gain is empty');
  const w0 = get(t, 'QuantABCD.0.weight');
  const H = w0.shape[0]!;
  if (w0.shape.length !== 2 || w0.shape[1] !== 2) throw new CodecWeightsError(`QuantABCD.0.weight has shape [${w0.shape.join(',')}], expected [H, 2]`);
  return {
    gain: gain.slice(),
    quantABCD: {
      hidden: H,
      w: [f32(t, 'QuantABCD.0.weight', [H, 2]), f32(t, 'QuantABCD.2.weight', [H, H]), f32(t, 'QuantABCD.4.weight', [1, H])],
      b: [f32(t, 'QuantABCD.0.bias', [H]), f32(t, 'QuantABCD.2.bias', [H]), f32(t, 'QuantABCD.4.bias', [1])],
    },
  };
}

/**
 * Fingerprint input: every parameter the codec uses (effective GDN values, medians, integer tables, scale table),
 * in a fixed order, as little-endian bytes with their names and shapes. Hash with coder `fingerprint()`.
 */
export function paramsDigestInput(p: HyperpriorParams): Uint8Array[] {
  const enc = new TextEncoder();
  const arch = architectureOf(p);
  // bmshj2018-hyperprior keeps the header it always had, so existing fingerprints (and streams) stay valid
  const head = arch === 'bmshj2018-hyperprior' ? 'webvcm-hyperprior-v1' : `webvcm-${arch}-v1`;
  const parts: Uint8Array[] = [enc.encode(`${head} C=${p.C} N=${p.N} M=${p.M};`)];
  const add = (name: string, a: Float32Array | Int32Array) => {
    parts.push(enc.encode(`${name}:${a.length};`));
    parts.push(new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
  };
  for (const c of [...p.gA.convs, ...p.hA, ...p.hS, ...p.gS.convs]) { add(`${c.name}.weight`, c.weight); add(`${c.name}.bias`, c.bias); }
  for (const g of [...p.gA.gdns, ...p.gS.gdns]) { add(`${g.name}.beta`, g.beta); add(`${g.name}.gamma`, g.gamma); }
  add('medians', p.medians);
  for (const [n, t] of [['eb', p.ebTables], ['gc', p.gcTables]] as const) { add(`${n}.cdf`, t.cdf); add(`${n}.rowStart`, t.rowStart); add(`${n}.maxValue`, t.maxValue); add(`${n}.offsets`, t.offsets); }
  add('scale_table', p.scaleTable);
  add('scale_bound', Float32Array.of(p.scaleBound));
  if (p.vbr) {
    add('Gain', p.vbr.gain);
    p.vbr.quantABCD.w.forEach((w, i) => { add(`QuantABCD.${2 * i}.weight`, w); add(`QuantABCD.${2 * i}.bias`, p.vbr!.quantABCD.b[i]!); });
  }
  return parts;
}
