/**
 * Generates the bundled default weights (weights/random/*.safetensors) deterministically, in TypeScript:
 *  - detector.safetensors: a narrow Faster R-CNN R50-FPN (the golden set's reduced widths: WIDTH_PER_GROUP 8,
 *    RES2_OUT 32, FPN 32, FC 64; blocks 3/4/6/3; 80 classes), BN already folded, random weights with the golden
 *    recipe's gains and biases so that it produces a realistic number of detections. The detections are not
 *    meaningful objects: these weights exist so the CLI, demo and tests run without downloads.
 *  - codec.safetensors: an untrained 64-channel ScaleHyperprior (N=32, M=48) with valid entropy tables:
 *    EB tables from a discretized logistic per channel, the Gaussian tables computed as CompressAI's
 *    GaussianConditional.update() does (float64 here; a real checkpoint's tables are always taken from the file).
 *   npx tsx tools/make-random-weights.ts
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { convertToSafetensors } from '../src/model/weights/load.ts';
import { fingerprintTensors, initHash } from '../src/model/weights/hash.ts';
import { detectorSpecs, inferDetectorArch } from '../src/model/weights/detector.ts';
import { r50FpnArch } from '../src/model/detector/random-weights.ts';
import type { DetectorArch, HostTensor } from '../src/model/weights/types.ts';
import { mulberry32 as rng, normalFrom } from '../src/util/random.ts';

const r = rng(2026);
const randn = normalFrom(r);
const f32 = (shape: number[], fn: (i: number) => number): HostTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, (_, i) => fn(i)) };
};
const i32 = (shape: number[], data: number[]): HostTensor => ({ dtype: 'int32', shape, data: Int32Array.from(data) });

// ------------------------------------------------------------------------------------------------ detector
function detector(): { arch: DetectorArch; tensors: Map<string, HostTensor> } {
  // The golden set's reduced widths; names and shapes from the loader's own spec of the architecture.
  const arch = r50FpnArch({ width: 8, res2Out: 32, fpnOut: 32, fcDim: 64 });
  const gainOf = (name: string): number =>
    name.includes('stem.') ? 0.0212 : name.includes('.conv3.') ? 0.5 : name.includes('.shortcut.') ? 1.0 : name.includes('bottom_up.') ? 1.414
      : name.includes('fpn_lateral') ? 0.4 : name.includes('fpn_output') ? 0.6 : name.includes('objectness_logits') ? 3.0
        : name.includes('anchor_deltas') ? 0.3 : name.includes('rpn_head.conv') ? 1.0 : name.includes('fc1') ? 10 : name.includes('fc2') ? 1.414 : 1.0;
  const t = new Map<string, HostTensor>();
  for (const [name, shape] of detectorSpecs(arch)) {
    if (name.endsWith('.bias')) {
      t.set(name, f32(shape, () => randn() * (name.includes('bottom_up.') ? 0.2 : 0.1)));
    } else {
      const fan = shape.slice(1).reduce((a, b) => a * b, 1);
      const g = gainOf(name);
      t.set(name, f32(shape, () => (randn() * g) / Math.sqrt(fan)));
    }
  }
  const obj = t.get('proposal_generator.rpn_head.objectness_logits.bias')!.data as Float32Array;
  for (let i = 0; i < obj.length; i++) obj[i]! -= 1;
  // fc1 zero-mean over the 7x7 bins, so scores depend on each proposal's content
  const fc1 = t.get('roi_heads.box_head.fc1.weight')!;
  const w1 = fc1.data as Float32Array, bins = arch.poolerResolution ** 2;
  for (let row = 0; row < w1.length / bins; row++) {
    let m = 0;
    for (let k = 0; k < bins; k++) m += w1[row * bins + k]!;
    for (let k = 0; k < bins; k++) w1[row * bins + k]! -= m / bins;
  }
  const cb = t.get('roi_heads.box_predictor.cls_score.bias')!.data as Float32Array;
  cb[arch.numClasses]! += 11; // background
  for (const k of [15, 16, 0, 2, 57]) cb[k]! += 4;
  return { arch, tensors: t };
}

// ------------------------------------------------------------------------------------------------ codec
function erfc(x: number): number {
  // Numerical Recipes erfcc: fractional error < 1.2e-7 everywhere.
  const z = Math.abs(x), t = 1 / (1 + 0.5 * z);
  const ans = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? ans : 2 - ans;
}
const stdCdf = (x: number) => 0.5 * erfc(-Math.SQRT1_2 * x);

/** CompressAI's pmf_to_quantized_cdf (precision 16), including its frequency stealing. */
function pmfToQuantizedCdf(pmf: number[]): number[] {
  const P = 1 << 16;
  const cdf = [0, ...pmf.map((p) => Math.round(p * P))];
  const total = cdf.reduce((a, b) => a + b, 0);
  for (let i = 0; i < cdf.length; i++) cdf[i] = Math.floor((P * cdf[i]!) / total);
  for (let i = 1; i < cdf.length; i++) cdf[i]! += cdf[i - 1]!;
  cdf[cdf.length - 1] = P;
  for (let i = 0; i < cdf.length - 1; i++) {
    if (cdf[i] === cdf[i + 1]) {
      let best = Infinity, steal = -1;
      for (let j = 0; j < cdf.length - 1; j++) {
        const f = cdf[j + 1]! - cdf[j]!;
        if (f > 1 && f < best) { best = f; steal = j; }
      }
      if (steal < i) for (let j = steal + 1; j <= i; j++) cdf[j]!--;
      else for (let j = i + 1; j <= steal; j++) cdf[j]!++;
    }
  }
  return cdf;
}

