// CompressAI ScaleHyperprior (bmshj2018-hyperprior) state dict -> canonical codec tensors (docs/weights.md).
import { CODEC_MODELS, recognizeArchitecture, type CodecArchitecture } from '../codec/registry.ts';
import { ArchitectureError } from './errors.ts';
import { fmtShape } from './tensor.ts';
import type { CodecConfig, HostTensor } from './types.ts';

const MODEL = 'compressai-hyperprior';
export const GDN_LAYERS = ['g_a.1', 'g_a.3', 'g_a.5', 'g_s.1', 'g_s.3', 'g_s.5'] as const;

/** Map the three historical EntropyBottleneck namings to the current one (`matrices.i`, `biases.i`, `factors.i`). */
export function normalizeCompressAIKey(k: string): string {
  return k
    .replace(/^entropy_bottleneck\._(matrices|biases|factors)\.(\d+)$/, 'entropy_bottleneck.$1.$2')
    .replace(/^entropy_bottleneck\._matrix(\d+)$/, 'entropy_bottleneck.matrices.$1')
    .replace(/^entropy_bottleneck\._bias(\d+)$/, 'entropy_bottleneck.biases.$1')
    .replace(/^entropy_bottleneck\._factor(\d+)$/, 'entropy_bottleneck.factors.$1');
}

export function isCompressAIStateDict(t: Map<string, HostTensor>): boolean {
  return t.has('g_a.0.weight') && [...t.keys()].some((k) => k.startsWith('entropy_bottleneck.'));
}

/** Canonical codec tensors are recognised by the converted-only name `entropy_bottleneck.medians`. */
export function isCanonicalCodec(t: Map<string, HostTensor>): boolean {
  return t.has('entropy_bottleneck.medians') && !t.has('entropy_bottleneck.quantiles');
}

type Spec = { shape: (number | null)[]; dtype: 'float32' | 'int32'; optional?: boolean };

function convSpecs(C: number, N: number, M: number, arch: CodecArchitecture): [string, number[]][] {
  const k5 = [5, 5];
  // mbt2018-mean's h_s: deconv(N, M) · deconv(M, 3M/2) · conv(3M/2, 2M); bmshj2018-hyperprior's: N, N, M
  const hs = CODEC_MODELS[arch].meanScale ? [M, Math.floor((M * 3) / 2), 2 * M] : [N, N, M];
  return [
    ['g_a.0', [N, C, ...k5]],
    ['g_a.2', [N, N, ...k5]],
    ['g_a.4', [N, N, ...k5]],
    ['g_a.6', [M, N, ...k5]],
    ['g_s.0', [M, N, ...k5]], // ConvTranspose [in, out, k, k]
    ['g_s.2', [N, N, ...k5]],
    ['g_s.4', [N, N, ...k5]],
    ['g_s.6', [N, C, ...k5]],
    ['h_a.0', [N, M, 3, 3]],
    ['h_a.2', [N, N, ...k5]],
    ['h_a.4', [N, N, ...k5]],
    ['h_s.0', [N, hs[0]!, ...k5]],
    ['h_s.2', [hs[0]!, hs[1]!, ...k5]],
    ['h_s.4', [hs[2]!, hs[1]!, 3, 3]],
  ];
}

/** The variable-rate models' extra tensors: Gain [levels] and the QuantABCD MLP (2 → H → H → 1). */
function vbrSpecs(t: Map<string, HostTensor>): [string, Spec][] {
  const levels = t.get('Gain')?.shape[0] ?? null;
  const H = t.get('QuantABCD.0.weight')?.shape[0] ?? null;
  const f = (shape: (number | null)[]): Spec => ({ shape, dtype: 'float32' });
  return [
    ['Gain', f([levels])],
    ['QuantABCD.0.weight', f([H, 2])], ['QuantABCD.0.bias', f([H])],
    ['QuantABCD.2.weight', f([H, H])], ['QuantABCD.2.bias', f([H])],
    ['QuantABCD.4.weight', f([1, H])], ['QuantABCD.4.bias', f([1])],
  ];
}

/** CompressAI's variable-rate EntropyBottleneck (vr_entbttlnck=True) is not supported: say so instead of listing keys. */
function checkVbrEntropyBottleneck(t: Map<string, HostTensor>, problems: string[]): void {
  if ([...t.keys()].some((k) => k.startsWith('gayn2zqstep.') || k.startsWith('lower_bound_zqstep.'))) {
    problems.push("this VBR checkpoint uses CompressAI's variable-rate entropy bottleneck (vr_entbttlnck=True, 'gayn2zqstep.*'); webvcm supports stage 2 with the default EntropyBottleneck");
  }
}

