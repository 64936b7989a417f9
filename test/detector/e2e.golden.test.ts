// Golden case A end to end on the GPU: image → detections with every intermediate dumped and compared, the split
// (stem → host → fromStem) run, and the 8-bit stem case through fromStem.
// Tolerances: dense intermediates atol = 2e-5·max|ref| (see backbone.golden.test.ts); proposals and detections
// matched one to one (IoU ≥ 0.99, same class, |Δscore| ≤ 1e-3).
import { resolve } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { GpuDetectorBackend } from '../../src/gpu/detector-backend.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { Detector, dequantizeStem } from '../../src/model/detector/detector.ts';
import type { Detections } from '../../src/model/detector/types.ts';
import { loadDetectorWeights } from '../../src/model/weights/index.ts';
import { checked, gpuContext } from '../helpers/gpu.ts';
import { D2, K_REL, f32, goldenNpy, npy, relErr } from './golden.ts';
import { matchBoxes } from './match.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

const DENSE = [
  'input_tensor',
  'stem',
  'res2',
  'res3',
  'res4',
  'res5',
  'p2',
  'p3',
  'p4',
  'p5',
  'p6',
  ...['p2', 'p3', 'p4', 'p5', 'p6'].flatMap((l) => [`rpn_objectness_${l}`, `rpn_anchor_deltas_${l}`]),
];

function expectDetectionsMatch(got: Detections, prefix: string, what: string): void {
  const rb = f32(goldenNpy('A', `${prefix}detections_boxes.npy`));
  const rs = f32(goldenNpy('A', `${prefix}detections_scores.npy`));
  const rc = goldenNpy('A', `${prefix}detections_classes.npy`).data as Int32Array;
  const m = matchBoxes(rb, got.boxes, {
    refScores: rs,
    gotScores: got.scores,
    refClasses: rc,
    gotClasses: got.classes,
    minIou: 0.99,
    maxDs: 1e-3,
  });
  console.log(
    `${what}: ${got.scores.length} detections vs ${rs.length} golden, matched ${m.matched}, min IoU ${m.minIou.toFixed(6)}, max |Δscore| ${m.maxScoreDiff.toExponential(2)}`,
  );
  expect(m.unmatchedRef, `${what}: unmatched golden detections`).toEqual([]);
  expect(m.unmatchedGot, `${what}: extra detections`).toEqual([]);
}

function expectProposalsMatch(got: Float32Array, file: string, what: string): void {
  const ref = f32(goldenNpy('A', file));
  const m = matchBoxes(ref, got, { minIou: 0.99 });
  console.log(`${what}: ${got.length / 4} proposals, matched ${m.matched}/${ref.length / 4}, min IoU ${m.minIou.toFixed(6)}`);
  // The README notes the last P2 top-k slot (gap 8e-5) and post-NMS boundary may swap under float noise: allow ≤ 2.
  expect(m.unmatchedRef.length, `${what}: unmatched proposals ${m.unmatchedRef.slice(0, 5)}`).toBeLessThanOrEqual(2);
}

