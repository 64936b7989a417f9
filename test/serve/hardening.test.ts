/** Hardening made urgent by the service: the pixel budget checked from image headers before decoding. */
import { deflateSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { bgrFromFileBytes } from '../../src/io/image-file.ts';
import { checkImageBudget, decodeImageFile, DEFAULT_MAX_IMAGE_PIXELS, imageHeaderSize, ImageTooLargeError } from '../../src/io/image.ts';

function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
/** A small PNG file that declares w x h (its IDAT holds a few rows only: a decoder would still allocate w·h). */
function pngDeclaring(w: number, h: number): Uint8Array {
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(new Uint8Array(64))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
/** JPEG SOI + APP0 + SOF0 declaring w x h. */
function jpegDeclaring(w: number, h: number): Uint8Array {
  return Uint8Array.from([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0,
    4,
    0,
    0,
    0xff,
    0xc0,
    0,
    17,
    8,
    h >> 8,
    h & 255,
    w >> 8,
    w & 255,
    3,
    1,
    0x22,
    0,
    2,
    0x11,
    1,
    3,
    0x11,
    1,
    0xff,
    0xd9,
  ]);
}

it('reads sizes from PNG and JPEG headers without decoding', () => {
  expect(imageHeaderSize(pngDeclaring(20000, 20000))).toEqual({ width: 20000, height: 20000 });
  expect(imageHeaderSize(jpegDeclaring(640, 480))).toEqual({ width: 640, height: 480 });
  expect(imageHeaderSize(new Uint8Array([1, 2, 3]))).toBeNull();
});

it('refuses a PNG or JPEG that declares more pixels than the budget, before decoding, naming the file', () => {
  const t0 = performance.now();
  expect(() => decodeImageFile(pngDeclaring(20000, 20000))).toThrow(ImageTooLargeError);
  expect(() => bgrFromFileBytes(pngDeclaring(20000, 20000), 'huge.png')).toThrow(
    /huge\.png declares 20000x20000 = 400\.0 megapixels, over the budget of 40\.0/,
  );
  expect(() => bgrFromFileBytes(jpegDeclaring(65000, 65000), 'huge.jpg')).toThrow(ImageTooLargeError);
  expect(performance.now() - t0).toBeLessThan(2000); // refused from the header: no 5 GB allocation
  expect(() => checkImageBudget(pngDeclaring(100, 100), 5000)).toThrow(/over the budget of 0\.0/);
  expect(() => checkImageBudget(pngDeclaring(100, 100))).not.toThrow();
  expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(40_000_000);
});
