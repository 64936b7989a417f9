import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_CONFIG } from '../../src/model/detector/types.ts';
import {
  DetectorInputError,
  MAX_RESIZED_PIXELS,
  imageSizes,
  normalizeAndPad,
  pillowCoeffs,
  pillowResizeBilinear,
  resizeForDetector,
  roundTo256,
  shortestEdgeSize,
} from '../../src/model/detector/preprocess.ts';
import { goldenNpy, npy } from './golden.ts';
import { describeGolden } from '../helpers/golden.ts';

const FIX = resolve(process.cwd(), 'test/detector/fixtures');

describe('Detectron2 test-time sizes', () => {
  it('ResizeShortestEdge examples from the reference (800/1333)', () => {
    expect(shortestEdgeSize(480, 640, 800, 1333)).toEqual([800, 1067]);
    expect(shortestEdgeSize(427, 640, 800, 1333)).toEqual([800, 1199]);
    expect(shortestEdgeSize(333, 500, 800, 1333)).toEqual([800, 1201]);
    expect(shortestEdgeSize(612, 612, 800, 1333)).toEqual([800, 800]);
    expect(shortestEdgeSize(640, 480, 800, 1333)).toEqual([1067, 800]);
    expect(shortestEdgeSize(100, 1000, 800, 1333)).toEqual([133, 1333]); // long-side cap
    expect(shortestEdgeSize(300, 451, 320, 544)).toEqual([320, 481]); // golden case A
  });
  it('padding to 32 and method 2 rounding (ties up, minimum 256)', () => {
    const cfg = DEFAULT_DETECTOR_CONFIG;
    expect(imageSizes(427, 640, cfg)).toEqual({ original: [427, 640], resized: [800, 1199], padded: [800, 1216] });
    expect(imageSizes(480, 640, cfg).padded).toEqual([800, 1088]);
    expect([800, 1067, 1199, 1333, 640, 1152, 127, 383, 384].map(roundTo256)).toEqual([768, 1024, 1280, 1280, 768, 1280, 256, 256, 512]);
    const m2 = { ...cfg, method2: true };
    expect(imageSizes(480, 640, m2)).toEqual({ original: [480, 640], resized: [768, 1024], padded: [768, 1024] });
    expect(imageSizes(427, 640, m2).resized).toEqual([768, 1280]);
    expect(imageSizes(300, 451, { ...m2, minSize: 320, maxSize: 544 }).resized).toEqual([256, 512]); // pipeline golden m2
  });
  it('rejects bad sizes with a typed error', () => {
    expect(() => imageSizes(10, 10, { ...DEFAULT_DETECTOR_CONFIG, minSize: 0 })).toThrow(DetectorInputError);
    expect(() => imageSizes(1, 20000, DEFAULT_DETECTOR_CONFIG)).toThrow(/too extreme/);
    expect(() => imageSizes(0, 20, DEFAULT_DETECTOR_CONFIG)).toThrow(DetectorInputError);
    expect(() => pillowResizeBilinear(new Uint8Array(5), 2, 2, 3, 4, 4)).toThrow(DetectorInputError);
    expect(() => resizeForDetector({ height: 2, width: 2, data: new Uint8Array(11) }, DEFAULT_DETECTOR_CONFIG)).toThrow(DetectorInputError);
  });

  it('refuses resize targets over the pixel budget by naming the options, before any allocation', () => {
    const huge = { ...DEFAULT_DETECTOR_CONFIG, minSize: 100000, maxSize: 200000 };
    expect(() => imageSizes(456, 320, huge)).toThrow(DetectorInputError);
    expect(() => imageSizes(456, 320, huge)).toThrow(/megapixels.*--min-size \/ --max-size/);
    // 4096×4096 is exactly the budget; method 2 rounds 4000 up to 4096 and stays inside it
    expect(imageSizes(4096, 4096, { ...DEFAULT_DETECTOR_CONFIG, minSize: 4096, maxSize: 4096 }).resized).toEqual([4096, 4096]);
    expect(4096 * 4096).toBe(MAX_RESIZED_PIXELS);
    expect(imageSizes(4000, 4000, { ...DEFAULT_DETECTOR_CONFIG, minSize: 4000, maxSize: 4000, method2: true }).resized).toEqual([
      4096, 4096,
    ]);
    expect(() => imageSizes(4097, 4096, { ...DEFAULT_DETECTOR_CONFIG, minSize: 4096, maxSize: 4097 })).toThrow(/budget/);
  });
});

describe('Pillow bilinear resize (Resample.c, 8 bpc)', () => {
  it('coefficients sum to 2^22 (±rounding) and cover the support', () => {
    for (const [i, o] of [
      [83, 20],
      [57, 130],
      [1000, 7],
      [5, 5],
    ] as const) {
      const { ksize, bounds, kk } = pillowCoeffs(i, o);
      for (let x = 0; x < o; x++) {
        let s = 0;
        for (let k = 0; k < ksize; k++) s += kk[x * ksize + k]!;
        expect(Math.abs(s - 2 ** 22)).toBeLessThanOrEqual(ksize);
        expect(bounds[2 * x]! + bounds[2 * x + 1]!).toBeLessThanOrEqual(i);
      }
    }
  });
  // Fixtures: tools script test/detector/fixtures/make-pil-fixtures.py (PIL.Image.resize(..., BILINEAR) on a synthetic
  // 57x83x3 uint8 image): downscales (antialiased), upscales, one axis only, and the identity.
  const H = 57,
    W = 83;
  const src = new Uint8Array(H * W * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) {
        src[(y * W + x) * 3 + c] = (y * 131 + x * 71 + c * 37 + ((x * y) % 97) * 3) % 256;
      }
  const files = readdirSync(FIX).filter((f) => f.startsWith('pil_bilinear_'));
  it('has fixtures', () => expect(files.length).toBeGreaterThanOrEqual(7));
  for (const f of files) {
    it(`bit-exact vs Pillow: ${f}`, () => {
      const ref = npy(resolve(FIX, f));
      const [h, w] = ref.shape as [number, number, number];
      const got = pillowResizeBilinear(src, H, W, 3, h, w);
      let bad = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== ref.data[i]) bad++;
      expect(bad).toBe(0);
    });
  }
});

describeGolden('golden Detectron2 case A preprocessing', () => {
  it('resized_bgr_u8 and input_tensor are bit-exact', () => {
    const inp = goldenNpy('A', 'input_bgr_u8.npy');
    const [H, W] = inp.shape as [number, number, number];
    const cfg = { ...DEFAULT_DETECTOR_CONFIG, minSize: 320, maxSize: 544 };
    const { resized, sizes } = resizeForDetector({ height: H, width: W, data: inp.data as Uint8Array }, cfg);
    expect(sizes).toEqual({ original: [300, 451], resized: [320, 481], padded: [320, 512] });
    const refR = goldenNpy('A', 'resized_bgr_u8.npy');
    expect(refR.shape).toEqual([320, 481, 3]);
    expect(Buffer.compare(Buffer.from(resized.data), Buffer.from(refR.data as Uint8Array))).toBe(0);
    const x = normalizeAndPad(resized, sizes.padded, cfg.pixelMean);
    const refX = goldenNpy('A', 'input_tensor.npy');
    expect(refX.shape).toEqual([1, 3, 320, 512]);
    expect(
      Buffer.compare(
        Buffer.from(x.buffer),
        Buffer.from((refX.data as Float32Array).buffer, (refX.data as Float32Array).byteOffset, x.byteLength),
      ),
    ).toBe(0);
  });
});
