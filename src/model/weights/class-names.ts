// Class names of a detector checkpoint. A Detectron2-style pickle carries them as a top-level list
// (`"class_names": [...]`, also accepted: `"thing_classes"`); a converted .safetensors stores the same list as the
// JSON-array string `__metadata__.class_names`. Without names: the COCO names for an 80-class detector, else class_<k>.
import { COCO_CLASS_NAMES } from '../coco-classes.ts';
import { CheckpointError } from './errors.ts';
import type { DetectorWeights } from './types.ts';

export class ClassNamesError extends CheckpointError {
  constructor(message: string) {
    super('CLASS_NAMES', message);
    this.name = 'ClassNamesError';
  }
}

/** Metadata keys that may hold the class names, in order of preference. */
export const CLASS_NAME_KEYS = ['class_names', 'thing_classes'] as const;

/**
 * The class names stored in a checkpoint's metadata, validated against the number of classes (cls_score rows − 1):
 * a JSON array of `numClasses` distinct non-empty strings. Undefined when the file has none.
 */
export function parseClassNames(metadata: Record<string, string> | undefined, numClasses: number): string[] | undefined {
  const key = CLASS_NAME_KEYS.find((k) => metadata?.[k] !== undefined);
  if (!key) return undefined;
  const text = metadata![key]!;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ClassNamesError(`checkpoint metadata '${key}' is not a JSON array of strings: ${text.slice(0, 80)}`);
  }
  return validateClassNames(v, numClasses, `checkpoint metadata '${key}'`);
}

/** Check a class-name list: an array of `numClasses` distinct non-empty strings. */
export function validateClassNames(v: unknown, numClasses: number, what = 'class names'): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ClassNamesError(`${what} must be an array of strings`);
  if (v.length !== numClasses) {
    throw new ClassNamesError(`${what} lists ${v.length} class name(s) but the detector has ${numClasses} classes (cls_score rows − 1)`);
  }
  const empty = v.findIndex((x) => x.trim() === '');
  if (empty >= 0) throw new ClassNamesError(`${what}: class ${empty} has an empty name`);
  const seen = new Map<string, number>();
  v.forEach((x, i) => {
    const j = seen.get(x);
    if (j !== undefined) throw new ClassNamesError(`${what}: classes ${j} and ${i} are both named '${x}'`);
    seen.set(x, i);
  });
  return v as string[];
}

/** Names to show when a checkpoint has none: the 80 COCO names for an 80-class detector, else class_0, class_1, … */
/** `input_min_size` / `input_max_size` metadata → the detector's trained input size (both or neither). */
export function parseInputSize(metadata: Record<string, string> | undefined): { minSize: number; maxSize: number } | undefined {
  const a = metadata?.input_min_size, b = metadata?.input_max_size;
  if (a === undefined && b === undefined) return undefined;
  const minSize = Number(a), maxSize = Number(b);
  if (!Number.isInteger(minSize) || !Number.isInteger(maxSize) || minSize <= 0 || maxSize < minSize) {
    throw new CheckpointError('INPUT_SIZE', `checkpoint metadata input_min_size=${a} / input_max_size=${b}: expected two positive integers, min ≤ max`);
  }
  return { minSize, maxSize };
}

export function defaultClassNames(numClasses: number): string[] {
  if (numClasses === COCO_CLASS_NAMES.length) return [...COCO_CLASS_NAMES];
  return Array.from({ length: numClasses }, (_, k) => `class_${k}`);
}

/** The detector's class names: the checkpoint's, else the defaults (index = contiguous class id). */
export function classNamesOf(w: Pick<DetectorWeights, 'config' | 'classNames'>): string[] {
  return w.classNames ? [...w.classNames] : defaultClassNames(w.config.numClasses);
}
