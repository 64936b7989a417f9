import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { goldenOrFixture } from '../helpers/golden.ts';
import {
  evaluateBoxes,
  CocoFormatError,
  Params,
  linspace,
  pairwiseSum,
  fmtFixed,
  bboxIou,
  COCO,
  STAT_NAMES,
  type CocoGroundTruth,
  type CocoResult,
} from '../../src/eval/cocoeval.ts';

const GOLDEN = dirname(dirname(goldenOrFixture('cocoeval/F1/expected.json')));
const load = (f: string, name: string): any => JSON.parse(readFileSync(resolve(GOLDEN, f, name), 'utf8'));

describe.each(['F1', 'F2'])('pycocotools fixture %s', (f) => {
  const gt = load(f, 'instances.json') as CocoGroundTruth;
  const dets = load(f, 'detections.json') as CocoResult[];
  const expected = load(f, 'expected.json');
  const r = evaluateBoxes(gt, dets);

  it('reproduces all 12 stats (1e-6; in fact to 1e-12)', () => {
    expect(r.statsArray).toHaveLength(12);
    for (let i = 0; i < 12; i++) {
      expect(Math.abs(r.statsArray[i]! - expected.stats[i]), `${expected.stats_names[i]}`).toBeLessThan(1e-6);
      expect(Math.abs(r.statsArray[i]! - expected.stats[i])).toBeLessThan(1e-12);
      expect(r.stats[STAT_NAMES[i]!]).toBe(r.statsArray[i]);
    }
  });

  it('reproduces per-category AP (detectron2 style, null where no GT) and the summary lines', () => {
    expect(r.perCategory.map((c) => c.id)).toEqual(expected.per_category_AP.map((c: any) => c.id));
    r.perCategory.forEach((c, i) => {
      const e = expected.per_category_AP[i].AP;
      if (e === null) expect(c.AP).toBeNull();
      else expect(Math.abs(c.AP! - e)).toBeLessThan(1e-12);
      expect(c.name).toBe(expected.per_category_AP[i].name);
    });
    expect(r.summaryLines).toEqual(expected.summary_lines);
  });

  it('is independent of the order of GT images and categories in the file', () => {
    const shuffled = { ...gt, images: [...gt.images].reverse(), categories: [...gt.categories].reverse() };
    expect(evaluateBoxes(shuffled, dets).statsArray).toEqual(r.statsArray);
  });
});

describe('F2 edge cases', () => {
  const gt = load('F2', 'instances.json') as CocoGroundTruth;
  const dets = load('F2', 'detections.json') as CocoResult[];
  const expected = load('F2', 'expected.json');

  it('without image 1003 (bbIou arithmetic separated)', () => {
    const gt2 = { ...gt, images: gt.images.filter((i) => i.id !== 1003), annotations: gt.annotations.filter((a) => a.image_id !== 1003) };
    const r = evaluateBoxes(
      gt2,
      dets.filter((d) => d.image_id !== 1003),
    );
    r.statsArray.forEach((v, i) => expect(Math.abs(v - expected.without_image_1003.stats[i])).toBeLessThan(1e-12));
  });

  it('the imgIds option restricts evaluation like params.imgIds', () => {
    const ids = gt.images.map((i) => i.id).filter((id) => id !== 1003);
    const gt2 = { ...gt, images: gt.images.filter((i) => i.id !== 1003), annotations: gt.annotations.filter((a) => a.image_id !== 1003) };
    const a = evaluateBoxes(gt, dets, { imgIds: ids });
    const b = evaluateBoxes(
      gt2,
      dets.filter((d) => d.image_id !== 1003),
    );
    expect(a.statsArray).toEqual(b.statsArray);
  });

  it('params are built like numpy', () => {
    const p = new Params();
    expect(p.iouThrs).toEqual(expected.params.iouThrs);
    expect(p.iouThrs[8]).toBe(0.8999999999999999);
    expect(p.recThrs).toHaveLength(expected.params.recThrs_count);
    expect(p.recThrs[35]).toBe(0.35000000000000003);
    expect(p.recThrs[70]).toBe(0.7000000000000001);
    expect(p.recThrs[100]).toBe(1);
    expect(p.areaRng).toEqual(expected.params.areaRng);
    expect(p.maxDets).toEqual(expected.params.maxDets);
    expect(linspace(0, 1, 1)).toEqual([0]);
  });
});

