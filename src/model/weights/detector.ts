// Detectron2 Faster R-CNN R50-FPN model-zoo weights -> canonical tensors with FrozenBatchNorm folded into the convs.
// Every width is inferred from shapes (full R50-FPN and narrow variants load with the same code).
import { ArchitectureError } from './errors.ts';
import { fmtShape } from './tensor.ts';
import type { DetectorArch, DetectorStage, HostTensor } from './types.ts';

const MODEL = 'detectron2-rcnn-fpn';
const BN_EPS = 1e-5;
const STAGES = ['res2', 'res3', 'res4', 'res5'] as const;
const BU = 'backbone.bottom_up';

/** Stored keys that are not weights of the network and are dropped (Detectron2 ignores them on load too). */
export function isIgnoredDetectorKey(k: string): boolean {
  return /(^|\.)cell_anchors\.\d+$/.test(k) || k === 'pixel_mean' || k === 'pixel_std';
}

export function isDetectronStateDict(t: Map<string, HostTensor>): boolean {
  return t.has(`${BU}.stem.conv1.weight`);
}

/** Canonical detector tensors have the stem bias (folded) and no FrozenBN buffers. */
export function isCanonicalDetector(t: Map<string, HostTensor>): boolean {
  return t.has(`${BU}.stem.conv1.bias`) && !t.has(`${BU}.stem.conv1.norm.weight`);
}

/** The convs that carry a FrozenBN (`<conv>.norm.*`) in the model-zoo layout, in network order. */
function normConvs(arch: DetectorArch): string[] {
  const out = [`${BU}.stem.conv1`];
  for (const s of arch.stages) {
    for (let i = 0; i < s.blocks; i++) {
      const b = `${BU}.${s.name}.${i}`;
      out.push(`${b}.conv1`, `${b}.conv2`, `${b}.conv3`);
      if (i === 0 && s.inFirst !== s.out) out.push(`${b}.shortcut`);
    }
  }
  return out;
}

/** Expected canonical (folded) tensor shapes for an architecture. */
export function detectorSpecs(a: DetectorArch): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (name: string, o: number, i: number, k: number): void => {
    m.set(`${name}.weight`, [o, i, k, k]);
    m.set(`${name}.bias`, [o]);
  };
  conv(`${BU}.stem.conv1`, a.stemOut, 3, 7);
  for (const s of a.stages) {
    for (let i = 0; i < s.blocks; i++) {
      const b = `${BU}.${s.name}.${i}`;
      const cin = i === 0 ? s.inFirst : s.out;
      conv(`${b}.conv1`, s.bottleneck, cin, 1);
      conv(`${b}.conv2`, s.bottleneck, s.bottleneck, 3);
      conv(`${b}.conv3`, s.out, s.bottleneck, 1);
      if (i === 0 && s.inFirst !== s.out) conv(`${b}.shortcut`, s.out, s.inFirst, 1);
    }
  }
  for (let k = 0; k < 4; k++) {
    conv(`backbone.fpn_lateral${k + 2}`, a.fpnOut, a.stages[k]!.out, 1);
    conv(`backbone.fpn_output${k + 2}`, a.fpnOut, a.fpnOut, 3);
  }
  const rpn = 'proposal_generator.rpn_head';
  conv(`${rpn}.conv`, a.fpnOut, a.fpnOut, 3);
  conv(`${rpn}.objectness_logits`, a.numAnchors, a.fpnOut, 1);
  conv(`${rpn}.anchor_deltas`, a.numAnchors * a.boxDim, a.fpnOut, 1);
  let fin = a.fpnOut * a.poolerResolution * a.poolerResolution;
  a.fcDims.forEach((d, i) => {
    m.set(`roi_heads.box_head.fc${i + 1}.weight`, [d, fin]);
    m.set(`roi_heads.box_head.fc${i + 1}.bias`, [d]);
    fin = d;
  });
  m.set('roi_heads.box_predictor.cls_score.weight', [a.numClasses + 1, fin]);
  m.set('roi_heads.box_predictor.cls_score.bias', [a.numClasses + 1]);
  m.set('roi_heads.box_predictor.bbox_pred.weight', [a.numClasses * a.boxDim, fin]);
  m.set('roi_heads.box_predictor.bbox_pred.bias', [a.numClasses * a.boxDim]);
  return m;
}

