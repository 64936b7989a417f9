import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pngjs from 'pngjs';
import jpegjs from 'jpeg-js';
import { zlibSync } from 'fflate';
import {
  decodeImageFile,
  toBgrHwc,
  toBgrChwFloat,
  applyExifOrientation,
  readJpegExifOrientation,
  ImageFormatError,
  type RgbImage,
} from '../../src/io/image.ts';
import { readNpy } from '../../src/io/npy.ts';
import { GOLDEN_ROOT, itGolden } from '../helpers/golden.ts';

const A = resolve(GOLDEN_ROOT, 'detectron2/A');

function expectFormatError(fn: () => unknown, msg: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ImageFormatError);
  expect((err as Error).name).toBe('ImageFormatError');
  expect((err as Error).message).toMatch(msg);
}

describe('decodeImageFile', () => {
  itGolden('PNG: golden A decodes to exactly detectron2 read_image BGR (input_bgr_u8.npy)', () => {
    const img = decodeImageFile(readFileSync(resolve(A, 'image.png')));
    const ref = readNpy(readFileSync(resolve(A, 'input_bgr_u8.npy')));
    expect(ref.shape).toEqual([img.height, img.width, 3]);
    expect([img.height, img.width]).toEqual([300, 451]);
    const bgr = toBgrHwc(img);
    expect(Buffer.compare(Buffer.from(bgr), Buffer.from(ref.data as Uint8Array))).toBe(0);
    // CHW float planes: B plane first
    const chw = toBgrChwFloat(img);
    const hw = img.width * img.height;
    expect(chw[0]).toBe(bgr[0]);
    expect(chw[hw + 5]).toBe(bgr[3 * 5 + 1]);
    expect(chw[2 * hw + hw - 1]).toBe(bgr[3 * (hw - 1) + 2]);
  });

  it('PNG: grey and RGBA inputs become RGB (grey replicated, alpha dropped without compositing)', () => {
    const w = 5,
      h = 3;
    const grey = new pngjs.PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) grey.data.set([i * 10, i * 10, i * 10, 255], 4 * i);
    const g = decodeImageFile(pngjs.PNG.sync.write(grey, { colorType: 0, inputColorType: 6 }));
    expect(Array.from(g.rgb.subarray(0, 6))).toEqual([0, 0, 0, 10, 10, 10]);
    const rgba = new pngjs.PNG({ width: w, height: h });
    for (let i = 0; i < w * h; i++) rgba.data.set([i, 2 * i, 3 * i, i % 2 ? 0 : 128], 4 * i);
    const c = decodeImageFile(pngjs.PNG.sync.write(rgba, { colorType: 6 }));
    expect(c.width).toBe(w);
    expect(Array.from(c.rgb.subarray(3 * 7, 3 * 8))).toEqual([7, 14, 21]); // alpha 0 pixel keeps its colour
  });

  it('JPEG: decodes close to the encoded pixels', () => {
    const w = 32,
      h = 16;
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 8, y * 16, 128, 255], 4 * (y * w + x));
    const jpg = jpegjs.encode({ data, width: w, height: h }, 100).data;
    const img = decodeImageFile(new Uint8Array(jpg));
    expect([img.width, img.height, img.rgb.length]).toEqual([w, h, w * h * 3]);
    let maxDiff = 0;
    for (let i = 0; i < w * h; i++)
      for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs(img.rgb[3 * i + c]! - data[4 * i + c]!));
    expect(maxDiff).toBeLessThan(12);
    expect(readJpegExifOrientation(new Uint8Array(jpg))).toBeNull();
  });

  it('JPEG: EXIF orientation is applied (detectron2 _apply_exif_orientation)', () => {
    const w = 24,
      h = 8;
    const data = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x * 10, y * 30, 0, 255], 4 * (y * w + x));
    const jpg = new Uint8Array(jpegjs.encode({ data, width: w, height: h }, 95).data);
    const plain = decodeImageFile(jpg);
    for (const le of [true, false]) {
      // APP1 "Exif\0\0" + TIFF with one IFD0 entry: Orientation (0x0112), SHORT, 1, value 6
      const tiff = le
        ? [0x49, 0x49, 0x2a, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]
        : [0x4d, 0x4d, 0, 0x2a, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
      const payload = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
      const len = payload.length + 2;
      const app1 = [0xff, 0xe1, len >> 8, len & 255, ...payload];
      const withExif = new Uint8Array([...jpg.subarray(0, 2), ...app1, ...jpg.subarray(2)]);
      expect(readJpegExifOrientation(withExif)).toBe(6);
      const rot = decodeImageFile(withExif);
      expect([rot.width, rot.height]).toEqual([h, w]);
      expect(rot.rgb).toEqual(applyExifOrientation(plain, 6).rgb);
    }
  });

  it('rejects other formats and broken files with ImageFormatError', () => {
    expectFormatError(() => decodeImageFile(new TextEncoder().encode('GIF89a\x01\x00\x01\x00')), /unsupported image format: GIF/);
    expectFormatError(() => decodeImageFile(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 ')), /WebP/);
    expectFormatError(() => decodeImageFile(new Uint8Array(0)), /unsupported image format/);
    const big = new pngjs.PNG({ width: 64, height: 64 });
    for (let i = 0; i < big.data.length; i++) big.data[i] = (i * 7919) & 255;
    const png = new Uint8Array(pngjs.PNG.sync.write(big));
    expectFormatError(() => decodeImageFile(png.subarray(0, png.length >> 1)), /PNG/);
    expectFormatError(() => decodeImageFile(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 1, 2])), /JPEG/);
  });

  it("corrupt JPEGs (truncated, bit-flipped, tables removed) never show the decoder's internals", () => {
    const w = 24,
      h = 16;
    const data = new Uint8Array(w * h * 4).map((_, i) => (i * 37) & 255);
    const jpg = new Uint8Array(jpegjs.encode({ data, width: w, height: h }, 90).data);
    // drop every DHT segment: the scan then refers to Huffman tables that do not exist
    // (jpeg-js: "Cannot set properties of undefined (setting 'huffmanTableDC')")
    const parts: number[] = [0xff, 0xd8];
    for (let o = 2; o + 4 <= jpg.length;) {
      const m = jpg[o + 1]!,
        len = (jpg[o + 2]! << 8) | jpg[o + 3]!;
      if (m === 0xda) {
        parts.push(...jpg.subarray(o));
        break;
      }
      if (m !== 0xc4) parts.push(...jpg.subarray(o, o + 2 + len));
      o += 2 + len;
    }
    const variants: Uint8Array[] = [new Uint8Array(parts)];
    let seed = 11;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 150; k++) {
      const v = jpg.slice();
      for (let f = 0; f < 1 + (k % 4); f++) v[2 + Math.floor(rnd() * (v.length - 2))]! ^= 1 << Math.floor(rnd() * 8);
      variants.push(v, jpg.subarray(0, 4 + Math.floor(rnd() * (jpg.length - 4))));
    }
    let refused = 0;
    for (const v of variants) {
      try {
        decodeImageFile(v);
      } catch (e) {
        refused++;
        expect(e).toBeInstanceOf(ImageFormatError);
        expect((e as Error).message).toMatch(/JPEG|image/);
        expect((e as Error).message).not.toMatch(/Cannot|undefined|null|properties|is not a function|Invalid typed array/);
      }
    }
    expect(() => decodeImageFile(variants[0]!)).toThrow(/invalid JPEG: corrupt or truncated/);
    expect(refused).toBeGreaterThan(10);
  });
});

