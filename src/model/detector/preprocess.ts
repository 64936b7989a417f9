/**
 * Detectron2 test-time preprocessing, bit-exact on the CPU:
 *  - ResizeShortestEdge.get_output_shape (float64, round half up) or the "method 2" size (each side to the nearest
 *    multiple of 256, ties up, at least 256);
 *  - Pillow's `Image.resize(..., BILINEAR)` on uint8 (Resample.c: antialiased separable triangle filter, 22-bit
 *    fixed-point coefficients, horizontal pass first, clip8 rounding between passes);
 *  - mean subtraction in float32 (std 1) and zero padding (after normalisation) to a multiple of sizeDivisibility.
 * Images are H×W×3 uint8, BGR, row-major (what detectron2's `read_image(format="BGR")` returns).
 */
import type { BgrImage } from '../../io/bgr.ts';
import type { DetectorConfig, ImageSizes } from './types.ts';
import { VcmError } from '../../util/errors.ts';

export class DetectorInputError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'DetectorInputError';
  }
}

export type { BgrImage } from '../../io/bgr.ts';

export function checkBgrImage(img: BgrImage, what = 'image'): void {
  if (!img || !(img.data instanceof Uint8Array)) throw new DetectorInputError(`${what}: expected { height, width, data: Uint8Array }`);
  const { height: H, width: W } = img;
  if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0) throw new DetectorInputError(`${what}: bad size ${H}x${W}`);
  if (img.data.length !== H * W * 3) throw new DetectorInputError(`${what}: ${img.data.length} bytes for ${H}x${W}x3`);
}

/** detectron2 ResizeShortestEdge.get_output_shape: (newh, neww). */
export function shortestEdgeSize(h: number, w: number, shortEdge: number, maxSize: number): [number, number] {
  const size = shortEdge * 1.0;
  let scale = size / Math.min(h, w);
  let newh: number, neww: number;
  if (h < w) {
    newh = size;
    neww = scale * w;
  } else {
    newh = scale * h;
    neww = size;
  }
  if (Math.max(newh, neww) > maxSize) {
    scale = (maxSize * 1.0) / Math.max(newh, neww);
    newh = newh * scale;
    neww = neww * scale;
  }
  return [Math.trunc(newh + 0.5), Math.trunc(neww + 0.5)];
}

/** Method 2: nearest multiple of 256, x.5 ties (remainder 128) rounded up, at least 256. */
export function roundTo256(x: number): number {
  const r = x % 256;
  return Math.max(256, x - r + (r >= 128 ? 256 : 0));
}

/**
 * Largest image the detector resizes to: 2^24 pixels (4096×4096; Detectron2's defaults give ≤ 1333×800 ≈ 1.1 M).
 * Beyond it the buffers (≥ 200 MB per float feature map) fail in ways that name no option, so it is refused up front.
 */
export const MAX_RESIZED_PIXELS = 1 << 24;

/** Resized (h, w) for an original (H, W) under `cfg` (normal or method 2); DetectorInputError over MAX_RESIZED_PIXELS. */
export function resizedSize(H: number, W: number, cfg: Pick<DetectorConfig, 'minSize' | 'maxSize' | 'method2'>): [number, number] {
  if (!(cfg.minSize > 0) || !(cfg.maxSize > 0))
    throw new DetectorInputError(`minSize/maxSize must be positive (got ${cfg.minSize}/${cfg.maxSize})`);
  if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0) throw new DetectorInputError(`bad image size ${H}x${W}`);
  const [h, w] = shortestEdgeSize(H, W, cfg.minSize, cfg.maxSize);
  if (h <= 0 || w <= 0)
    throw new DetectorInputError(
      `a ${H}x${W} image resizes to ${h}x${w} (short side ${cfg.minSize}, long side ≤ ${cfg.maxSize}): aspect ratio too extreme`,
    );
  const out: [number, number] = cfg.method2 ? [roundTo256(h), roundTo256(w)] : [h, w];
  if (out[0] * out[1] > MAX_RESIZED_PIXELS) {
    throw new DetectorInputError(
      `a ${H}x${W} image would be resized to ${out[0]}x${out[1]} = ${((out[0] * out[1]) / 1e6).toFixed(1)} megapixels (short side ${cfg.minSize}, long side ≤ ${cfg.maxSize}), over the detector's budget of ${(MAX_RESIZED_PIXELS / 1e6).toFixed(1)}: lower --min-size / --max-size (minSize / maxSize)`,
    );
  }
  return out;
}

export function imageSizes(
  H: number,
  W: number,
  cfg: Pick<DetectorConfig, 'minSize' | 'maxSize' | 'method2' | 'sizeDivisibility'>,
): ImageSizes {
  const [h, w] = resizedSize(H, W, cfg);
  const d = cfg.method2 ? 1 : Math.max(1, cfg.sizeDivisibility);
  return { original: [H, W], resized: [h, w], padded: [Math.ceil(h / d) * d, Math.ceil(w / d) * d] };
}

