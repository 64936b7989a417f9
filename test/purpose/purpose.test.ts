/**
 * Tests of purpose: what the bundled trained models are for, measured on a fixed subset of the shapes world's
 * **test** split (seed 7919, used for nothing but reporting; regenerated bit-identically by src/world/generate.ts).
 *  - the bundled detector finds the objects (AP50 above a threshold set from the measured value, with a margin);
 *  - coding the stem features at the bundled (default) rate loses at most a stated number of AP points (both methods);
 *  - for the same image and codec, method 2's stream is smaller than method 1's;
 *  - `npm start`'s example image, through the codec: every annotated object is found with IoU ≥ 0.5 and the right
 *    class, and no wrong box scores above the lowest-scoring right one.
 * Measured values and margins: docs/models.md ("Tests of purpose") and thresholds.json.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDecoder, createEncoder, type VcmDecoder, type VcmEncoder } from '../../src/index.ts';
import { evaluateBoxes } from '../../src/eval/cocoeval.ts';
import type { Detections } from '../../src/model/detector/types.ts';
import type { BgrImage } from '../../src/model/detector/preprocess.ts';
import { generateWorldImage, worldCocoJson, WORLD_CLASS_NAMES, WORLD_SEEDS, type WorldImage } from '../../src/world/generate.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/default/detector.safetensors';
const COD = 'weights/default/codec.safetensors';
const SIZE = { minSize: 320, maxSize: 544 };
/** Fixed subset: the first SUBSET images of the test split. */
const SUBSET = 16;
// Thresholds (docs/models.md): measured on this subset with the bundled weights, minus a margin.
const MIN_AP50 = Number(readJson('thresholds').minAP50);
const MAX_AP_LOSS = readJson('thresholds').maxAPLoss as Record<'method 1' | 'method 2', number>;
const MIN_CODED_EXAMPLE_SCORE = Number(readJson('thresholds').minCodedExampleScore);

function readJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

function toBgr(img: WorldImage): BgrImage {
  const data = new Uint8Array(img.rgb.length);
  for (let i = 0; i < img.rgb.length; i += 3) {
    data[i] = img.rgb[i + 2]!;
    data[i + 1] = img.rgb[i + 1]!;
    data[i + 2] = img.rgb[i]!;
  }
  return { width: img.width, height: img.height, data };
}

function results(imageId: number, d: Detections) {
  const out = [];
  for (let i = 0; i < d.scores.length; i++) {
    const [x1, y1, x2, y2] = [d.boxes[4 * i]!, d.boxes[4 * i + 1]!, d.boxes[4 * i + 2]!, d.boxes[4 * i + 3]!];
    out.push({ image_id: imageId, category_id: d.classes[i]! + 1, bbox: [x1, y1, x2 - x1, y2 - y1], score: d.scores[i]! });
  }
  return out;
}

function iou(a: number[], b: number[]): number {
  const iw = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)),
    ih = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const u = (a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - iw * ih;
  return u > 0 ? (iw * ih) / u : 0;
}

const EXAMPLE = readJson('example') as { file: string; objects: { cls: string; box: number[] }[] };

/** The example's detections judged: per object its best right detection (IoU >= 0.5, right class; -1: missed, which
 *  fails), the lowest of those, and the wrong detections scoring above it. */
function judgeExample(d: Detections, what: string): { lowestRight: number; wrongAbove: string[] } {
  const n = d.scores.length;
  const box = (i: number) => Array.from(d.boxes.subarray(4 * i, 4 * i + 4));
  const rightFor = (i: number, o: { cls: string; box: number[] }) =>
    WORLD_CLASS_NAMES[d.classes[i]!] === o.cls && iou(box(i), o.box) >= 0.5;
  let lowestRight = Infinity;
  for (const o of EXAMPLE.objects) {
    let best = -1;
    for (let i = 0; i < n; i++) if (rightFor(i, o)) best = Math.max(best, d.scores[i]!);
    expect(best, `${what}: ${o.cls} at ${o.box.join(',')} not found`).toBeGreaterThan(0);
    lowestRight = Math.min(lowestRight, best);
  }
  const name = (i: number) =>
    `${WORLD_CLASS_NAMES[d.classes[i]!]} ${d.scores[i]!.toFixed(3)} at ${box(i)
      .map((v) => v.toFixed(0))
      .join(',')}`;
  const wrongAbove = [...Array(n).keys()]
    .filter((i) => !EXAMPLE.objects.some((o) => rightFor(i, o)) && d.scores[i]! > lowestRight)
    .map(name);
  console.log(
    `[purpose] example ${what}: lowest right score ${lowestRight.toFixed(3)}; wrong boxes above it: ${wrongAbove.length ? wrongAbove.join('; ') : 'none'}`,
  );
  return { lowestRight, wrongAbove };
}