/** Infer the architecture from weight shapes (works on raw and canonical names). */
export function inferDetectorArch(t: Map<string, HostTensor>, problems: string[]): DetectorArch | undefined {
  const shape = (n: string): number[] | undefined => t.get(n)?.shape;
  const need = (n: string, rank: number): number[] | undefined => {
    const s = shape(n);
    if (!s) problems.push(`missing tensor '${n}'`);
    else if (s.length !== rank) problems.push(`'${n}' has shape ${fmtShape(s)}, expected rank ${rank}`);
    else return s;
    return undefined;
  };
  const stem = need(`${BU}.stem.conv1.weight`, 4);
  const stages: DetectorStage[] = [];
  let prev = stem?.[0];
  for (const name of STAGES) {
    let blocks = 0;
    while (t.has(`${BU}.${name}.${blocks}.conv1.weight`)) blocks++;
    const c1 = need(`${BU}.${name}.0.conv1.weight`, 4);
    const c3 = need(`${BU}.${name}.0.conv3.weight`, 4);
    if (!c1 || !c3) return undefined;
    const stage: DetectorStage = {
      name,
      blocks,
      bottleneck: c1[0]!,
      out: c3[0]!,
      inFirst: c1[1]!,
      firstStride: name === 'res2' ? 1 : 2,
    };
    if (prev !== undefined && stage.inFirst !== prev) {
      problems.push(`${name}.0 takes ${stage.inFirst} channels but the previous stage gives ${prev}`);
    }
    prev = stage.out;
    stages.push(stage);
  }
  const fpn = need('backbone.fpn_output2.weight', 4);
  const obj = need('proposal_generator.rpn_head.objectness_logits.weight', 4);
  const deltas = need('proposal_generator.rpn_head.anchor_deltas.weight', 4);
  const fcDims: number[] = [];
  let fc1In = 0;
  for (let k = 1; t.has(`roi_heads.box_head.fc${k}.weight`); k++) {
    const s = need(`roi_heads.box_head.fc${k}.weight`, 2);
    if (!s) return undefined;
    if (k === 1) fc1In = s[1]!;
    fcDims.push(s[0]!);
  }
  if (fcDims.length === 0) problems.push("missing tensor 'roi_heads.box_head.fc1.weight'");
  const cls = need('roi_heads.box_predictor.cls_score.weight', 2);
  if (!stem || !fpn || !obj || !deltas || !cls || fcDims.length === 0) return undefined;
  const fpnOut = fpn[0]!;
  const numAnchors = obj[0]!;
  const boxDim = deltas[0]! / numAnchors;
  if (boxDim !== 4) problems.push(`anchor_deltas has ${deltas[0]} outputs for ${numAnchors} anchors: expected 4 per anchor`);
  const res = Math.round(Math.sqrt(fc1In / fpnOut));
  if (res * res * fpnOut !== fc1In) problems.push(`box_head.fc1 takes ${fc1In} inputs: not ${fpnOut} channels x R x R`);
  return {
    stemOut: stem[0]!,
    stages,
    fpnOut,
    numAnchors,
    boxDim: 4,
    fcDims,
    poolerResolution: res,
    numClasses: cls[0]! - 1,
  };
}

function checkShapes(t: Map<string, HostTensor>, expected: Map<string, number[]>, problems: string[]): void {
  for (const [name, shape] of expected) {
    const v = t.get(name);
    if (!v) problems.push(`missing tensor '${name}' (expected ${fmtShape(shape)})`);
    else {
      if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
        problems.push(`'${name}' has shape ${fmtShape(v.shape)}, expected ${fmtShape(shape)}`);
      }
      if (v.dtype !== 'float32') problems.push(`'${name}' has dtype ${v.dtype}, expected float32`);
    }
  }
}

export function validateCanonicalDetector(t: Map<string, HostTensor>): DetectorArch {
  const problems: string[] = [];
  const arch = inferDetectorArch(t, problems);
  if (!arch) throw new ArchitectureError(MODEL, problems);
  const expected = detectorSpecs(arch);
  checkShapes(t, expected, problems);
  for (const name of t.keys()) if (!expected.has(name)) problems.push(`unexpected tensor '${name}'`);
  if (problems.length) throw new ArchitectureError(MODEL, problems);
  return arch;
}