// A minimal PNG writer for the colour types pngjs cannot write (palette, 1/2/4/16-bit, tRNS, Adam7 off).
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, body: number[] | Uint8Array): number[] {
  const t = [...type].map((ch) => ch.charCodeAt(0));
  const b = [...t, ...body];
  const len = body.length;
  const crc = crc32(new Uint8Array(b));
  return [len >>> 24, (len >> 16) & 255, (len >> 8) & 255, len & 255, ...b, crc >>> 24, (crc >> 16) & 255, (crc >> 8) & 255, crc & 255];
}
/** rows: raw scanline bytes (filter type 0 is prepended). */
function makePng(w: number, h: number, depth: number, colorType: number, rows: number[][], extra: [string, number[]][] = []): Uint8Array {
  const ihdr = [
    w >>> 24,
    (w >> 16) & 255,
    (w >> 8) & 255,
    w & 255,
    h >>> 24,
    (h >> 16) & 255,
    (h >> 8) & 255,
    h & 255,
    depth,
    colorType,
    0,
    0,
    0,
  ];
  const raw = new Uint8Array(rows.flatMap((r) => [0, ...r]));
  return new Uint8Array([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    ...chunk('IHDR', ihdr),
    ...extra.flatMap(([t, b]) => chunk(t, b)),
    ...chunk('IDAT', zlibSync(raw)),
    ...chunk('IEND', []),
  ]);
}