// ---- Pillow Resample.c (bilinear, 8 bits per channel) ---------------------------------------------------------------

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the triangle filter (support 1). Exported for tests. */
export function pillowCoeffs(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize; // (double)(in1 - in0) / outSize with in0 = 0, in1 = inSize (exact floats)
  const filterscale = Math.max(scale, 1.0);
  const support = 1.0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tmp = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const wv = t < 1.0 ? 1.0 - t : 0.0;
      tmp[x] = wv;
      ww += wv;
    }
    for (let x = 0; x < ksize; x++) {
      let v = x < xmax ? tmp[x]! : 0;
      if (x < xmax && ww !== 0.0) v /= ww;
      // normalize_coeffs_8bpc: round half away from zero via (int)(±0.5 + v·2^22)
      kk[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE); // v > 0: same as the arithmetic shift
}

/**
 * `PIL.Image.fromarray(img).resize((outW, outH), Image.BILINEAR)` for an H×W×C uint8 image (C = 3 here; the
 * channels are independent, so BGR order does not matter). Returns a new array; same-size input is copied.
 */
export function pillowResizeBilinear(src: Uint8Array, H: number, W: number, C: number, outH: number, outW: number): Uint8Array {
  if (src.length !== H * W * C) throw new DetectorInputError(`resize: ${src.length} bytes for ${H}x${W}x${C}`);
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH <= 0 || outW <= 0)
    throw new DetectorInputError(`resize: bad output size ${outH}x${outW}`);
  const needH = outW !== W;
  const needV = outH !== H;
  const vert = pillowCoeffs(H, outH);
  let img = src,
    iw = W,
    ih = H;
  const bv = vert.bounds.slice();
  if (needH) {
    const yFirst = bv[0]!;
    const yLast = bv[outH * 2 - 2]! + bv[outH * 2 - 1]!;
    for (let i = 0; i < outH; i++) bv[2 * i] -= yFirst;
    const hor = pillowCoeffs(W, outW);
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(rows * outW * C);
    const half = ONE / 2;
    for (let yy = 0; yy < rows; yy++) {
      const srow = (yy + yFirst) * W * C;
      const drow = yy * outW * C;
      for (let xx = 0; xx < outW; xx++) {
        const xmin = hor.bounds[2 * xx]!,
          xmax = hor.bounds[2 * xx + 1]!;
        const kb = xx * hor.ksize;
        for (let c = 0; c < C; c++) {
          let s = half;
          for (let x = 0; x < xmax; x++) s += src[srow + (x + xmin) * C + c]! * hor.kk[kb + x]!;
          tmp[drow + xx * C + c] = clip8(s);
        }
      }
    }
    img = tmp;
    iw = outW;
    ih = rows;
  }
  if (needV) {
    const out = new Uint8Array(outH * iw * C);
    const half = ONE / 2;
    for (let yy = 0; yy < outH; yy++) {
      const ymin = bv[2 * yy]!,
        ymax = bv[2 * yy + 1]!;
      const kb = yy * vert.ksize;
      for (let xx = 0; xx < iw; xx++) {
        for (let c = 0; c < C; c++) {
          let s = half;
          for (let y = 0; y < ymax; y++) s += img[((y + ymin) * iw + xx) * C + c]! * vert.kk[kb + y]!;
          out[(yy * iw + xx) * C + c] = clip8(s);
        }
      }
    }
    return out;
  }
  if (!needH) return src.slice();
  if (ih !== outH) throw new Error('internal: horizontal-only resize with a row crop');
  return img;
}

/** Resize a BGR image to `cfg`'s test size (normal or method 2). */
export function resizeForDetector(
  img: BgrImage,
  cfg: Pick<DetectorConfig, 'minSize' | 'maxSize' | 'method2' | 'sizeDivisibility'>,
): { resized: BgrImage; sizes: ImageSizes } {
  checkBgrImage(img);
  const sizes = imageSizes(img.height, img.width, cfg);
  const [h, w] = sizes.resized;
  const data = pillowResizeBilinear(img.data, img.height, img.width, 3, h, w);
  return { resized: { height: h, width: w, data }, sizes };
}

/**
 * Normalise (float32 x − mean[c], std 1) into a zero-padded CHW float32 tensor of size `padded`
 * (GeneralizedRCNN.preprocess_image + ImageList.from_tensors).
 */
export function normalizeAndPad(img: BgrImage, padded: [number, number], pixelMean: readonly [number, number, number]): Float32Array {
  checkBgrImage(img, 'normalizeAndPad');
  const [Hp, Wp] = padded;
  const { height: h, width: w, data } = img;
  if (Hp < h || Wp < w) throw new DetectorInputError(`padded size ${Hp}x${Wp} is smaller than the image ${h}x${w}`);
  const out = new Float32Array(3 * Hp * Wp);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(pixelMean[c]!);
    const plane = c * Hp * Wp;
    for (let y = 0; y < h; y++) {
      const row = plane + y * Wp;
      for (let x = 0; x < w; x++) out[row + x] = data[(y * w + x) * 3 + c]! - m; // exact in float32 (stored rounded)
    }
  }
  return out;
}
