/**
 * Browser-only input: ImageBitmap / canvas / video frame / ImageData → H×W×3 uint8 BGR through an OffscreenCanvas
 * (getImageData gives non-premultiplied RGBA; alpha is dropped like PIL's convert('RGB')).
 */
import type { BgrImage } from './bgr.ts';
import { ImageFormatError } from './image.ts';

export type BrowserImageSource =
  ImageBitmap | HTMLCanvasElement | OffscreenCanvas | HTMLVideoElement | HTMLImageElement | VideoFrame | ImageData;

export function bgrFromImageSource(src: BrowserImageSource): BgrImage {
  let data: ImageData;
  if (typeof ImageData !== 'undefined' && src instanceof ImageData) data = src;
  else {
    if (typeof OffscreenCanvas === 'undefined') throw new ImageFormatError('bgrFromImageSource needs OffscreenCanvas (browser only)');
    const s = src as Exclude<BrowserImageSource, ImageData>;
    const w = 'displayWidth' in s ? s.displayWidth : 'videoWidth' in s ? s.videoWidth : 'naturalWidth' in s ? s.naturalWidth : s.width;
    const h =
      'displayHeight' in s ? s.displayHeight : 'videoHeight' in s ? s.videoHeight : 'naturalHeight' in s ? s.naturalHeight : s.height;
    if (!w || !h) throw new ImageFormatError(`image source has no pixels (${w}x${h})`);
    const canvas = new OffscreenCanvas(w, h);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new ImageFormatError('OffscreenCanvas 2d context unavailable');
    g.drawImage(s as CanvasImageSource, 0, 0);
    data = g.getImageData(0, 0, w, h);
  }
  const { width: W, height: H } = data;
  const rgba = data.data;
  const out = new Uint8Array(W * H * 3);
  for (let i = 0, j = 0; i < W * H; i++, j += 4) {
    out[3 * i] = rgba[j + 2]!;
    out[3 * i + 1] = rgba[j + 1]!;
    out[3 * i + 2] = rgba[j]!;
  }
  return { height: H, width: W, data: out };
}
