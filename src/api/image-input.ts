/**
 * Every image input the library accepts, turned into the detector's H×W×3 uint8 BGR image:
 * encoded PNG/JPEG bytes (Uint8Array/ArrayBuffer/Blob/File, decoded with the same pure-JS decoders in Node and the
 * browser so both give identical pixels), uint8 H×W×3 BGR .npy bytes, a BgrImage, browser sources (ImageBitmap,
 * canvas, OffscreenCanvas, <img>, <video>, VideoFrame, ImageData), or a GPUTexture (rgba8unorm / bgra8unorm).
 */
import { bgrFromFileBytes } from '../io/image-file.ts';
import { bgrFromImageSource, type BrowserImageSource } from '../io/browser.ts';
import { DetectorInputError, checkBgrImage, type BgrImage } from '../model/detector/preprocess.ts';
import type { GpuContext } from '../gpu/context.ts';
import { gpuWait } from '../gpu/device.ts';
import { gpuImageFromTexture, type GpuImage } from '../gpu/ops/resize.ts';

export type ImageInput = Uint8Array | ArrayBuffer | Blob | BgrImage | BrowserImageSource | GPUTexture;

function isBgrImage(x: unknown): x is BgrImage {
  return typeof x === 'object' && x !== null && 'data' in x && (x as BgrImage).data instanceof Uint8Array && 'height' in x && 'width' in x;
}

function isGpuTexture(x: unknown): x is GPUTexture {
  return typeof GPUTexture !== 'undefined'
    ? x instanceof GPUTexture
    : typeof x === 'object' && x !== null && 'createView' in x && 'format' in x;
}

export async function toBgrImage(input: ImageInput, ctx?: GpuContext): Promise<BgrImage> {
  if (input instanceof Uint8Array) return bgrFromFileBytes(input);
  if (input instanceof ArrayBuffer) return bgrFromFileBytes(new Uint8Array(input));
  if (typeof Blob !== 'undefined' && input instanceof Blob) return bgrFromFileBytes(new Uint8Array(await input.arrayBuffer()));
  if (isBgrImage(input)) {
    checkBgrImage(input);
    return input;
  }
  if (isGpuTexture(input)) {
    if (!ctx) throw new DetectorInputError('a GPUTexture input needs the GPU backend');
    return bgrFromTexture(ctx, input);
  }
  if (typeof input === 'object' && input !== null) return bgrFromImageSource(input as BrowserImageSource);
  throw new DetectorInputError(`unsupported image input (${Object.prototype.toString.call(input)})`);
}

function isVideoFrame(x: unknown): x is VideoFrame {
  return typeof VideoFrame !== 'undefined' && x instanceof VideoFrame;
}

/**
 * The detector's input for `input`: device inputs stay on the device (a GPUTexture is copied GPU-side into a buffer;
 * a VideoFrame is copied into a texture with copyExternalImageToTexture, then the same), and the detector resizes
 * them there, bit-exact with the CPU path. Everything else becomes a host BgrImage (toBgrImage). The caller releases
 * a returned GpuImage's `data` once the work reading it is recorded.
 */
export async function toDetectorImage(input: ImageInput, ctx: GpuContext): Promise<BgrImage | GpuImage> {
  if (isGpuTexture(input)) {
    try {
      return gpuImageFromTexture(ctx, input);
    } catch (e) {
      throw new DetectorInputError((e as Error).message);
    }
  }
  if (isVideoFrame(input)) {
    const w = input.displayWidth,
      h = input.displayHeight;
    if (!w || !h) throw new DetectorInputError(`VideoFrame has no pixels (${w}x${h})`);
    const tex = ctx.device.createTexture({
      size: [w, h],
      format: 'rgba8unorm',
      usage: GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.TEXTURE_BINDING,
    });
    try {
      ctx.flush();
      ctx.device.queue.copyExternalImageToTexture({ source: input }, { texture: tex }, [w, h]);
      const img = gpuImageFromTexture(ctx, tex);
      ctx.flush(); // the copy is submitted before the texture is destroyed
      return img;
    } finally {
      tex.destroy();
    }
  }
  return toBgrImage(input, ctx);
}

/** Copy an rgba8unorm/bgra8unorm texture (made on the same device) to the host as BGR. */
export async function bgrFromTexture(ctx: GpuContext, tex: GPUTexture): Promise<BgrImage> {
  const fmt = tex.format;
  if (fmt !== 'rgba8unorm' && fmt !== 'bgra8unorm' && fmt !== 'rgba8unorm-srgb' && fmt !== 'bgra8unorm-srgb') {
    throw new DetectorInputError(`GPUTexture format ${fmt} is not supported (use rgba8unorm or bgra8unorm)`);
  }
  const W = tex.width,
    H = tex.height;
  const bytesPerRow = Math.ceil((W * 4) / 256) * 256;
  const buf = ctx.device.createBuffer({ size: bytesPerRow * H, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  ctx.flush();
  const enc = ctx.device.createCommandEncoder();
  enc.copyTextureToBuffer({ texture: tex }, { buffer: buf, bytesPerRow }, { width: W, height: H });
  ctx.device.queue.submit([enc.finish()]);
  await gpuWait(buf.mapAsync(GPUMapMode.READ));
  const src = new Uint8Array(buf.getMappedRange());
  const out = new Uint8Array(W * H * 3);
  const bgra = fmt.startsWith('bgra');
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const s = y * bytesPerRow + x * 4,
        d = (y * W + x) * 3;
      out[d] = src[s + (bgra ? 0 : 2)]!;
      out[d + 1] = src[s + 1]!;
      out[d + 2] = src[s + (bgra ? 2 : 0)]!;
    }
  buf.unmap();
  buf.destroy();
  return { height: H, width: W, data: out };
}