function biasSize(layer: string, w: number[]): number {
  return layer.startsWith('g_s') || layer === 'h_s.0' || layer === 'h_s.2' ? w[1]! : w[0]!;
}

function check(
  tensors: Map<string, HostTensor>,
  name: string,
  spec: Spec,
  problems: string[],
): HostTensor | undefined {
  const t = tensors.get(name);
  if (!t) {
    if (!spec.optional) problems.push(`missing tensor '${name}' (expected ${spec.dtype} ${fmtSpec(spec.shape)})`);
    return undefined;
  }
  const okShape = t.shape.length === spec.shape.length && spec.shape.every((d, i) => d === null || d === t.shape[i]);
  if (!okShape) problems.push(`'${name}' has shape ${fmtShape(t.shape)}, expected ${fmtSpec(spec.shape)}`);
  if (t.dtype !== spec.dtype) problems.push(`'${name}' has dtype ${t.dtype}, expected ${spec.dtype}`);
  return okShape && t.dtype === spec.dtype ? t : undefined;
}

function fmtSpec(s: (number | null)[]): string {
  return `[${s.map((d) => (d === null ? '*' : d)).join(', ')}]`;
}

function inferConfig(t: Map<string, HostTensor>, problems: string[]): CodecConfig | undefined {
  const a0 = t.get('g_a.0.weight');
  const a6 = t.get('g_a.6.weight');
  if (!a0 || a0.shape.length !== 4) problems.push(`cannot infer C and N: 'g_a.0.weight' ${a0 ? `has shape ${fmtShape(a0.shape)}` : 'is missing'}`);
  if (!a6 || a6.shape.length !== 4) problems.push(`cannot infer M: 'g_a.6.weight' ${a6 ? `has shape ${fmtShape(a6.shape)}` : 'is missing'}`);
  if (!a0 || !a6 || a0.shape.length !== 4 || a6.shape.length !== 4) return undefined;
  // an unrecognisable h_s (missing h_s.4) reads as the scale hyperprior, whose check then names the missing tensor
  const architecture = recognizeArchitecture((n) => t.get(n)?.shape) ?? 'bmshj2018-hyperprior';
  return { architecture, N: a0.shape[0]!, C: a0.shape[1]!, M: a6.shape[0]! };
}

/** float32 `max(raw, bound)^2 - pedestal`, exactly as CompressAI's NonNegativeParametrizer.forward in torch. */
export function gdnEffective(raw: Float32Array, bound: number, pedestal: number): Float32Array {
  const out = new Float32Array(raw.length);
  const b = Math.fround(bound);
  const p = Math.fround(pedestal);
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i]! < b ? b : raw[i]!;
    out[i] = Math.fround(Math.fround(m * m) - p);
  }
  return out;
}

// Defaults of CompressAI's GDN when a file lacks the reparametrization buffers (never in files we have seen).
const PEDESTAL = 2 ** -36;
const BETA_BOUND = Math.fround(Math.sqrt(1e-6 + PEDESTAL));
const GAMMA_BOUND = Math.fround(Math.sqrt(0 + PEDESTAL));

function scalar(t: HostTensor | undefined, fallback: number): number {
  return t && t.data.length === 1 ? t.data[0]! : fallback;
}

function checkCdfTable(prefix: string, cdf: HostTensor, len: HostTensor, problems: string[]): void {
  const [rows, L] = cdf.shape as [number, number];
  const q = cdf.data as Int32Array;
  const lens = len.data as Int32Array;
  const bad: string[] = [];
  for (let r = 0; r < rows && bad.length < 4; r++) {
    const n = lens[r]!;
    if (n < 3 || n > L) {
      bad.push(`row ${r}: cdf_length ${n} outside 3..${L}`);
      continue;
    }
    const row = q.subarray(r * L, r * L + n);
    if (row[0] !== 0 || row[n - 1] !== 65536) {
      bad.push(`row ${r}: starts at ${row[0]} / ends at ${row[n - 1]} (expected 0 / 65536)`);
      continue;
    }
    for (let i = 1; i < n; i++) {
      if (row[i]! <= row[i - 1]!) {
        bad.push(`row ${r}: not strictly increasing at ${i}`);
        break;
      }
    }
  }
  if (bad.length) problems.push(`${prefix} quantized CDF table is invalid: ${bad.join('; ')}`);
}

