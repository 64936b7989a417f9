// f16 accuracy on the golden Detectron2 case A (seeded weights, ../shared/golden/detectron2/A): the detector run with
// precision 'f16' against the same detector in f32 and against Detectron2's own detections. Prints matched
// detections (same class, IoU ≥ 0.9 and ≥ 0.99) and the largest score change.   npx tsx bench/f16-golden.ts
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GpuContext } from '../src/gpu/context.ts';
import { GpuDetectorBackend } from '../src/gpu/detector-backend.ts';
import { Detector } from '../src/model/detector/detector.ts';
import type { Detections } from '../src/model/detector/types.ts';
import { loadDetectorWeights } from '../src/model/weights/index.ts';
import { readNpy } from '../src/io/npy.ts';
import { matchBoxes } from '../test/detector/match.ts';

const D2 = resolve(process.env.WEBVCM_GOLDEN ?? '../shared/golden', 'detectron2');
const goldenNpy = (c: string, f: string) => readNpy(new Uint8Array(readFileSync(resolve(D2, c, f))));
const f32 = (a: { data: unknown }) => a.data as Float32Array;
const ctx = await GpuContext.create();
const weights = await loadDetectorWeights(resolve(D2, 'A/weights.pkl'));
const a = goldenNpy('A', 'input_bgr_u8.npy');
const image = { height: a.shape[0]!, width: a.shape[1]!, data: a.data as Uint8Array };
const run = async (precision: 'f32' | 'f16'): Promise<Detections> => {
  const det = await Detector.create(weights, new GpuDetectorBackend(ctx, { precision }), { minSize: 320, maxSize: 544 });
  try {
    return (await det.detect(image)).detections;
  } finally {
    det.dispose();
  }
};
const d32 = await run('f32');
const d16 = await run('f16');
const golden = {
  boxes: f32(goldenNpy('A', 'detections_boxes.npy')),
  scores: f32(goldenNpy('A', 'detections_scores.npy')),
  classes: goldenNpy('A', 'detections_classes.npy').data as Int32Array,
};
const rows = [];
for (const [name, ref, got] of [
  ['f16 vs f32', d32, d16],
  ['f16 vs Detectron2', golden, d16],
  ['f32 vs Detectron2', golden, d32],
] as const) {
  for (const minIou of [0.9, 0.99]) {
    const m = matchBoxes(ref.boxes, got.boxes, {
      refScores: ref.scores,
      gotScores: got.scores,
      refClasses: ref.classes,
      gotClasses: got.classes,
      minIou,
      maxDs: 1,
    });
    rows.push({
      pair: name,
      'IoU ≥': minIou,
      ref: ref.scores.length,
      got: got.scores.length,
      matched: m.matched,
      'max |Δscore|': +m.maxScoreDiff.toFixed(4),
    });
  }
}
console.log(`adapter: ${ctx.info.description}; golden case A (seeded random weights, ${image.height}x${image.width})`);
console.table(rows);
ctx.dispose();
