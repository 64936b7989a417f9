/**
 * Image-codec anchors for the rate-accuracy experiment (Node only): the original image is encoded with a
 * conventional codec at a quality setting, decoded again, and the decoded image goes through the normal detector.
 * Encoding and decoding use sharp (libvips: mozjpeg's libjpeg-turbo API for JPEG, libwebp, libheif + aom for AVIF),
 * loaded lazily so that browser bundles never see it.
 */
import type { BgrImage } from '../io/bgr.ts';
import { VcmError } from '../util/errors.ts';

export const ANCHOR_CODECS = ['jpeg', 'webp', 'avif'] as const;
export type AnchorCodec = (typeof ANCHOR_CODECS)[number];

/** Default quality points: chosen so that the rates span roughly 0.05–1.5 bpp on COCO-sized images. */
export const DEFAULT_ANCHOR_QUALITIES: Readonly<Record<AnchorCodec, readonly number[]>> = Object.freeze({
  jpeg: [5, 10, 20, 35, 50, 75],
  webp: [5, 10, 20, 35, 50, 75],
  avif: [10, 20, 30, 45, 60, 75],
});

export const ANCHOR_LABELS: Readonly<Record<AnchorCodec, string>> = Object.freeze({ jpeg: 'JPEG', webp: 'WebP', avif: 'AVIF' });

/** Anchor codecs unavailable (no sharp, a build without the format: 'unsupported') or asked wrongly ('input'). */
export class AnchorError extends VcmError {
  override name = 'AnchorError';
  constructor(message: string, kind: 'unsupported' | 'input' | 'internal' = 'unsupported') {
    super(kind, message);
  }
}

export function isAnchorCodec(s: string): s is AnchorCodec {
  return (ANCHOR_CODECS as readonly string[]).includes(s);
}

type Sharp = typeof import('sharp').default;
let sharpMod: Promise<Sharp> | null = null;

async function loadSharp(): Promise<Sharp> {
  sharpMod ??= import('sharp').then((m) => m.default ?? (m as unknown as Sharp)).catch((e: unknown) => {
    sharpMod = null;
    throw new AnchorError(`image-codec anchors need the 'sharp' package (npm install sharp): ${(e as Error).message}`);
  });
  return sharpMod;
}

/** Check that sharp loads and can write the given formats (before any long work). */
export async function checkAnchorSupport(codecs: readonly AnchorCodec[]): Promise<void> {
  const sharp = await loadSharp();
  for (const c of codecs) {
    const f = (sharp.format as unknown as Record<string, { output?: { buffer?: boolean } }>)[c === 'avif' ? 'heif' : c];
    if (!f?.output?.buffer) throw new AnchorError(`this build of sharp cannot encode ${ANCHOR_LABELS[c]}`);
  }
}

export interface AnchorCoded {
  /** the encoded file's size in bytes (the whole container, headers included) */
  bytes: number;
  /** the decoded image */
  decoded: BgrImage;
}

/** Encode a BGR image with `codec` at `quality` (1..100) and decode it again. */
export async function codeWithAnchor(image: BgrImage, codec: AnchorCodec, quality: number): Promise<AnchorCoded> {
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new AnchorError(`quality must be an integer 1..100, got ${quality}`, 'input');
  const sharp = await loadSharp();
  const { width, height } = image;
  const rgb = Buffer.allocUnsafe(width * height * 3);
  const src = image.data;
  for (let i = 0; i < width * height; i++) {
    rgb[3 * i] = src[3 * i + 2]!;
    rgb[3 * i + 1] = src[3 * i + 1]!;
    rgb[3 * i + 2] = src[3 * i]!;
  }
  const input = sharp(rgb, { raw: { width, height, channels: 3 } });
  const encoded =
    codec === 'jpeg' ? await input.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer()
    : codec === 'webp' ? await input.webp({ quality }).toBuffer()
    : await input.avif({ quality }).toBuffer();
  const { data, info } = await sharp(encoded).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new AnchorError(`${codec} round trip changed the image: ${width}x${height}x3 -> ${info.width}x${info.height}x${info.channels}`, 'internal');
  }
  const bgr = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    bgr[3 * i] = data[3 * i + 2]!;
    bgr[3 * i + 1] = data[3 * i + 1]!;
    bgr[3 * i + 2] = data[3 * i]!;
  }
  return { bytes: encoded.length, decoded: { width, height, data: bgr } };
}
