// Image decoding for Node and browsers alike: PNG via fast-png, JPEG via jpeg-js, both pure ES on Uint8Array
// (no Buffer, no Node shims, so a browser bundle needs no aliases or polyfills).
// Output matches what detectron2's read_image(path, format='BGR') sees before the channel flip:
// PIL.Image.open -> EXIF orientation applied -> convert('RGB') (alpha dropped without compositing).
//  - PNG: bit-exact with PIL for 1/2/4/8/16-bit grey, RGB, palette and alpha images. 16-bit samples keep their high
//    byte (PIL's 'RGB;16B' unpacking); 1/2/4-bit grey is scaled to 0..255 as PIL's 'L;1/2/4' unpackers do;
//    tRNS colour keys and palette alpha are ignored (convert('RGB') keeps the colour).
//  - JPEG: baseline and progressive through jpeg-js. Its IDCT and chroma upsampling are not libjpeg's, so pixels
//    can differ from PIL by a few levels; EXIF orientation (tag 274) is applied like detectron2's
//    _apply_exif_orientation.
import { decode as decodePngFile } from 'fast-png';
import jpegjs from 'jpeg-js';
import { VcmError } from '../util/errors.ts';

export class ImageFormatError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'ImageFormatError';
  }
}

export interface RgbImage {
  width: number;
  height: number;
  /** H*W*3, row-major, R G B */
  rgb: Uint8Array;
}

export type ImageKind = 'png' | 'jpeg';

export function sniffImageKind(bytes: Uint8Array): ImageKind | null {
  if (
    bytes.length >= 8 &&
    bytes[0] === 0x89 &&
    bytes[1] === 0x50 &&
    bytes[2] === 0x4e &&
    bytes[3] === 0x47 &&
    bytes[4] === 0x0d &&
    bytes[5] === 0x0a &&
    bytes[6] === 0x1a &&
    bytes[7] === 0x0a
  )
    return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

function describeMagic(bytes: Uint8Array): string {
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const ascii = String.fromCharCode(...bytes.subarray(0, 12)).replace(/[^\x20-\x7e]/g, '.');
  if (ascii.startsWith('GIF8')) return 'GIF';
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WEBP') return 'WebP';
  if (ascii.startsWith('BM')) return 'BMP';
  if (ascii.startsWith('II*') || ascii.startsWith('MM')) return 'TIFF';
  return `unknown format (first bytes ${head || 'none'})`;
}

/** A decoded image would exceed the pixel budget (checked from the file header, before decoding). */
export class ImageTooLargeError extends ImageFormatError {
  override readonly kind = 'resource';
  constructor(message: string) {
    super(message);
    this.name = 'ImageTooLargeError';
  }
}

/**
 * Pixel budget for decoded images: 40 megapixels (e.g. 8000x5000, 120 MB as RGB), far above what the detector
 * resizes to. Override with `decodeImageFile(bytes, { maxPixels })` or, in Node, WEBVCM_MAX_PIXELS.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;

function defaultMaxPixels(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.WEBVCM_MAX_PIXELS;
  const n = env === undefined ? NaN : Number(env);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_IMAGE_PIXELS;
}

/** Width and height from a PNG's IHDR or a JPEG's SOFn marker, without decoding; null when not found. */
export function imageHeaderSize(bytes: Uint8Array): { width: number; height: number } | null {
  const kind = sniffImageKind(bytes);
  if (kind === 'png') {
    if (bytes.length < 24) return null;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (kind === 'jpeg') {
    let o = 2;
    while (o + 4 <= bytes.length) {
      if (bytes[o] !== 0xff) {
        o++;
        continue;
      }
      const m = bytes[o + 1]!;
      if (m === 0xff) {
        o++;
        continue;
      }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        o += 2;
        continue;
      }
      const len = (bytes[o + 2]! << 8) | bytes[o + 3]!;
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        if (o + 9 > bytes.length) return null;
        return { height: (bytes[o + 5]! << 8) | bytes[o + 6]!, width: (bytes[o + 7]! << 8) | bytes[o + 8]! };
      }
      if (m === 0xda || len < 2) return null; // start of scan before any frame header
      o += 2 + len;
    }
  }
  return null;
}

/** Throws ImageTooLargeError when the header declares more than `maxPixels` pixels. */
export function checkImageBudget(bytes: Uint8Array, maxPixels = defaultMaxPixels(), name = 'image'): void {
  const sz = imageHeaderSize(bytes);
  if (sz && sz.width * sz.height > maxPixels) {
    throw new ImageTooLargeError(
      `${name} declares ${sz.width}x${sz.height} = ${((sz.width * sz.height) / 1e6).toFixed(1)} megapixels, over the budget of ${(maxPixels / 1e6).toFixed(1)} (set WEBVCM_MAX_PIXELS or maxPixels to allow more)`,
    );
  }
}