/** Validate canonical codec tensors; returns the inferred config or throws ArchitectureError listing every problem. */
export function validateCanonicalCodec(t: Map<string, HostTensor>): CodecConfig {
  const problems: string[] = [];
  const cfg = inferConfig(t, problems);
  if (!cfg) throw new ArchitectureError(MODEL, problems);
  const { C, N, M } = cfg;
  const expected = new Map<string, Spec>();
  checkVbrEntropyBottleneck(t, problems);
  if (CODEC_MODELS[cfg.architecture].vbr) for (const [name, spec] of vbrSpecs(t)) expected.set(name, spec);
  for (const [layer, w] of convSpecs(C, N, M, cfg.architecture)) {
    expected.set(`${layer}.weight`, { shape: w, dtype: 'float32' });
    expected.set(`${layer}.bias`, { shape: [biasSize(layer, w)], dtype: 'float32' });
  }
  for (const g of GDN_LAYERS) {
    expected.set(`${g}.beta`, { shape: [N], dtype: 'float32' });
    expected.set(`${g}.gamma`, { shape: [N, N], dtype: 'float32' });
  }
  expected.set('entropy_bottleneck.quantized_cdf', { shape: [N, null], dtype: 'int32' });
  expected.set('entropy_bottleneck.cdf_length', { shape: [N], dtype: 'int32' });
  expected.set('entropy_bottleneck.offset', { shape: [N], dtype: 'int32' });
  expected.set('entropy_bottleneck.medians', { shape: [N], dtype: 'float32' });
  const S = t.get('gaussian_conditional.scale_table')?.shape[0] ?? null;
  expected.set('gaussian_conditional.quantized_cdf', { shape: [S, null], dtype: 'int32' });
  expected.set('gaussian_conditional.cdf_length', { shape: [S], dtype: 'int32' });
  expected.set('gaussian_conditional.offset', { shape: [S], dtype: 'int32' });
  expected.set('gaussian_conditional.scale_table', { shape: [S], dtype: 'float32' });
  const ok = new Map<string, HostTensor>();
  for (const [name, spec] of expected) {
    const v = check(t, name, spec, problems);
    if (v) ok.set(name, v);
  }
  for (const name of t.keys()) if (!expected.has(name)) problems.push(`unexpected tensor '${name}'`);
  for (const p of ['entropy_bottleneck', 'gaussian_conditional']) {
    const cdf = ok.get(`${p}.quantized_cdf`);
    const len = ok.get(`${p}.cdf_length`);
    if (cdf && len) checkCdfTable(p, cdf, len, problems);
  }
  const st = ok.get('gaussian_conditional.scale_table');
  if (st) {
    const d = st.data as Float32Array;
    for (let i = 1; i < d.length; i++) {
      if (!(d[i]! > d[i - 1]!)) {
        problems.push('gaussian_conditional.scale_table is not strictly increasing');
        break;
      }
    }
  }
  if (problems.length) throw new ArchitectureError(MODEL, problems);
  return cfg;
}

/**
 * Convert a CompressAI state dict (any of the three EB namings) to canonical tensors: convs as stored, effective GDN
 * beta/gamma, EB medians + stored tables, GC stored tables + scale table. Throws ArchitectureError with every problem.
 */