describe('building blocks', () => {
  it('bbIou: crowd divides by the detection area; zero-size boxes give 0', () => {
    const iou = bboxIou(
      [
        [0, 0, 10, 10],
        [5, 5, 10, 10],
        [0, 0, 0, 10],
      ],
      [
        [0, 0, 20, 20],
        [0, 0, 10, 10],
      ],
      [true, false],
    );
    // rows: detections, columns: GTs
    expect(iou[0]).toBe(1); // det 0 fully inside the crowd region
    expect(iou[1]).toBe(1);
    expect(iou[2]).toBe(1); // det 1 inside crowd
    expect(iou[3]).toBe(25 / 175);
    expect(iou[4]).toBe(0);
    expect(iou[5]).toBe(0);
  });

  it('pairwiseSum follows numpy (unrolled by 8, halves above 128)', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 0.1 * ((i * 7919) % 13) + 1e-3 * i);
    const naive = xs.reduce((a, b) => a + b, 0);
    expect(Math.abs(pairwiseSum(xs) - naive)).toBeLessThan(1e-9);
    expect(pairwiseSum([1, 2, 3])).toBe(6);
    // 9 values: r[0] collects a[0]+a[8]
    expect(pairwiseSum([1e16, 1, 1, 1, 1, 1, 1, 1, -1e16])).toBe(6);
  });

  it("fmtFixed rounds exact ties half-to-even like Python's format", () => {
    expect(fmtFixed(0.8125, 3)).toBe('0.812');
    expect(fmtFixed(0.0625, 3)).toBe('0.062');
    expect(fmtFixed(0.4537, 3)).toBe('0.454');
    expect(fmtFixed(-1, 3)).toBe('-1.000');
    expect(fmtFixed(0.5, 2)).toBe('0.50');
  });
});

describe('results edge cases', () => {
  const gt: CocoGroundTruth = {
    images: [
      { id: 1, width: 100, height: 100 },
      { id: 2, width: 100, height: 100 },
    ],
    categories: [
      { id: 1, name: 'person' },
      { id: 3, name: 'car' },
    ],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 40, 40], area: 1600, iscrowd: 0 },
      { id: 2, image_id: 2, category_id: 3, bbox: [0, 0, 50, 20], area: 1000, iscrowd: 0 },
    ],
  };

  it('perfect detections give AP 1; an empty list gives 0 (pycocotools would crash); no GT in a range gives -1', () => {
    const perfect = evaluateBoxes(gt, [
      { image_id: 1, category_id: 1, bbox: [10, 10, 40, 40], score: 0.9 },
      { image_id: 2, category_id: 3, bbox: [0, 0, 50, 20], score: 0.8 },
    ]);
    // precision = tp / (tp + fp + eps), exactly as pycocotools: 1 / (1 + 2^-52)
    const ONE = 1 / (1 + 2.220446049250313e-16);
    expect(ONE).toBe(0.9999999999999998);
    expect(perfect.stats.AP).toBe(ONE);
    expect(perfect.stats.AR1).toBe(1);
    expect(perfect.stats.APs).toBe(ONE); // car: area 1000 < 1024
    expect(perfect.stats.APl).toBe(-1); // no large GT
    const empty = evaluateBoxes(gt, []);
    expect(empty.stats.AP).toBe(0);
    expect(empty.stats.AR100).toBe(0);
    expect(empty.stats.APl).toBe(-1);
  });

  it('loadRes semantics: ids 1..n, area w*h, iscrowd 0', () => {
    const c = COCO.fromGroundTruth(gt);
    const r = c.loadRes([
      { image_id: 2, category_id: 3, bbox: [1, 2, 3, 4], score: 0.5 },
      { image_id: 1, category_id: 1, bbox: [0, 0, 2, 2], score: 0.1 },
    ]);
    expect(r.anns.map((a) => [a.id, a.area, a.iscrowd])).toEqual([
      [1, 12, false],
      [2, 4, false],
    ]);
  });
});

