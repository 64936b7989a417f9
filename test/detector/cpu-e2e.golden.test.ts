// Golden case A end to end on the CPU reference backend (CpuDetectorBackend: dense ops + the heads' CPU ops), from
// the golden input image: the whole graph without a GPU. Same tolerances as the GPU tests.
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { CpuDetectorBackend } from '../../src/cpu/detector-backend.ts';
import { Detector } from '../../src/model/detector/detector.ts';
import { loadDetectorWeights } from '../../src/model/weights/index.ts';
import { D2, K_REL, f32, goldenNpy, relErr } from './golden.ts';
import { matchBoxes } from './match.ts';
import { itGolden } from '../helpers/golden.ts';

itGolden('golden A on the CPU backend: stem, p2..p6 and detections', async () => {
  const weights = await loadDetectorWeights(resolve(D2, 'A/weights.pkl'));
  const det = await Detector.create(weights, new CpuDetectorBackend(), { minSize: 320, maxSize: 544 });
  const a = goldenNpy('A', 'input_bgr_u8.npy');
  const dumps = new Map<string, Float32Array>();
  const { detections } = await det.detect(
    { height: 300, width: 451, data: a.data as Uint8Array },
    {
      dump: (n, d) => {
        if (d instanceof Float32Array) dumps.set(n, d);
      },
    },
  );
  det.dispose();
  for (const n of ['stem', 'res5', 'p2', 'p3', 'p4', 'p5', 'p6', 'rpn_objectness_p2', 'rpn_anchor_deltas_p3']) {
    const e = relErr(dumps.get(n)!, f32(goldenNpy('A', `${n}.npy`)));
    expect(e.rel, n).toBeLessThanOrEqual(K_REL);
  }
  const m = matchBoxes(f32(goldenNpy('A', 'detections_boxes.npy')), detections.boxes, {
    refScores: f32(goldenNpy('A', 'detections_scores.npy')),
    gotScores: detections.scores,
    refClasses: goldenNpy('A', 'detections_classes.npy').data as Int32Array,
    gotClasses: detections.classes,
    minIou: 0.99,
    maxDs: 1e-3,
  });
  expect(m.unmatchedRef).toEqual([]);
  expect(m.unmatchedGot).toEqual([]);
});
