/**
 * Pillow-exact BILINEAR resize + Detectron2 normalisation on the GPU, for images that are already on the device
 * (a GPUTexture, a VideoFrame copied into one): the pixels never go to the host. Pillow's 8-bit resampler is
 * fixed-point integer arithmetic (22-bit coefficients, clip8 between the passes), so the WGSL kernel
 * (shaders/resize_pillow.wgsl) reproduces `pillowResizeBilinear` + `normalizeAndPad` bit for bit; the coefficients
 * are the CPU port's own (`pillowCoeffs`, a function of the sizes only).
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { pillowCoeffs } from '../../model/detector/preprocess.ts';
import { packBytes } from './normalize.ts';
import { defineParams } from '../params.ts';

/** shaders/resize_pillow.wgsl's struct Params. */
const RESIZE_PARAMS = defineParams('resize_pillow', {
  inH: 'u32',
  inW: 'u32',
  outH: 'u32',
  outW: 'u32',
  ksize: 'u32',
  rowOff: 'u32',
  stride: 'u32',
  bpp: 'u32',
  c0: 'u32',
  c1: 'u32',
  c2: 'u32',
  Hp: 'u32',
  Wp: 'u32',
  m0: 'f32',
  m1: 'f32',
  m2: 'f32',
});

/** Byte order of a packed pixel: 'bgr' (3 bytes, the detector's host format), 'rgba' / 'bgra' (4 bytes, texels). */
export type PixelOrder = 'bgr' | 'rgba' | 'bgra';

/**
 * An 8-bit image in a GPU buffer, bytes packed little-endian in u32 words, rows `stride` bytes apart. The detector
 * graph treats it as opaque (`DeviceImage`); only the GPU backend reads it.
 */
export interface GpuImage {
  readonly kind: 'gpu-image';
  readonly height: number;
  readonly width: number;
  readonly data: GpuTensor;
  readonly stride: number;
  readonly order: PixelOrder;
}

export function isGpuImage(x: unknown): x is GpuImage {
  return typeof x === 'object' && x !== null && (x as GpuImage).kind === 'gpu-image';
}

/** Bytes per pixel and the byte offsets of B, G, R inside one pixel (pure). */
export function pixelLayout(order: PixelOrder): { bpp: number; c: [number, number, number] } {
  if (order === 'bgr') return { bpp: 3, c: [0, 1, 2] };
  if (order === 'bgra') return { bpp: 4, c: [0, 1, 2] };
  return { bpp: 4, c: [2, 1, 0] };
}

/** Upload host BGR bytes as a GpuImage (tests, benches). */
export function uploadBgrImage(ctx: GpuContext, data: Uint8Array, height: number, width: number): GpuImage {
  if (data.length !== height * width * 3) throw new GpuShapeError(`uploadBgrImage: ${data.length} bytes for ${height}x${width}x3`);
  const words = packBytes(data);
  return { kind: 'gpu-image', height, width, data: ctx.upload(words, [words.length], { label: 'image' }), stride: width * 3, order: 'bgr' };
}

const TEXTURE_FORMATS: Record<string, PixelOrder> = {
  rgba8unorm: 'rgba',
  'rgba8unorm-srgb': 'rgba',
  bgra8unorm: 'bgra',
  'bgra8unorm-srgb': 'bgra',
};

/**
 * Copy an rgba8unorm / bgra8unorm (or -srgb: raw bytes, no decoding) texture into a pooled buffer on the device.
 * The texture needs COPY_SRC usage and must belong to ctx's device. The caller releases `data`.
 */
export function gpuImageFromTexture(ctx: GpuContext, tex: GPUTexture): GpuImage {
  const order = TEXTURE_FORMATS[tex.format];
  if (!order) throw new GpuShapeError(`GPUTexture format ${tex.format} is not supported (use rgba8unorm or bgra8unorm)`);
  if (typeof tex.usage === 'number' && !(tex.usage & 0x01 /* COPY_SRC */))
    throw new GpuShapeError('the GPUTexture needs GPUTextureUsage.COPY_SRC');
  const W = tex.width,
    H = tex.height;
  const stride = Math.ceil((W * 4) / 256) * 256;
  const data = ctx.empty([(stride * H) / 4], 'u32', 'flat', 'texture.copy');
  ctx.commandEncoder().copyTextureToBuffer({ texture: tex }, { buffer: data.buffer, bytesPerRow: stride }, { width: W, height: H });
  return { kind: 'gpu-image', height: H, width: W, data, stride, order };
}

/** Words of the coefficient buffer for one axis: bounds (min, count) per output, then ksize taps per output. */
function coeffWords(inSize: number, outSize: number, rowOffset: number): { words: Int32Array; ksize: number } {
  const c = pillowCoeffs(inSize, outSize);
  const words = new Int32Array(2 * outSize + outSize * c.ksize);
  for (let i = 0; i < outSize; i++) {
    words[2 * i] = c.bounds[2 * i]! - rowOffset;
    words[2 * i + 1] = c.bounds[2 * i + 1]!;
  }
  words.set(c.kk, 2 * outSize);
  return { words, ksize: c.ksize };
}

