// The 80 COCO "thing" classes in detectron2's contiguous order (0..79) and the mapping to COCO category ids
// (detectron2 data/datasets/builtin_meta.py; detectron2-reference §11), plus the conversion of a detector's
// output (XYXY boxes in original-image pixels) to a COCO results list.
import { COCO_CATEGORY_IDS, COCO_CLASS_TABLE } from '../model/coco-classes.ts';
import type { CocoCategory, CocoResult } from './cocoeval.ts';
import { VcmError } from '../util/errors.ts';

export { COCO_CATEGORY_IDS, COCO_CLASS_NAMES } from '../model/coco-classes.ts';

/** The 80 categories as they appear in an instances_*.json file. */
export const COCO_CATEGORIES: readonly CocoCategory[] = Object.freeze(
  COCO_CLASS_TABLE.map(([id, name, supercategory]) => Object.freeze({ id, name, supercategory })),
);

const ID_TO_CONTIGUOUS = new Map(COCO_CATEGORY_IDS.map((id, k) => [id, k]));

export class CategoryMappingError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'CategoryMappingError';
  }
}

export function contiguousToCocoId(k: number): number {
  const id = Number.isInteger(k) ? COCO_CATEGORY_IDS[k] : undefined;
  if (id === undefined) throw new CategoryMappingError(`contiguous class ${k} is outside 0..${COCO_CATEGORY_IDS.length - 1}`);
  return id;
}

export function cocoIdToContiguous(id: number): number {
  const k = ID_TO_CONTIGUOUS.get(id);
  if (k === undefined) throw new CategoryMappingError(`COCO category id ${id} is not one of the 80 thing categories`);
  return k;
}

/** How a detector's contiguous classes map to an annotation file's category ids. */
export interface CategoryMapping {
  /** category id per contiguous class; -1 = the class has no category in the file (its detections are dropped) */
  ids: number[];
  /** 'name': by class name; 'coco': detectron2's COCO contiguous-id table */
  by: 'name' | 'coco';
  /** detector classes without a category of the same name */
  unmatched: string[];
}

/**
 * Map the detector's class names to the categories of an annotation file by name (exact, then case-insensitive).
 * Throws when no class matches any category (wrong annotation file or detector).
 */
export function categoryMappingByName(classNames: readonly string[], categories: Iterable<CocoCategory>): CategoryMapping {
  const exact = new Map<string, number>(),
    folded = new Map<string, number>();
  const cats = [...categories];
  for (const c of cats) {
    if (typeof c.name !== 'string') continue;
    exact.set(c.name, c.id);
    if (!folded.has(c.name.toLowerCase())) folded.set(c.name.toLowerCase(), c.id);
  }
  const ids = classNames.map((n) => exact.get(n) ?? folded.get(n.toLowerCase()) ?? -1);
  const unmatched = classNames.filter((_, k) => ids[k] === -1);
  if (unmatched.length === classNames.length) {
    throw new CategoryMappingError(
      `none of the detector's ${classNames.length} class names (${classNames.slice(0, 5).join(', ')}${classNames.length > 5 ? ', …' : ''}) ` +
        `names a category of the annotation file (${cats
          .slice(0, 5)
          .map((c) => c.name)
          .join(', ')}${cats.length > 5 ? ', …' : ''})`,
    );
  }
  return { ids, by: 'name', unmatched };
}

/** The COCO contiguous-id mapping (a detector without stored class names). */
export function cocoCategoryMapping(numClasses = COCO_CATEGORY_IDS.length): CategoryMapping {
  return { ids: Array.from({ length: numClasses }, (_, k) => COCO_CATEGORY_IDS[k] ?? -1), by: 'coco', unmatched: [] };
}

/**
 * detectron2's instances_to_coco_json for boxes: XYXY (original-image pixels, N*4) -> [x, y, w, h] (no +1),
 * contiguous class -> COCO category id (or `categoryIds[class]`, skipping classes mapped to -1), one result per
 * detection in input order.
 */
export function toCocoResults(
  imageId: number,
  boxes: Float32Array | Float64Array | ArrayLike<number>,
  scores: ArrayLike<number>,
  classes: ArrayLike<number>,
  categoryIds?: readonly number[],
): CocoResult[] {
  const n = scores.length;
  if (boxes.length !== n * 4) throw new CategoryMappingError(`toCocoResults: ${boxes.length} box values for ${n} scores (need ${n * 4})`);
  if (classes.length !== n) throw new CategoryMappingError(`toCocoResults: ${classes.length} classes for ${n} scores`);
  const out: CocoResult[] = [];
  for (let i = 0; i < n; i++) {
    // detectron2 does the XYXY->XYWH subtraction on float32 tensors, then .tolist() widens to double: round
    // w and h to float32 when the boxes are float32
    const f32 = boxes instanceof Float32Array;
    const x1 = boxes[4 * i]!;
    const y1 = boxes[4 * i + 1]!;
    const w = boxes[4 * i + 2]! - x1;
    const h = boxes[4 * i + 3]! - y1;
    let category: number;
    if (categoryIds) {
      const k = classes[i]!;
      const c = Number.isInteger(k) ? categoryIds[k] : undefined;
      if (c === undefined) throw new CategoryMappingError(`class ${k} is outside the detector's 0..${categoryIds.length - 1}`);
      if (c < 0) continue;
      category = c;
    } else category = contiguousToCocoId(classes[i]!);
    out.push({
      image_id: imageId,
      category_id: category,
      bbox: [x1, y1, f32 ? Math.fround(w) : w, f32 ? Math.fround(h) : h],
      score: scores[i]!,
    });
  }
  return out;
}