/** Decode a PNG or JPEG file's bytes to 8-bit RGB. Other formats raise ImageFormatError; over-budget ones ImageTooLargeError. */
export function decodeImageFile(bytes: Uint8Array, opts: { maxPixels?: number; name?: string } = {}): RgbImage {
  if (!(bytes instanceof Uint8Array)) throw new ImageFormatError('decodeImageFile: expected a Uint8Array');
  checkImageBudget(bytes, opts.maxPixels ?? defaultMaxPixels(), opts.name);
  const kind = sniffImageKind(bytes);
  if (kind === 'png') return decodePng(bytes);
  if (kind === 'jpeg') return decodeJpeg(bytes);
  throw new ImageFormatError(`unsupported image format: ${describeMagic(bytes)}; only PNG and JPEG are supported`);
}

function decodePng(bytes: Uint8Array): RgbImage {
  if (bytes.length < 33) throw new ImageFormatError('truncated PNG (no IHDR)');
  let png: ReturnType<typeof decodePngFile>;
  try {
    png = decodePngFile(bytes[25] === 0 || bytes[25] === 2 ? withoutChunk(bytes, 'tRNS') : bytes);
  } catch (e) {
    throw new ImageFormatError(`invalid PNG: ${(e as Error).message}`);
  }
  const { width, height, depth, channels, data, palette } = png;
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (palette) {
    // Indexed: 1/2/4/8-bit indexes, rows padded to whole bytes.
    const stride = Math.ceil((width * depth) / 8);
    const mask = (1 << depth) - 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const idx = (data[y * stride + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
        const c = palette[idx];
        if (!c) throw new ImageFormatError(`invalid PNG: palette index ${idx} out of range (${palette.length} colours)`);
        const o = 3 * (y * width + x);
        rgb[o] = c[0]!;
        rgb[o + 1] = c[1]!;
        rgb[o + 2] = c[2]!;
      }
    }
    return { width, height, rgb };
  }
  if (depth < 8) {
    // 1/2/4-bit greyscale (the only non-indexed type allowed below 8 bits), scaled to 0..255 like PIL.
    if (channels !== 1) throw new ImageFormatError(`invalid PNG: ${depth}-bit samples with ${channels} channels`);
    const stride = Math.ceil((width * depth) / 8);
    const mask = (1 << depth) - 1;
    const scale = 255 / mask;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const bit = x * depth;
        const v = ((data[y * stride + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask) * scale;
        const o = 3 * (y * width + x);
        rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
      }
    }
    return { width, height, rgb };
  }
  const shift = depth === 16 ? 8 : 0;
  if (data.length !== n * channels) throw new ImageFormatError(`invalid PNG: ${data.length} samples for ${width}x${height}x${channels}`);
  if (channels >= 3) {
    for (let i = 0; i < n; i++) {
      rgb[3 * i] = data[channels * i]! >> shift;
      rgb[3 * i + 1] = data[channels * i + 1]! >> shift;
      rgb[3 * i + 2] = data[channels * i + 2]! >> shift;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = data[channels * i]! >> shift;
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
  }
  return { width, height, rgb };
}

/**
 * The PNG without chunks of one type. Used to drop the tRNS colour key of grey/RGB images: convert('RGB') ignores it,
 * and fast-png rejects a valid key on images of fewer than three pixels.
 */
function withoutChunk(bytes: Uint8Array, type: string): Uint8Array {
  const t = [...type].map((c) => c.charCodeAt(0));
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  let p = 8;
  let dropped = false;
  while (p + 12 <= bytes.length) {
    const len = ((bytes[p]! << 24) >>> 0) + ((bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!);
    const end = p + 12 + len;
    if (end > bytes.length) break;
    if (bytes[p + 4] === t[0] && bytes[p + 5] === t[1] && bytes[p + 6] === t[2] && bytes[p + 7] === t[3]) dropped = true;
    else parts.push(bytes.subarray(p, end));
    p = end;
  }
  if (!dropped) return bytes;
  if (p < bytes.length) parts.push(bytes.subarray(p));
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/**
 * The decoder's own complaints ("SOI not found", "marker was not found", its memory limit) are kept; JavaScript
 * faults inside it (TypeError/RangeError on corrupt tables: "Cannot set properties of undefined (setting
 * 'huffmanTableDC')") say nothing to a user and are replaced by what they mean.
 */
function jpegProblem(e: unknown): string {
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) {
    return 'corrupt or truncated data (its tables or scan data do not parse)';
  }
  const m = e instanceof Error ? e.message : String(e);
  return m || 'the decoder failed without a message';
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpegjs.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw new ImageFormatError(`invalid JPEG: ${jpegProblem(e)}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new ImageFormatError(`JPEG decoder returned ${img.data.length} bytes for ${img.width}x${img.height} RGB`);
  }
  const out: RgbImage = { width: img.width, height: img.height, rgb: img.data };
  const orientation = readJpegExifOrientation(bytes);
  return orientation ? applyExifOrientation(out, orientation) : out;
}

/** EXIF orientation (tag 0x0112) of a JPEG, or null when absent/unreadable. */
export function readJpegExifOrientation(bytes: Uint8Array): number | null {
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const marker = bytes[p + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return null; // start of scan / end: no EXIF before the image data
    const len = (bytes[p + 2]! << 8) | bytes[p + 3]!;
    const seg = p + 4;
    if (
      marker === 0xe1 &&
      len >= 8 &&
      bytes[seg] === 0x45 &&
      bytes[seg + 1] === 0x78 &&
      bytes[seg + 2] === 0x69 &&
      bytes[seg + 3] === 0x66 &&
      bytes[seg + 4] === 0 &&
      bytes[seg + 5] === 0
    ) {
      return tiffOrientation(bytes.subarray(seg + 6, p + 2 + len));
    }
    p += 2 + len;
  }
  return null;
}

function tiffOrientation(t: Uint8Array): number | null {
  if (t.length < 8) return null;
  const le = t[0] === 0x49 && t[1] === 0x49;
  if (!le && !(t[0] === 0x4d && t[1] === 0x4d)) return null;
  const u16 = (o: number): number => (le ? t[o]! | (t[o + 1]! << 8) : (t[o]! << 8) | t[o + 1]!);
  const u32 = (o: number): number =>
    le
      ? (t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16)) + t[o + 3]! * 2 ** 24
      : t[o]! * 2 ** 24 + ((t[o + 1]! << 16) | (t[o + 2]! << 8) | t[o + 3]!);
  const ifd = u32(4);
  if (ifd + 2 > t.length) return null;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + 12 * i;
    if (e + 12 > t.length) return null;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : null;
    }
  }
  return null;
}

/** Apply an EXIF orientation (1..8) as PIL's transpose methods do (detectron2 _apply_exif_orientation). */
export function applyExifOrientation(img: RgbImage, orientation: number): RgbImage {
  const { width: W, height: H, rgb } = img;
  if (orientation <= 1 || orientation > 8) return img;
  const swap = orientation >= 5;
  const oW = swap ? H : W;
  const oH = swap ? W : H;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < oH; y++) {
    for (let x = 0; x < oW; x++) {
      let sx: number;
      let sy: number;
      switch (orientation) {
        case 2:
          sx = W - 1 - x;
          sy = y;
          break; // FLIP_LEFT_RIGHT
        case 3:
          sx = W - 1 - x;
          sy = H - 1 - y;
          break; // ROTATE_180
        case 4:
          sx = x;
          sy = H - 1 - y;
          break; // FLIP_TOP_BOTTOM
        case 5:
          sx = y;
          sy = x;
          break; // TRANSPOSE
        case 6:
          sx = y;
          sy = H - 1 - x;
          break; // ROTATE_270 (90 degrees clockwise)
        case 7:
          sx = W - 1 - y;
          sy = H - 1 - x;
          break; // TRANSVERSE
        default:
          sx = W - 1 - y;
          sy = x;
          break; // 8: ROTATE_90 (counter-clockwise)
      }
      const s = 3 * (sy * W + sx);
      const d = 3 * (y * oW + x);
      out[d] = rgb[s]!;
      out[d + 1] = rgb[s + 1]!;
      out[d + 2] = rgb[s + 2]!;
    }
  }
  return { width: oW, height: oH, rgb: out };
}

/** RGB HWC -> BGR HWC (detectron2's input channel order), a new array. */
export function toBgrHwc(rgb: Uint8Array | RgbImage): Uint8Array {
  const src = rgb instanceof Uint8Array ? rgb : rgb.rgb;
  if (src.length % 3 !== 0) throw new ImageFormatError(`toBgrHwc: length ${src.length} is not a multiple of 3`);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += 3) {
    out[i] = src[i + 2]!;
    out[i + 1] = src[i + 1]!;
    out[i + 2] = src[i]!;
  }
  return out;
}

/** RGB image -> planar BGR CHW float32 (the layout the model consumes, before normalisation). */
export function toBgrChwFloat(img: RgbImage): Float32Array {
  const { width: W, height: H, rgb } = img;
  const plane = W * H;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = rgb[3 * i + 2]!;
    out[plane + i] = rgb[3 * i + 1]!;
    out[2 * plane + i] = rgb[3 * i]!;
  }
  return out;
}