function tablesFromPmfs(pmfs: number[][], tails: number[]): { cdf: HostTensor; len: HostTensor } {
  const rows = pmfs.map((p, i) => pmfToQuantizedCdf([...p, tails[i]!]));
  const L = Math.max(...rows.map((r) => r.length));
  const flat: number[] = [];
  for (const row of rows) flat.push(...row, ...new Array(L - row.length).fill(0));
  return { cdf: i32([rows.length, L], flat), len: i32([rows.length], rows.map((r) => r.length)) };
}

function codec(C: number, N: number, M: number): Map<string, HostTensor> {
  const t = new Map<string, HostTensor>();
  const conv = (name: string, oc: number, ic: number, k: number, gain: number, transposed = false) => {
    const fan = ic * k * k;
    t.set(`${name}.weight`, f32(transposed ? [ic, oc, k, k] : [oc, ic, k, k], () => (randn() * gain) / Math.sqrt(fan)));
    t.set(`${name}.bias`, f32([oc], () => randn() * 0.05));
  };
  const gdn = (name: string) => {
    t.set(`${name}.beta`, f32([N], () => 0.5 + r()));
    t.set(`${name}.gamma`, f32([N, N], (i) => (Math.floor(i / N) === i % N ? 0.1 * Math.exp(0.5 * randn()) : r() < 0.3 ? 0.01 * r() : 0)));
  };
  conv('g_a.0', N, C, 5, 1.6); gdn('g_a.1'); conv('g_a.2', N, N, 5, 1.6); gdn('g_a.3'); conv('g_a.4', N, N, 5, 1.6); gdn('g_a.5'); conv('g_a.6', M, N, 5, 8);
  conv('h_a.0', N, M, 3, 1.4); conv('h_a.2', N, N, 5, 1.4); conv('h_a.4', N, N, 5, 1.4);
  conv('h_s.0', N, N, 5, 1.4, true); conv('h_s.2', N, N, 5, 1.4, true); conv('h_s.4', M, N, 3, 1.4);
  const hs4b = t.get('h_s.4.bias')!.data as Float32Array;
  for (let i = 0; i < M; i++) hs4b[i] = 1 + r() * 3;
  conv('g_s.0', N, M, 5, 0.3, true); gdn('g_s.1'); conv('g_s.2', N, N, 5, 1.4, true); gdn('g_s.3'); conv('g_s.4', N, N, 5, 1.4, true); gdn('g_s.5'); conv('g_s.6', C, N, 5, 0.5, true);
  const g6b = t.get('g_s.6.bias')!.data as Float32Array;
  for (let i = 0; i < C; i++) g6b[i] = 0.3;
  // Entropy bottleneck: a discretized logistic of scale s_c around median 0 per channel, support ±ceil(8 s_c).
  const pmfs: number[][] = [], tails: number[] = [], offsets: number[] = [];
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  for (let c = 0; c < N; c++) {
    const s = 0.3 + 2 * r();
    const half = Math.ceil(8 * s);
    const pmf: number[] = [];
    for (let k = -half; k <= half; k++) pmf.push(sig((k + 0.5) / s) - sig((k - 0.5) / s));
    pmfs.push(pmf); tails.push(2 * sig((-half - 0.5) / s)); offsets.push(-half);
  }
  const eb = tablesFromPmfs(pmfs, tails);
  t.set('entropy_bottleneck.quantized_cdf', eb.cdf);
  t.set('entropy_bottleneck.cdf_length', eb.len);
  t.set('entropy_bottleneck.offset', i32([N], offsets));
  t.set('entropy_bottleneck.medians', f32([N], () => 0));
  // Gaussian conditional: CompressAI's default scale table and GaussianConditional.update().
  const S = 64, lo = Math.log(0.11), hi = Math.log(256);
  const scales = Array.from({ length: S }, (_, i) => Math.fround(Math.exp(lo + ((hi - lo) * i) / (S - 1))));
  const multiplier = 6.109410204869; // −Φ⁻¹(tail_mass/2), tail_mass = 1e-9
  const gp: number[][] = [], gt: number[] = [], go: number[] = [];
  for (const s of scales) {
    const center = Math.ceil(s * multiplier);
    const pmf: number[] = [];
    for (let k = 0; k < 2 * center + 1; k++) {
      const a = Math.abs(k - center);
      pmf.push(stdCdf((0.5 - a) / s) - stdCdf((-0.5 - a) / s));
    }
    gp.push(pmf); gt.push(2 * stdCdf((-0.5 - center) / s)); go.push(-center);
  }
  const gc = tablesFromPmfs(gp, gt);
  t.set('gaussian_conditional.quantized_cdf', gc.cdf);
  t.set('gaussian_conditional.cdf_length', gc.len);
  t.set('gaussian_conditional.offset', i32([S], go));
  t.set('gaussian_conditional.scale_table', f32([S], (i) => scales[i]!));
  return t;
}

await initHash();
mkdirSync('weights/random', { recursive: true });
const { arch, tensors: det } = detector();
const problems: string[] = [];
const inferred = inferDetectorArch(det, problems);
if (!inferred || problems.length) throw new Error(`generated detector does not validate: ${problems.join('; ')}`);
writeFileSync('weights/random/detector.safetensors', convertToSafetensors({ kind: 'detectron2-rcnn-fpn', config: arch, tensors: det, fingerprint: fingerprintTensors(det) }, 'generated:tools/make-default-weights.ts seed 2026'));
const cod = codec(64, 32, 48);
writeFileSync('weights/random/codec.safetensors', convertToSafetensors({ kind: 'compressai-hyperprior', architecture: 'bmshj2018-hyperprior', C: 64, N: 32, M: 48, tensors: cod, fingerprint: fingerprintTensors(cod) }, 'generated:tools/make-default-weights.ts seed 2026'));
console.log('wrote weights/random/detector.safetensors and weights/random/codec.safetensors');
