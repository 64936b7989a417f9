// The Detector driver on a tiny random R50-FPN (narrow widths, real depth 3/4/6/3) with a recording fake for the
// heads: GPU vs CPU-reference graph, split vs unsplit identity, dumps, typed errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuDetectorBackend } from '../../src/cpu/detector-backend.ts';
import type { Tensor } from '../../src/model/backend.ts';
import { GpuDetectorBackend } from '../../src/gpu/detector-backend.ts';
import { Detector, dequantizeStem, type DetectorBackend, type HeadsFn } from '../../src/model/detector/detector.ts';
import { resolveDetectorConfig } from '../../src/model/detector/config.ts';
import { DetectorInputError, type BgrImage } from '../../src/model/detector/preprocess.ts';
import { r50FpnArch, randomDetectorWeights } from '../../src/model/detector/random-weights.ts';
import { checked, describeGpu, expectClose, gpuContext } from '../helpers/gpu.ts';
import { goldenNpy } from './golden.ts';
import { itGolden } from '../helpers/golden.ts';

const arch = r50FpnArch({ width: 2, res2Out: 8, fpnOut: 8, fcDim: 8 });
const weights = randomDetectorWeights(arch, 3);
const cfg = { minSize: 64, maxSize: 100 };
const H = 45,
  W = 61;
const image: BgrImage = { height: H, width: W, data: new Uint8Array(H * W * 3).map((_, i) => (i * 37 + (i % 7) * 11) & 255) };

/** Fake heads: reads every FPN/RPN tensor back and returns it flattened as "scores" (one detection per value). */
function recordingHeads<T extends Tensor>(): HeadsFn<T> {
  return async (ops, fpn) => {
    const parts: Float32Array[] = [];
    for (const t of [
      fpn.features.p2,
      fpn.features.p3,
      fpn.features.p4,
      fpn.features.p5,
      fpn.features.p6,
      ...fpn.rpnObjectness,
      ...fpn.rpnDeltas,
    ])
      parts.push(await ops.toCHW(t));
    const n = parts.reduce((a, p) => a + p.length, 0);
    const scores = new Float32Array(n);
    let o = 0;
    for (const p of parts) {
      scores.set(p, o);
      o += p.length;
    }
    return { detections: { boxes: new Float32Array(4 * n), scores, classes: new Int32Array(n) } };
  };
}

async function runAll<T extends Tensor>(
  ops: DetectorBackend<T>,
): Promise<{ unsplit: Float32Array; split: Float32Array; stem: Float32Array; dumps: Map<string, number[]> }> {
  const det = await Detector.create(weights, ops, cfg, { heads: recordingHeads<T>() });
  const dumps = new Map<string, number[]>();
  const { detections, sizes } = await det.detect(image, {
    dump: (n, _d, s) => {
      dumps.set(n, s);
    },
  });
  expect(sizes).toEqual({ original: [45, 61], resized: [64, 87], padded: [64, 96] });
  const s = await det.stem(image);
  expect(s.stem.shape).toEqual([64, 16, 24]);
  const stem = await ops.toCHW(s.stem);
  const split = await det.fromStem(s.stem, s.sizes);
  // wrong stem shape / sizes → typed errors
  await expect(det.fromStem(s.stem, { ...s.sizes, padded: [64, 128] })).rejects.toThrow(DetectorInputError);
  await expect(det.fromStem(s.stem, { ...s.sizes, padded: [60, 96] })).rejects.toThrow(DetectorInputError);
  ops.release(s.stem);
  det.dispose();
  await expect(det.stem(image)).rejects.toThrow(DetectorInputError);
  return { unsplit: detections.scores, split: split.scores, stem, dumps };
}

describe('Detector driver on the CPU reference backend', () => {
  it('config validation', () => {
    expect(resolveDetectorConfig({ minSize: 320 }).maxSize).toBe(1333);
    expect(() => resolveDetectorConfig({ minSize: -1 })).toThrow(DetectorInputError);
    expect(() => resolveDetectorConfig({ minSize: 900, maxSize: 800 })).toThrow(DetectorInputError);
    expect(() => resolveDetectorConfig({ nmsThresh: 2 })).toThrow(DetectorInputError);
  });
  itGolden('stem_q8 dequantisation matches the golden contract (q·scale + min in float32)', () => {
    const q = goldenNpy('A', 'stem_q8.npy').data as Uint8Array;
    const x = dequantizeStem(q, 0, 8.712002);
    const scale = new Float32Array(new Uint32Array([0x3d0bf04c]).buffer)[0]!;
    expect(x[q.indexOf(255)]).toBe(Math.fround(255 * scale));
    const ref = goldenNpy('A', 'stem.npy').data as Float32Array;
    let maxErr = 0;
    for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(x[i]! - ref[i]!));
    expect(maxErr).toBeLessThan(0.0171 + 1e-6); // README: max abs error 0.0171
  });
});

describeGpu('Detector driver: GPU vs CPU graph, split vs unsplit', () => {
  let cpu: Awaited<ReturnType<typeof runAll<import('../../src/cpu/backend.ts').CpuTensor>>>;
  beforeAll(async () => {
    cpu = await runAll(new CpuDetectorBackend());
  });

  it('CPU: split and unsplit identical; dumps under the golden names', () => {
    expect(cpu.split).toEqual(cpu.unsplit);
    expect([...cpu.dumps.keys()].sort()).toEqual(
      [
        'input_tensor',
        'p2',
        'p3',
        'p4',
        'p5',
        'p6',
        'res2',
        'res3',
        'res4',
        'res5',
        ...['p2', 'p3', 'p4', 'p5', 'p6'].flatMap((l) => [`rpn_anchor_deltas_${l}`, `rpn_objectness_${l}`]),
        'stem',
      ].sort(),
    );
    expect(cpu.dumps.get('res5')).toEqual([1, 64, 2, 3]);
    expect(cpu.dumps.get('p6')).toEqual([1, 8, 1, 2]);
  });

  it('GPU matches the CPU reference graph; split and unsplit identical', async () => {
    const ctx = await gpuContext();
    const gpu = await checked(ctx, 'detector', () => runAll(new GpuDetectorBackend(ctx)));
    expect(gpu.split).toEqual(gpu.unsplit);
    // same tolerance rule as the golden tests: atol = 2e-5·max|ref|
    const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expectClose(gpu.stem, cpu.stem, 2e-5 * maxAbs(cpu.stem), 0, 'stem');
    expectClose(gpu.unsplit, cpu.unsplit, 2e-5 * maxAbs(cpu.unsplit), 0, 'fpn+rpn');
  });
});