/**
 * Fold FrozenBatchNorm2d into the preceding conv in float32, as Detectron2 computes it:
 *   scale = weight * rsqrt(running_var + eps);  bias' = bias - running_mean * scale;  W'[o] = W[o] * scale[o].
 * `inPlace` overwrites `w` (only when the caller owns its buffer).
 */
export function foldFrozenBN(
  w: Float32Array,
  outCh: number,
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array | undefined,
  variance: Float32Array | undefined,
  inPlace: boolean,
): { weight: Float32Array; bias: Float32Array } {
  const f = Math.fround;
  const eps = f(BN_EPS);
  const per = w.length / outCh;
  const weight = inPlace ? w : new Float32Array(w.length);
  const bias = new Float32Array(outCh);
  for (let o = 0; o < outCh; o++) {
    const v = variance ? variance[o]! : 1;
    const m = mean ? mean[o]! : 0;
    const rsqrt = f(1 / f(Math.sqrt(f(v + eps))));
    const scale = f(gamma[o]! * rsqrt);
    bias[o] = f(beta[o]! - f(m * scale));
    const base = o * per;
    for (let i = 0; i < per; i++) weight[base + i] = f(w[base + i]! * scale);
  }
  return { weight, bias };
}

/**
 * Convert Detectron2 model-zoo tensors (with `.norm.*` FrozenBN buffers) into canonical folded tensors. `owned` tells
 * whether a tensor's buffer may be overwritten (not a view into the caller's bytes).
 */
export function convertDetectron2(
  raw: Map<string, HostTensor>,
  owned: (t: HostTensor) => boolean = () => false,
): { config: DetectorArch; tensors: Map<string, HostTensor> } {
  const src = new Map<string, HostTensor>();
  for (const [k, v] of raw) if (!isIgnoredDetectorKey(k)) src.set(k, v);
  const problems: string[] = [];
  const arch = inferDetectorArch(src, problems);
  if (!arch) throw new ArchitectureError(MODEL, problems);
  const expected = detectorSpecs(arch);
  const folded = new Set(normConvs(arch));
  // Expected raw layout: folded convs have no bias but a .norm.{weight,bias,running_mean,running_var}.
  const rawExpected = new Map<string, number[]>();
  for (const [name, shape] of expected) {
    const conv = name.replace(/\.(weight|bias)$/, '');
    if (folded.has(conv) && name.endsWith('.bias')) {
      for (const p of ['weight', 'bias', 'running_mean', 'running_var']) rawExpected.set(`${conv}.norm.${p}`, shape);
    } else rawExpected.set(name, shape);
  }
  for (const [name, shape] of rawExpected) {
    const v = src.get(name);
    const optional = name.endsWith('.running_mean') || name.endsWith('.running_var');
    if (!v) {
      if (!optional) problems.push(`missing tensor '${name}' (expected ${fmtShape(shape)})`);
      continue;
    }
    if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
      problems.push(`'${name}' has shape ${fmtShape(v.shape)}, expected ${fmtShape(shape)}`);
    }
    if (v.dtype !== 'float32') problems.push(`'${name}' has dtype ${v.dtype}, expected float32`);
  }
  for (const name of src.keys()) if (!rawExpected.has(name)) problems.push(`unexpected tensor '${name}'`);
  if (problems.length) throw new ArchitectureError(MODEL, problems);

  const out = new Map<string, HostTensor>();
  for (const [name, shape] of expected) {
    const conv = name.replace(/\.(weight|bias)$/, '');
    if (!folded.has(conv)) {
      out.set(name, src.get(name)!);
      continue;
    }
    if (name.endsWith('.bias')) continue; // produced with the weight
    const w = src.get(name)!;
    const get = (p: string): Float32Array | undefined => src.get(`${conv}.norm.${p}`)?.data as Float32Array | undefined;
    const r = foldFrozenBN(w.data as Float32Array, shape[0]!, get('weight')!, get('bias')!, get('running_mean'), get('running_var'), owned(w));
    out.set(name, { dtype: 'float32', shape: w.shape, data: r.weight });
    out.set(`${conv}.bias`, { dtype: 'float32', shape: [shape[0]!], data: r.bias });
  }
  return { config: arch, tensors: out };
}
