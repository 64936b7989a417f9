import { afterAll, expect, it } from 'vitest';
import { bgrFromImageSource } from '../../src/io/browser.ts';
import { ImageFormatError } from '../../src/io/image.ts';

// Node has no ImageData/OffscreenCanvas: a minimal ImageData stand-in exercises the RGBA → BGR path; without
// OffscreenCanvas other sources must fail with a typed error (the canvas path itself runs only in browsers).
class FakeImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}
const g = globalThis as unknown as { ImageData?: unknown };
const had = 'ImageData' in g;
g.ImageData = FakeImageData;
afterAll(() => {
  if (!had) delete g.ImageData;
});

it('ImageData RGBA → H×W×3 BGR, alpha dropped', () => {
  const d = new FakeImageData(Uint8ClampedArray.from([1, 2, 3, 255, 10, 20, 30, 0]), 2, 1) as unknown as ImageData;
  expect(bgrFromImageSource(d)).toEqual({ height: 1, width: 2, data: Uint8Array.from([3, 2, 1, 30, 20, 10]) });
});

it('non-ImageData sources need OffscreenCanvas', () => {
  expect(() => bgrFromImageSource({ width: 2, height: 2 } as unknown as ImageBitmap)).toThrow(ImageFormatError);
});
