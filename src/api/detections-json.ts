/**
 * The detections JSON (docs/detections-json.md): the one plain form of a detector's output that `webvcm decode`,
 * `webvcm detect`, the server's POST /v1/detect (and each WebSocket `detections` message) and createRemoteDecoder
 * all produce. Pure (no GPU, no Node), so browsers, the client and the server share it.
 *
 *   { "format": "webvcm.detections", "version": 1,
 *     "boxes": [[x1, y1, x2, y2], …], "scores": […], "classes": […], "labels": […],
 *     "sizes": { "original": [H, W], "resized": [h, w], "padded": [Hp, Wp] } }
 *
 * Producers may add keys after these (the server adds `fingerprint` and `timings`); readers ignore keys they do not
 * know. A change that a version-1 reader would misread gets a new `version`.
 */
import type { Detections, ImageSizes } from '../model/detector/types.ts';
import { VcmError } from '../util/errors.ts';

export const DETECTIONS_FORMAT = 'webvcm.detections';
export const DETECTIONS_VERSION = 1;

export interface DetectionsJson {
  format: typeof DETECTIONS_FORMAT;
  version: typeof DETECTIONS_VERSION;
  /** One [x1, y1, x2, y2] per detection, in original-image pixels, score descending. */
  boxes: [number, number, number, number][];
  scores: number[];
  /** Contiguous class ids (0-based, the detector's order). */
  classes: number[];
  /** The class name of each detection: the checkpoint's class names, else COCO's for 80 classes, else class_<k>. */
  labels: string[];
  sizes: ImageSizes;
}

/** A detections JSON that does not follow docs/detections-json.md (a server or file that is not webvcm's). */
export class DetectionsJsonError extends VcmError {
  override name = 'DetectionsJsonError';
  constructor(message: string) {
    super('input', message);
  }
}

/** The label of class `k` from a detector's class names (`class_<k>` past their end). */
export function classLabel(classNames: readonly string[], k: number): string {
  return classNames[k] ?? `class_${k}`;
}

/** Detections + the detector's class names + the image sizes → the detections JSON (numbers as float32 gives them). */
export function detectionsToJson(d: Detections, classNames: readonly string[], sizes: ImageSizes): DetectionsJson {
  const n = d.scores.length;
  const boxes: [number, number, number, number][] = [];
  for (let i = 0; i < n; i++) boxes.push([d.boxes[4 * i]!, d.boxes[4 * i + 1]!, d.boxes[4 * i + 2]!, d.boxes[4 * i + 3]!]);
  const classes = Array.from(d.classes);
  return {
    format: DETECTIONS_FORMAT,
    version: DETECTIONS_VERSION,
    boxes,
    scores: Array.from(d.scores),
    classes,
    labels: classes.map((k) => classLabel(classNames, k)),
    sizes: { original: [...sizes.original], resized: [...sizes.resized], padded: [...sizes.padded] },
  };
}

const isPair = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x > 0);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Check a parsed detections JSON (version 1) and return it typed, with the detections as typed arrays. Extra keys are
 * allowed (and dropped from `json`); anything missing or malformed is a DetectionsJsonError.
 */
export function detectionsFromJson(v: unknown): { json: DetectionsJson; detections: Detections } {
  const o = v as Partial<Record<keyof DetectionsJson, unknown>> | null;
  if (typeof o !== 'object' || o === null) throw new DetectionsJsonError('detections JSON: not an object');
  if (o.format !== DETECTIONS_FORMAT)
    throw new DetectionsJsonError(`detections JSON: format must be '${DETECTIONS_FORMAT}', got ${JSON.stringify(o.format)}`);
  if (o.version !== DETECTIONS_VERSION)
    throw new DetectionsJsonError(
      `detections JSON: version ${JSON.stringify(o.version)} is not supported (this reader knows version ${DETECTIONS_VERSION})`,
    );
  const { boxes, scores, classes, labels, sizes } = o;
  if (!Array.isArray(scores) || !scores.every(isNum)) throw new DetectionsJsonError('detections JSON: scores must be an array of numbers');
  const n = scores.length;
  if (!Array.isArray(boxes) || boxes.length !== n || !boxes.every((b) => Array.isArray(b) && b.length === 4 && b.every(isNum))) {
    throw new DetectionsJsonError(`detections JSON: boxes must be ${n} arrays of 4 numbers`);
  }
  if (!Array.isArray(classes) || classes.length !== n || !classes.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new DetectionsJsonError(`detections JSON: classes must be ${n} non-negative integers`);
  }
  if (!Array.isArray(labels) || labels.length !== n || !labels.every((l) => typeof l === 'string')) {
    throw new DetectionsJsonError(`detections JSON: labels must be ${n} strings`);
  }
  const s = sizes as Partial<ImageSizes> | undefined;
  if (!s || !isPair(s.original) || !isPair(s.resized) || !isPair(s.padded))
    throw new DetectionsJsonError('detections JSON: sizes must hold original, resized and padded [H, W]');
  const json: DetectionsJson = {
    format: DETECTIONS_FORMAT,
    version: DETECTIONS_VERSION,
    boxes: boxes as DetectionsJson['boxes'],
    scores: scores as number[],
    classes: classes as number[],
    labels: labels as string[],
    sizes: { original: s.original, resized: s.resized, padded: s.padded },
  };
  const flat = new Float32Array(4 * n);
  json.boxes.forEach((b, i) => flat.set(b, 4 * i));
  return { json, detections: { boxes: flat, scores: Float32Array.from(json.scores), classes: Int32Array.from(json.classes) } };
}
