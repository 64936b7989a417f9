import { describe, it, expect } from 'vitest';
import {
  COCO_CLASS_NAMES,
  COCO_CATEGORY_IDS,
  COCO_CATEGORIES,
  toCocoResults,
  contiguousToCocoId,
  cocoIdToContiguous,
  CategoryMappingError,
} from '../../src/eval/coco-categories.ts';

// detectron2-reference §11: sorted COCO thing ids
const IDS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
  42, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 70, 72, 73, 74, 75, 76, 77, 78, 79, 80,
  81, 82, 84, 85, 86, 87, 88, 89, 90,
];

describe('COCO categories', () => {
  it('80 classes, ids as in detectron2, names in contiguous order', () => {
    expect(COCO_CATEGORY_IDS).toEqual(IDS);
    expect(COCO_CLASS_NAMES).toHaveLength(80);
    expect(new Set(COCO_CLASS_NAMES).size).toBe(80);
    expect([COCO_CLASS_NAMES[0], COCO_CLASS_NAMES[2], COCO_CLASS_NAMES[15], COCO_CLASS_NAMES[56], COCO_CLASS_NAMES[79]]).toEqual([
      'person',
      'car',
      'cat',
      'chair',
      'toothbrush',
    ]);
    // names agree with the fixture files' (real COCO) categories
    const byId = new Map(COCO_CATEGORIES.map((c) => [c.id, c.name]));
    expect([byId.get(16), byId.get(44), byId.get(47), byId.get(62), byId.get(84)]).toEqual(['bird', 'bottle', 'cup', 'chair', 'book']);
    for (let k = 0; k < 80; k++) expect(cocoIdToContiguous(contiguousToCocoId(k))).toBe(k);
    expect(() => contiguousToCocoId(80)).toThrow(CategoryMappingError);
    expect(() => contiguousToCocoId(-1)).toThrow(CategoryMappingError);
    expect(() => contiguousToCocoId(1.5)).toThrow(CategoryMappingError);
    expect(() => cocoIdToContiguous(12)).toThrow(/not one of the 80/);
  });

  it('toCocoResults: XYXY -> XYWH (no +1, float32 arithmetic), class -> COCO id, input order kept', () => {
    const boxes = new Float32Array([10.5, 20.25, 110.5, 70.75, 0.1, 0.2, 0.7, 0.9]);
    const scores = new Float32Array([0.9, 0.3]);
    const r = toCocoResults(42, boxes, scores, new Int32Array([0, 79]));
    expect(r).toEqual([
      { image_id: 42, category_id: 1, bbox: [10.5, 20.25, 100, 50.5], score: Math.fround(0.9) },
      {
        image_id: 42,
        category_id: 90,
        bbox: [
          Math.fround(0.1),
          Math.fround(0.2),
          Math.fround(Math.fround(0.7) - Math.fround(0.1)),
          Math.fround(Math.fround(0.9) - Math.fround(0.2)),
        ],
        score: Math.fround(0.3),
      },
    ]);
    expect(toCocoResults(1, new Float32Array(0), new Float32Array(0), [])).toEqual([]);
    // plain number arrays: double arithmetic
    expect(toCocoResults(1, [0.1, 0.2, 0.7, 0.9], [0.5], [16])[0]!.bbox).toEqual([0.1, 0.2, 0.7 - 0.1, 0.9 - 0.2]);
    expect(() => toCocoResults(1, new Float32Array(3), new Float32Array(1), [0])).toThrow(CategoryMappingError);
    expect(() => toCocoResults(1, new Float32Array(4), new Float32Array(1), [0, 1])).toThrow(/classes/);
    expect(() => toCocoResults(1, new Float32Array(4), new Float32Array(1), [80])).toThrow(/outside 0..79/);
  });
});