export function convertCompressAI(raw: Map<string, HostTensor>): { config: CodecConfig; tensors: Map<string, HostTensor> } {
  const src = new Map<string, HostTensor>();
  for (const [k, v] of raw) src.set(normalizeCompressAIKey(k), v);
  const problems: string[] = [];
  const cfg = inferConfig(src, problems);
  if (!cfg) throw new ArchitectureError(MODEL, problems);
  const { C, N, M } = cfg;
  const used = new Set<string>();
  const get = (name: string, spec: Spec): HostTensor | undefined => {
    used.add(name);
    return check(src, name, spec, problems);
  };
  const out = new Map<string, HostTensor>();
  checkVbrEntropyBottleneck(src, problems);
  if (CODEC_MODELS[cfg.architecture].vbr) {
    for (const [name, spec] of vbrSpecs(src)) {
      const v = get(name, spec);
      if (v) out.set(name, v);
    }
    get('QuantOffset', { shape: [null], dtype: 'float32', optional: true }); // CompressAI's from_state_dict drops it too
  }
  for (const [layer, w] of convSpecs(C, N, M, cfg.architecture)) {
    const wt = get(`${layer}.weight`, { shape: w, dtype: 'float32' });
    const bt = get(`${layer}.bias`, { shape: [biasSize(layer, w)], dtype: 'float32' });
    if (wt) out.set(`${layer}.weight`, wt);
    if (bt) out.set(`${layer}.bias`, bt);
  }
  for (const g of GDN_LAYERS) {
    const beta = get(`${g}.beta`, { shape: [N], dtype: 'float32' });
    const gamma = get(`${g}.gamma`, { shape: [N, N], dtype: 'float32' });
    const one: Spec = { shape: [1], dtype: 'float32', optional: true };
    const bPed = scalar(get(`${g}.beta_reparam.pedestal`, one), PEDESTAL);
    const bBound = scalar(get(`${g}.beta_reparam.lower_bound.bound`, one), BETA_BOUND);
    const gPed = scalar(get(`${g}.gamma_reparam.pedestal`, one), PEDESTAL);
    const gBound = scalar(get(`${g}.gamma_reparam.lower_bound.bound`, one), GAMMA_BOUND);
    if (beta) out.set(`${g}.beta`, { dtype: 'float32', shape: [N], data: gdnEffective(beta.data as Float32Array, bBound, bPed) });
    if (gamma) out.set(`${g}.gamma`, { dtype: 'float32', shape: [N, N], data: gdnEffective(gamma.data as Float32Array, gBound, gPed) });
  }
  // EntropyBottleneck: stored tables + medians = quantiles[:, 0, 1]
  const eb = 'entropy_bottleneck';
  const quantiles = get(`${eb}.quantiles`, { shape: [N, 1, 3], dtype: 'float32' });
  if (quantiles) {
    const med = new Float32Array(N);
    for (let c = 0; c < N; c++) med[c] = quantiles.data[c * 3 + 1]!;
    out.set(`${eb}.medians`, { dtype: 'float32', shape: [N], data: med });
  }
  const noTables = ' (the checkpoint has no entropy-coding tables: call model.update(force=True) before saving)';
  for (const [from, to, shape] of [
    ['_quantized_cdf', 'quantized_cdf', [N, null]],
    ['_cdf_length', 'cdf_length', [N]],
    ['_offset', 'offset', [N]],
  ] as const) {
    const t = get(`${eb}.${from}`, { shape: [...shape], dtype: 'int32' });
    if (t) out.set(`${eb}.${to}`, t);
    else if (src.get(`${eb}.${from}`)?.data.length === 0) problems.push(`'${eb}.${from}' is empty${noTables}`);
  }
  for (const [i, shape] of [
    [0, [N, 3, 1]],
    [1, [N, 3, 3]],
    [2, [N, 3, 3]],
    [3, [N, 3, 3]],
    [4, [N, 1, 3]],
  ] as const) {
    get(`${eb}.matrices.${i}`, { shape: [...shape], dtype: 'float32', optional: true });
    get(`${eb}.biases.${i}`, { shape: [N, shape[1], 1], dtype: 'float32', optional: true });
    if (i < 4) get(`${eb}.factors.${i}`, { shape: [N, shape[1], 1], dtype: 'float32', optional: true });
  }
  get(`${eb}.target`, { shape: [3], dtype: 'float32', optional: true });
  get(`${eb}.likelihood_lower_bound.bound`, { shape: [1], dtype: 'float32', optional: true });
  // GaussianConditional: stored tables and scale table (never recomputed)
  const gc = 'gaussian_conditional';
  const S = src.get(`${gc}.scale_table`)?.shape[0] ?? null;
  const table = get(`${gc}.scale_table`, { shape: [S], dtype: 'float32' });
  if (table) out.set(`${gc}.scale_table`, table);
  for (const [from, to, shape] of [
    ['_quantized_cdf', 'quantized_cdf', [S, null]],
    ['_cdf_length', 'cdf_length', [S]],
    ['_offset', 'offset', [S]],
  ] as const) {
    const t = get(`${gc}.${from}`, { shape: [...shape], dtype: 'int32' });
    if (t) out.set(`${gc}.${to}`, t);
    else if (src.get(`${gc}.${from}`)?.data.length === 0) problems.push(`'${gc}.${from}' is empty${noTables}`);
  }
  for (const b of ['scale_bound', 'lower_bound_scale.bound', 'likelihood_lower_bound.bound']) {
    get(`${gc}.${b}`, { shape: [1], dtype: 'float32', optional: true });
  }
  for (const name of src.keys()) if (!used.has(name)) problems.push(`unexpected tensor '${name}'`);
  if (problems.length) throw new ArchitectureError(MODEL, problems);
  validateCanonicalCodec(out);
  return { config: cfg, tensors: out };
}