/** Identity taps (one coefficient 2^22 per output): exact, used when an axis keeps its size. */
function identityWords(n: number): { words: Int32Array; ksize: number } {
  const words = new Int32Array(3 * n);
  for (let i = 0; i < n; i++) {
    words[2 * i] = i;
    words[2 * i + 1] = 1;
    words[2 * n + i] = 1 << 22;
  }
  return { words, ksize: 1 };
}

function params(v: {
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  ksize: number;
  rowOff: number;
  stride: number;
  bpp: number;
  c: readonly number[];
  Hp: number;
  Wp: number;
  mean: readonly number[];
}): Uint32Array {
  return RESIZE_PARAMS.pack({
    inH: v.inH,
    inW: v.inW,
    outH: v.outH,
    outW: v.outW,
    ksize: v.ksize,
    rowOff: v.rowOff,
    stride: v.stride,
    bpp: v.bpp,
    c0: v.c[0]!,
    c1: v.c[1]!,
    c2: v.c[2]!,
    Hp: v.Hp,
    Wp: v.Wp,
    m0: v.mean[0]!,
    m1: v.mean[1]!,
    m2: v.mean[2]!,
  });
}

export interface ResizeOptions {
  /** Return the resized u8 values (one u32 per value, [outH, outW, 3] flat) instead of the normalised tensor. */
  u8?: boolean;
  label?: string;
}

/**
 * Resize `img` to outH×outW exactly as `PIL.Image.resize((outW, outH), BILINEAR)` and normalise/pad it into the
 * detector input [3, Hp, Wp] HWC (x − mean[c], 0.0 padding), or, with `u8`, return the resized bytes. Two dispatches
 * (one when the width is unchanged). Does not release `img`.
 */
export function resizeNormalizeImage(
  ctx: GpuContext,
  img: GpuImage,
  out: readonly [number, number],
  padded: readonly [number, number],
  mean: readonly [number, number, number],
  opts: ResizeOptions = {},
): GpuTensor {
  const { height: H, width: W } = img;
  const [outH, outW] = out;
  const [Hp, Wp] = padded;
  const label = opts.label ?? 'resize';
  for (const v of [H, W, outH, outW, Hp, Wp])
    if (!Number.isInteger(v) || v <= 0) throw new GpuShapeError(`resize: bad size (${H}x${W} → ${outH}x${outW}, padded ${Hp}x${Wp})`);
  if (Hp < outH || Wp < outW) throw new GpuShapeError(`resize: padded ${Hp}x${Wp} smaller than ${outH}x${outW}`);
  const { bpp, c } = pixelLayout(img.order);
  if (img.stride < W * bpp || img.data.byteLength < img.stride * (H - 1) + W * bpp)
    throw new GpuShapeError(`resize: image buffer too small for ${H}x${W} (stride ${img.stride})`);
  const needH = outW !== W;
  const vert = outH !== H ? coeffWords(H, outH, 0) : identityWords(H);
  const temps: GpuTensor[] = [];
  let src = img.data,
    packed = true,
    inW = W,
    inH = H;
  if (needH) {
    // The horizontal pass only produces the rows the vertical taps touch (Pillow's ImagingResampleInner).
    const b = vert.words;
    const yFirst = b[0]!,
      yLast = b[2 * outH - 2]! + b[2 * outH - 1]!;
    for (let i = 0; i < outH; i++) b[2 * i] -= yFirst;
    const rows = yLast - yFirst;
    const hor = coeffWords(W, outW, 0);
    const hc = ctx.upload(hor.words, [hor.words.length], { label: `${label}.hcoef` });
    const tmp = ctx.empty([rows, outW, 3], 'u32', 'flat', `${label}.h`);
    temps.push(hc, tmp);
    const u = params({ inH: H, inW: W, outH: rows, outW, ksize: hor.ksize, rowOff: yFirst, stride: img.stride, bpp, c, Hp, Wp, mean });
    ctx.dispatch1d(
      ctx.pipeline('resize_pillow', { HORIZ: true, PACKED: true, U8_OUT: true, OUT_T: 'u32' }),
      [ctx.uniform(u), hc, img.data, tmp],
      rows * outW * 3,
      `${label}.h`,
    );
    src = tmp;
    packed = false;
    inW = outW;
    inH = rows;
  }
  const vc = ctx.upload(vert.words, [vert.words.length], { label: `${label}.vcoef` });
  temps.push(vc);
  const u8 = !!opts.u8;
  const y = u8 ? ctx.empty([outH, outW, 3], 'u32', 'flat', label) : ctx.empty([3, Hp, Wp], 'f32', 'hwc', label);
  const u = params({ inH, inW, outH, outW, ksize: vert.ksize, rowOff: 0, stride: img.stride, bpp, c, Hp, Wp, mean });
  ctx.dispatch1d(
    ctx.pipeline('resize_pillow', { HORIZ: false, PACKED: packed, U8_OUT: u8, OUT_T: u8 ? 'u32' : 'f32' }),
    [ctx.uniform(u), vc, src, y],
    u8 ? outH * outW * 3 : Hp * Wp * 3,
    `${label}.v`,
  );
  // Pooled temporaries may be handed to a later upload whose writeBuffer runs before unsubmitted work: submit first.
  ctx.flush();
  for (const t of temps) t.release();
  return y;
}