describeGpuGolden('golden A end to end (GPU)', () => {
  let det: Detector<GpuTensor>;
  let unsplit: Detections;
  const dumps = new Map<string, { data: Float32Array | Int32Array; shape: number[] }>();
  const image = (): { height: number; width: number; data: Uint8Array } => {
    const a = goldenNpy('A', 'input_bgr_u8.npy');
    return { height: a.shape[0]!, width: a.shape[1]!, data: a.data as Uint8Array };
  };
  beforeAll(async () => {
    const ctx = await gpuContext();
    const weights = await loadDetectorWeights(resolve(D2, 'A/weights.pkl'));
    det = await Detector.create(weights, new GpuDetectorBackend(ctx), { minSize: 320, maxSize: 544 });
    unsplit = await checked(
      ctx,
      'detect',
      async () =>
        (
          await det.detect(image(), {
            dump: (n, data, shape) => {
              dumps.set(n, { data, shape });
            },
          })
        ).detections,
    );
  });

  it('every dense intermediate within 2e-5·max|ref|', () => {
    for (const name of DENSE) {
      const d = dumps.get(name);
      expect(d, name).toBeDefined();
      const ref = goldenNpy('A', `${name}.npy`);
      expect(d!.shape, name).toEqual(ref.shape);
      const e = relErr(d!.data as Float32Array, f32(ref));
      console.log(`${name}: rel err ${e.rel.toExponential(2)}`);
      expect(e.rel, name).toBeLessThanOrEqual(K_REL);
    }
  });

  it('proposals and final detections match the golden one to one', () => {
    expectProposalsMatch(dumps.get('proposals_boxes')!.data as Float32Array, 'proposals_boxes.npy', 'unsplit');
    expectDetectionsMatch(unsplit, '', 'unsplit');
  });

  it('split run (stem → host float32 → fromStem) gives identical detections', async () => {
    const ops = det.ops as GpuDetectorBackend;
    const got = await checked(ops.ctx, 'split', async () => {
      const { stem, sizes } = await det.stem(image());
      const host = await ops.toCHW(stem);
      ops.release(stem);
      const received = ops.fromCHW(host, ...det.stemShape(sizes));
      const d = await det.fromStem(received, JSON.parse(JSON.stringify(sizes)));
      ops.release(received);
      return d;
    });
    expect(got.boxes).toEqual(unsplit.boxes);
    expect(got.scores).toEqual(unsplit.scores);
    expect(got.classes).toEqual(unsplit.classes);
  });

  it('8-bit stem through fromStem matches stem_q8_* one to one', async () => {
    const ops = det.ops as GpuDetectorBackend;
    const q = goldenNpy('A', 'stem_q8.npy');
    const mx = new Float32Array(new Uint32Array([0x410b645c]).buffer)[0]!;
    const stem = dequantizeStem(q.data as Uint8Array, 0, mx);
    const proposals: Float32Array[] = [];
    const got = await checked(ops.ctx, 'q8', async () => {
      const t = ops.fromCHW(stem, 64, 80, 128);
      const d = await det.fromStem(
        t,
        { original: [300, 451], resized: [320, 481], padded: [320, 512] },
        {
          dump: (n, data) => {
            if (n === 'proposals_boxes') proposals.push(data as Float32Array);
          },
        },
      );
      ops.release(t);
      return d;
    });
    expectProposalsMatch(proposals[0]!, 'stem_q8_proposals_boxes.npy', 'q8');
    expectDetectionsMatch(got, 'stem_q8_', 'q8');
  });
});

// Method 2 (pipeline golden P_A/m2): one direct resize 300×451 → 256×512 (a downscale in y, upscale in x), no padding,
// separate x/y rescale. Reference: the unsplit model on the same resized image (ref_detections_*) and its stem.
describeGpuGolden('golden P_A method 2 (GPU)', () => {
  const M2 = resolve(D2, '../pipeline/P_A/m2');
  it('stem within 2e-5·max|ref| and detections match ref_detections one to one', async () => {
    const ctx = await gpuContext();
    const ops = new GpuDetectorBackend(ctx);
    const weights = await loadDetectorWeights(resolve(D2, 'A/weights.pkl'));
    const det = await Detector.create(weights, ops, { minSize: 320, maxSize: 544, method2: true });
    const a = goldenNpy('A', 'input_bgr_u8.npy');
    const stems: Float32Array[] = [];
    const { detections, sizes } = await checked(ctx, 'm2', () =>
      det.detect(
        { height: 300, width: 451, data: a.data as Uint8Array },
        {
          dump: (n, d) => {
            if (n === 'stem') stems.push(d as Float32Array);
          },
        },
      ),
    );
    det.dispose();
    expect(sizes).toEqual({ original: [300, 451], resized: [256, 512], padded: [256, 512] });
    const e = relErr(stems[0]!, f32(npy(resolve(M2, 'stem.npy'))));
    console.log(`m2 stem: rel err ${e.rel.toExponential(2)}`);
    expect(e.rel).toBeLessThanOrEqual(K_REL);
    const rb = f32(npy(resolve(M2, 'ref_detections_boxes.npy'))),
      rs = f32(npy(resolve(M2, 'ref_detections_scores.npy')));
    const rc = npy(resolve(M2, 'ref_detections_classes.npy')).data as Int32Array;
    const m = matchBoxes(rb, detections.boxes, {
      refScores: rs,
      gotScores: detections.scores,
      refClasses: rc,
      gotClasses: detections.classes,
      minIou: 0.99,
      maxDs: 1e-3,
    });
    console.log(
      `m2: ${detections.scores.length} detections vs ${rs.length}, matched ${m.matched}, min IoU ${m.minIou.toFixed(6)}, max |Δscore| ${m.maxScoreDiff.toExponential(2)}`,
    );
    expect(m.unmatchedRef).toEqual([]);
    expect(m.unmatchedGot).toEqual([]);
  });
});