describeGpu('tests of purpose (bundled trained models, shapes world test subset)', () => {
  let enc1: VcmEncoder, enc2: VcmEncoder, dec: VcmDecoder;
  const images: { index: number; img: WorldImage }[] = [];
  const ref: ReturnType<typeof results> = [],
    m1: ReturnType<typeof results> = [],
    m2: ReturnType<typeof results> = [];
  const bytes1: number[] = [],
    bytes2: number[] = [];

  beforeAll(async () => {
    enc1 = await createEncoder({ detector: DET, codec: COD, method: 1, mode: 'compat', ...SIZE });
    enc2 = await createEncoder({
      detector: enc1.detectorWeights,
      codec: enc1.codecWeights,
      method: 2,
      mode: 'compat',
      device: enc1.device,
      ...SIZE,
    });
    dec = await createDecoder({ detector: enc1.detectorWeights, codec: enc1.codecWeights, device: enc1.device, ...SIZE });
    for (let i = 0; i < SUBSET; i++) {
      const img = generateWorldImage(WORLD_SEEDS.test, i);
      images.push({ index: i, img });
      const bgr = toBgr(img);
      ref.push(...results(i + 1, await enc1.detectUncompressed(bgr)));
      const a = await enc1.encode(bgr),
        b = await enc2.encode(bgr);
      bytes1.push(a.bytes.length);
      bytes2.push(b.bytes.length);
      m1.push(...results(i + 1, (await dec.decode(a.bytes)).detections));
      m2.push(...results(i + 1, (await dec.decode(b.bytes)).detections));
    }
  }, 900_000);

  afterAll(() => {
    dec?.dispose();
    enc2?.dispose();
    enc1?.dispose();
  });

  const gt = () => worldCocoJson(WORLD_SEEDS.test, images);

  it('the bundled detector finds the objects: uncompressed AP50 above the threshold', () => {
    const s = evaluateBoxes(gt(), ref).stats;
    console.log(`[purpose] uncompressed AP ${s.AP.toFixed(4)} AP50 ${s.AP50.toFixed(4)} (threshold AP50 > ${MIN_AP50})`);
    expect(s.AP50).toBeGreaterThan(MIN_AP50);
  });

  it('coding at the bundled rate keeps the accuracy: AP loss within the stated bound for both methods', () => {
    const r = evaluateBoxes(gt(), ref).stats.AP;
    for (const [name, dets] of [
      ['method 1', m1],
      ['method 2', m2],
    ] as const) {
      const a = evaluateBoxes(gt(), dets).stats.AP;
      console.log(
        `[purpose] ${name}: AP ${a.toFixed(4)} vs uncompressed ${r.toFixed(4)} (loss ${(100 * (r - a)).toFixed(2)} points, bound ${MAX_AP_LOSS[name]})`,
      );
      expect.soft(100 * (r - a), name).toBeLessThanOrEqual(MAX_AP_LOSS[name]);
    }
  });

  it("method 2's stream is smaller than method 1's for every image of the subset", () => {
    for (let i = 0; i < SUBSET; i++) expect(bytes2[i]!, `image ${i}`).toBeLessThan(bytes1[i]!);
    const t1 = bytes1.reduce((a, b) => a + b, 0),
      t2 = bytes2.reduce((a, b) => a + b, 0);
    console.log(`[purpose] bytes on the subset: method 1 ${t1}, method 2 ${t2} (${(100 * (1 - t2 / t1)).toFixed(1)} % smaller)`);
  });

  // the target, on the detector: uncompressed, every object found and no wrong box above the lowest right one
  it("npm start's example image, uncompressed: every object found with the right class, no wrong box above the lowest right one", async () => {
    const png = new Uint8Array(readFileSync(EXAMPLE.file));
    const d = await enc1.detectUncompressed(png);
    const { lowestRight, wrongAbove } = judgeExample(d, 'uncompressed');
    expect(lowestRight).toBeGreaterThan(0);
    expect(wrongAbove).toEqual([]);
  });

  // through the codec at the default rate (what `npm start` prints): every object still found, at a measured score;
  // wrong boxes above the lowest right one are reported, not asserted (a known miss: docs/models.md)
  it("npm start's example image, through the codec: every object found with the right class above the measured score", async () => {
    const png = new Uint8Array(readFileSync(EXAMPLE.file));
    const r = await enc1.encode(png);
    const d = (await dec.decode(r.bytes)).detections;
    const { lowestRight } = judgeExample(d, 'coded');
    expect(lowestRight).toBeGreaterThanOrEqual(MIN_CODED_EXAMPLE_SCORE);
  });
});