describe("PNG colour types decode as PIL convert('RGB') does", () => {
  it('4-bit palette with tRNS: palette colours, alpha ignored', () => {
    // 3x2, indexes 0 1 2 / 2 1 0 packed two per byte (odd width: last nibble is padding)
    const plte = [10, 20, 30, 40, 50, 60, 70, 80, 90];
    const png = makePng(
      3,
      2,
      4,
      3,
      [
        [0x01, 0x20],
        [0x21, 0x00],
      ],
      [
        ['PLTE', plte],
        ['tRNS', [0, 128, 255]],
      ],
    );
    const img = decodeImageFile(png);
    expect(Array.from(img.rgb)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 70, 80, 90, 40, 50, 60, 10, 20, 30]);
  });
  it('palette index outside the palette is an ImageFormatError', () => {
    const png = makePng(2, 1, 8, 3, [[0, 5]], [['PLTE', [1, 2, 3, 4, 5, 6]]]);
    expectFormatError(() => decodeImageFile(png), /PNG/);
  });
  it.each([
    [1, [0b10100000], [255, 0, 255]],
    [2, [0b00011011], [0, 85, 170, 255]],
    [4, [0x0f, 0x70], [0, 255, 119]],
  ] as [number, number[], number[]][])('%i-bit grey scales to 0..255 (PIL L;%i)', (depth, row, expected) => {
    const img = decodeImageFile(makePng(expected.length, 1, depth, 0, [row]));
    expect(Array.from(img.rgb)).toEqual(expected.flatMap((v) => [v, v, v]));
  });
  it('16-bit RGB and grey+alpha keep the high byte; a tRNS colour key keeps its colour', () => {
    const rgb16 = decodeImageFile(makePng(1, 1, 16, 2, [[0x12, 0x34, 0xab, 0xcd, 0xff, 0x01]]));
    expect(Array.from(rgb16.rgb)).toEqual([0x12, 0xab, 0xff]);
    const ga16 = decodeImageFile(makePng(2, 1, 16, 4, [[0x80, 0xff, 0, 0, 0x7f, 0x01, 0xff, 0xff]]));
    expect(Array.from(ga16.rgb)).toEqual([0x80, 0x80, 0x80, 0x7f, 0x7f, 0x7f]);
    const keyed = decodeImageFile(makePng(2, 1, 8, 2, [[1, 2, 3, 4, 5, 6]], [['tRNS', [0, 1, 0, 2, 0, 3]]]));
    expect(Array.from(keyed.rgb)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('applyExifOrientation matches PIL transposes', () => {
  // 3 wide, 2 high:  a b c / d e f   (one channel value per pixel, replicated)
  const img: RgbImage = { width: 3, height: 2, rgb: new Uint8Array([1, 2, 3, 4, 5, 6].flatMap((v) => [v, v, v])) };
  const px = (o: RgbImage): number[][] =>
    Array.from({ length: o.height }, (_, y) => Array.from({ length: o.width }, (_, x) => o.rgb[3 * (y * o.width + x)]!));
  it.each([
    [
      1,
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
    [
      2,
      [
        [3, 2, 1],
        [6, 5, 4],
      ],
    ], // FLIP_LEFT_RIGHT
    [
      3,
      [
        [6, 5, 4],
        [3, 2, 1],
      ],
    ], // ROTATE_180
    [
      4,
      [
        [4, 5, 6],
        [1, 2, 3],
      ],
    ], // FLIP_TOP_BOTTOM
    [
      5,
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
    ], // TRANSPOSE
    [
      6,
      [
        [4, 1],
        [5, 2],
        [6, 3],
      ],
    ], // ROTATE_270 (clockwise)
    [
      7,
      [
        [6, 3],
        [5, 2],
        [4, 1],
      ],
    ], // TRANSVERSE
    [
      8,
      [
        [3, 6],
        [2, 5],
        [1, 4],
      ],
    ], // ROTATE_90 (counter-clockwise)
  ] as [number, number[][]][])('orientation %i', (o, expected) => {
    expect(px(applyExifOrientation(img, o))).toEqual(expected);
  });
});