describe('malformed input raises CocoFormatError', () => {
  const good = (): any => ({
    images: [{ id: 1 }],
    categories: [{ id: 1, name: 'person' }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100, iscrowd: 0 }],
  });
  const det = (): any => ({ image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 });
  const cases: [string, () => [unknown, unknown], RegExp][] = [
    ['GT not an object', () => [[], []], /JSON object/],
    [
      'missing annotations',
      () => {
        const g = good();
        delete g.annotations;
        return [g, []];
      },
      /"annotations"/,
    ],
    [
      'missing area',
      () => {
        const g = good();
        delete g.annotations[0].area;
        return [g, []];
      },
      /"area"/,
    ],
    [
      'missing iscrowd',
      () => {
        const g = good();
        delete g.annotations[0].iscrowd;
        return [g, []];
      },
      /iscrowd/,
    ],
    [
      'GT bbox of 3',
      () => {
        const g = good();
        g.annotations[0].bbox = [0, 0, 1];
        return [g, []];
      },
      /bbox/,
    ],
    [
      'GT unknown image',
      () => {
        const g = good();
        g.annotations[0].image_id = 9;
        return [g, []];
      },
      /image_id 9/,
    ],
    [
      'GT unknown category',
      () => {
        const g = good();
        g.annotations[0].category_id = 9;
        return [g, []];
      },
      /category_id 9/,
    ],
    [
      'duplicate annotation id',
      () => {
        const g = good();
        g.annotations.push({ ...g.annotations[0] });
        return [g, []];
      },
      /duplicate annotation id/,
    ],
    [
      'duplicate image id',
      () => {
        const g = good();
        g.images.push({ id: 1 });
        return [g, []];
      },
      /duplicate image id/,
    ],
    ['results not an array', () => [good(), { annotations: [] }], /JSON array/],
    ['non-finite bbox', () => [good(), [{ ...det(), bbox: [0, 0, NaN, 10] }]], /finite/],
    ['Infinity in bbox', () => [good(), [{ ...det(), bbox: [0, 0, Infinity, 10] }]], /finite/],
    ['bbox as string', () => [good(), [{ ...det(), bbox: '0,0,1,1' }]], /bbox/],
    [
      'missing score',
      () => {
        const d = det();
        delete d.score;
        return [good(), [d]];
      },
      /"score"/,
    ],
    [
      'segm result',
      () => {
        const d = det();
        delete d.bbox;
        d.segmentation = {};
        return [good(), [d]];
      },
      /only bbox/,
    ],
    ['unknown image id in results', () => [good(), [det(), { ...det(), image_id: 77 }]], /image id\(s\) not in the ground truth \(77\)/],
  ];
  it.each(cases)('%s', (_name, make, msg) => {
    const [g, d] = make();
    let err: unknown;
    try {
      evaluateBoxes(g, d);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CocoFormatError);
    expect((err as Error).name).toBe('CocoFormatError');
    expect((err as Error).message).toMatch(msg);
  });

  it('results for categories not in the GT are skipped, not an error (pycocotools)', () => {
    const r = evaluateBoxes(good(), [det(), { ...det(), category_id: 5, score: 0.99 }]);
    expect(r.stats.AP).toBe(0.9999999999999998);
    expect(r.stats.AR100).toBe(1);
  });
});
