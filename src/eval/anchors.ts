/**
 * Image-codec anchors for the rate-accuracy experiment (Node only): the original image is encoded with a
 * conventional codec at a quality setting, decoded again, and the decoded image goes through the normal detector.
 * Encoding and decoding use sharp (libvips: mozjpeg's libjpeg-turbo API for JPEG, libwebp, libheif + aom for AVIF),
 * loaded lazily so that browser bundles never see it. HEVC-intra (the closest available stand-in for the paper's VVC
 * anchor) uses x265 through the system's `ffmpeg` (Debian's ffmpeg has libx265): one intra frame, 4:2:0, a fixed QP.
 */
import { spawn } from 'node:child_process';
import type { BgrImage } from '../model/detector/preprocess.ts';

export const ANCHOR_CODECS = ['jpeg', 'webp', 'avif', 'hevc'] as const;
export type AnchorCodec = (typeof ANCHOR_CODECS)[number];

/** Default quality points: chosen so that the rates span roughly 0.05–1.5 bpp on COCO-sized images. For HEVC the
 *  values are x265 QPs (0–51, lower is better), as in CompressAI-Vision's anchors. */
export const DEFAULT_ANCHOR_QUALITIES: Readonly<Record<AnchorCodec, readonly number[]>> = Object.freeze({
  jpeg: [5, 10, 20, 35, 50, 75],
  webp: [5, 10, 20, 35, 50, 75],
  avif: [10, 20, 30, 45, 60, 75],
  hevc: [22, 27, 32, 37, 42, 47],
});

export const ANCHOR_LABELS: Readonly<Record<AnchorCodec, string>> = Object.freeze({ jpeg: 'JPEG', webp: 'WebP', avif: 'AVIF', hevc: 'HEVC-intra' });

/** The valid quality settings of an anchor codec: 1..100 for the sharp codecs, QP 0..51 for HEVC. */
export function anchorQualityRange(codec: AnchorCodec): readonly [number, number] {
  return codec === 'hevc' ? [0, 51] : [1, 100];
}

export class AnchorError extends Error {
  override name = 'AnchorError';
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

/** Check that sharp loads and can write the given formats, and that ffmpeg has libx265 for HEVC (before any long work). */
export async function checkAnchorSupport(codecs: readonly AnchorCodec[]): Promise<void> {
  if (codecs.includes('hevc')) {
    const r = await runFfmpeg(['-hide_banner', '-encoders'], new Uint8Array(0)).catch((e: unknown) => {
      throw new AnchorError(`the HEVC anchor needs ffmpeg with libx265 on the PATH (Debian: apt-get install ffmpeg): ${(e as Error).message}`);
    });
    if (!/libx265/.test(r.toString('utf8'))) throw new AnchorError('the HEVC anchor needs an ffmpeg built with libx265; this ffmpeg has none');
  }
  if (codecs.every((c) => c === 'hevc')) return;
  const sharp = await loadSharp();
  for (const c of codecs) {
    if (c === 'hevc') continue;
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

const FFMPEG_TIMEOUT_MS = 60_000;
const FFMPEG_MAX_OUTPUT = 1 << 28;

/** Run ffmpeg with `input` on stdin; resolves with stdout. Bounded in time and output; stderr's tail in errors. */
function runFfmpeg(args: readonly string[], input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.env.WEBVCM_FFMPEG ?? 'ffmpeg', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let size = 0;
    let err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new AnchorError(`ffmpeg took over ${FFMPEG_TIMEOUT_MS / 1000} s`)); }, FFMPEG_TIMEOUT_MS);
    p.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > FFMPEG_MAX_OUTPUT) { p.kill('SIGKILL'); return; }
      out.push(d);
    });
    p.stderr.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-2000); });
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && size <= FFMPEG_MAX_OUTPUT) resolve(Buffer.concat(out));
      else reject(new AnchorError(`ffmpeg ${args.slice(0, 4).join(' ')} … failed (exit ${code}): ${err.trim().split('\n').slice(-2).join(' ')}`));
    });
    p.stdin.on('error', () => {});
    p.stdin.end(input);
  });
}

/** HEVC-intra through x265: one 4:2:0 intra frame at QP `qp` (the image padded to even sizes by edge replication,
 *  cropped again after decoding); the byte count is the whole Annex-B stream without x265's info SEI. */
async function codeHevc(image: BgrImage, qp: number): Promise<AnchorCoded> {
  const { width, height } = image;
  const W = width + (width & 1);
  const H = height + (height & 1);
  const padded = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(y, height - 1);
    for (let x = 0; x < W; x++) {
      const sx = Math.min(x, width - 1);
      padded.set(image.data.subarray(3 * (sy * width + sx), 3 * (sy * width + sx) + 3), 3 * (y * W + x));
    }
  }
  const raw = ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'bgr24', '-s', `${W}x${H}`, '-i', 'pipe:0'];
  const encoded = await runFfmpeg([...raw, '-frames:v', '1', '-c:v', 'libx265', '-preset', 'medium', '-pix_fmt', 'yuv420p',
    '-x265-params', `qp=${qp}:keyint=1:info=0:log-level=error`, '-f', 'hevc', 'pipe:1'], padded);
  const dec = await runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'hevc', '-i', 'pipe:0', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1'], encoded);
  if (dec.length !== W * H * 3) throw new AnchorError(`HEVC round trip gave ${dec.length} bytes, expected ${W}x${H}x3`);
  const bgr = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) bgr.set(dec.subarray(3 * y * W, 3 * (y * W + width)), 3 * y * width);
  return { bytes: encoded.length, decoded: { width, height, data: bgr } };
}

/** Encode a BGR image with `codec` at `quality` (1..100; a QP 0..51 for HEVC) and decode it again. */
export async function codeWithAnchor(image: BgrImage, codec: AnchorCodec, quality: number): Promise<AnchorCoded> {
  const [lo, hi] = anchorQualityRange(codec);
  if (!Number.isInteger(quality) || quality < lo || quality > hi) throw new AnchorError(`${ANCHOR_LABELS[codec]} quality must be an integer ${lo}..${hi}, got ${quality}`);
  if (codec === 'hevc') return codeHevc(image, quality);
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
    throw new AnchorError(`${codec} round trip changed the image: ${width}x${height}x3 -> ${info.width}x${info.height}x${info.channels}`);
  }
  const bgr = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    bgr[3 * i] = data[3 * i + 2]!;
    bgr[3 * i + 1] = data[3 * i + 1]!;
    bgr[3 * i + 2] = data[3 * i]!;
  }
  return { bytes: encoded.length, decoded: { width, height, data: bgr } };
}
