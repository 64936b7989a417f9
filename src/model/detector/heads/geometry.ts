/** Host-side geometry of the heads: cell anchors, ROI level assignment, detector_postprocess (all small arrays). */
import type { Detections } from '../types.ts';

const f = Math.fround;

/** Detectron2 DefaultAnchorGenerator.generate_cell_anchors: size-major, ratio = h/w, float64 → float32, no rounding. */
export function cellAnchors(sizes: readonly number[], ratios: readonly number[]): Float32Array {
  const out: number[] = [];
  for (const s of sizes) {
    const area = s * s;
    for (const r of ratios) {
      const w = Math.sqrt(area / r),
        h = r * w;
      out.push(-w / 2, -h / 2, w / 2, h / 2);
    }
  }
  return Float32Array.from(out);
}

/**
 * ROIPooler level assignment, 0-based into [minLevel..maxLevel]:
 * floor(canonicalLevel + log2(sqrt(area)/canonicalSize + 1e-8)) clamped, in float32 like torch.
 */
export function assignLevels(
  boxes: Float32Array,
  count: number,
  minLevel = 2,
  maxLevel = 5,
  canonicalSize = 224,
  canonicalLevel = 4,
): Int32Array {
  const out = new Int32Array(count);
  const eps = f(1e-8);
  for (let i = 0; i < count; i++) {
    const area = f(f(boxes[i * 4 + 2]! - boxes[i * 4]!) * f(boxes[i * 4 + 3]! - boxes[i * 4 + 1]!));
    const size = f(Math.sqrt(area));
    const q = f(f(size / canonicalSize) + eps);
    const lvl = Math.floor(f(canonicalLevel + f(Math.log2(q))));
    out[i] = Math.min(Math.max(Number.isNaN(lvl) ? minLevel : lvl, minLevel), maxLevel) - minLevel;
  }
  return out;
}

/**
 * detector_postprocess: scale x by W_orig/w and y by H_orig/h (separately), clip to the original image, drop boxes
 * whose width or height is not > 0.
 */
export function detectorPostprocess(
  boxes: Float32Array,
  scores: Float32Array,
  classes: Int32Array,
  resized: readonly [number, number],
  original: readonly [number, number],
): Detections {
  const sx = f(original[1] / resized[1]),
    sy = f(original[0] / resized[0]);
  const [H, W] = original;
  const keep: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const x1 = Math.min(Math.max(f(boxes[i * 4]! * sx), 0), W);
    const y1 = Math.min(Math.max(f(boxes[i * 4 + 1]! * sy), 0), H);
    const x2 = Math.min(Math.max(f(boxes[i * 4 + 2]! * sx), 0), W);
    const y2 = Math.min(Math.max(f(boxes[i * 4 + 3]! * sy), 0), H);
    if (f(x2 - x1) > 0 && f(y2 - y1) > 0) {
      keep.push(i);
      out.push(x1, y1, x2, y2);
    }
  }
  return {
    boxes: Float32Array.from(out),
    scores: Float32Array.from(keep.map((i) => scores[i]!)),
    classes: Int32Array.from(keep.map((i) => classes[i]!)),
  };
}
