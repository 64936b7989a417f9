/** GPU Pillow-exact resize + normalisation vs the CPU port: bit for bit (tolerance 0), up and down, all input kinds. */
import { expect, it } from 'vitest';
import { GpuShapeError } from '../../src/gpu/errors.ts';
import { gpuImageFromTexture, pixelLayout, resizeNormalizeImage, uploadBgrImage } from '../../src/gpu/ops/resize.ts';
import { normalizeAndPad, pillowResizeBilinear } from '../../src/model/detector/preprocess.ts';
import { checked, describeGpu, expectClose, gpuContext, rng } from '../helpers/gpu.ts';

const MEAN: [number, number, number] = [103.53, 116.28, 123.675];

it('pixelLayout gives the B, G, R byte offsets per order', () => {
  expect(pixelLayout('bgr')).toEqual({ bpp: 3, c: [0, 1, 2] });
  expect(pixelLayout('rgba')).toEqual({ bpp: 4, c: [2, 1, 0] });
  expect(pixelLayout('bgra')).toEqual({ bpp: 4, c: [0, 1, 2] });
});

function randomImage(h: number, w: number, seed: number): Uint8Array {
  const r = rng(seed);
  // smooth gradients plus noise, and a few saturated pixels (exercise clip8 at both ends)
  const img = new Uint8Array(h * w * 3);
  for (let i = 0; i < img.length; i++) {
    const v = r();
    img[i] = v < 0.05 ? 0 : v > 0.95 ? 255 : Math.floor(r() * 256);
  }
  return img;
}

describeGpu('GPU Pillow resize vs the CPU port', () => {
  // [H, W, outH, outW]: down (antialiased, wide support), up, one axis only, same size, extreme ratios.
  const cases = [
    [37, 53, 20, 29],
    [20, 29, 37, 53],
    [64, 48, 160, 120],
    [97, 61, 31, 200],
    [16, 16, 16, 40],
    [40, 16, 16, 16],
    [23, 31, 23, 31],
    [1, 9, 5, 3],
    [300, 200, 32, 22],
    [240, 320, 320, 427],
    [427, 640, 320, 480], // the detector's short-side-320 sizes, up and down
  ] as const;
  for (const [H, W, oh, ow] of cases) {
    it(`${H}x${W} → ${oh}x${ow}: resized bytes and the normalised tensor are bit-exact`, async () => {
      const ctx = await gpuContext();
      const img = randomImage(H, W, H * 1000 + W * 7 + oh);
      const ref = pillowResizeBilinear(img, H, W, 3, oh, ow);
      const Hp = Math.ceil(oh / 32) * 32,
        Wp = Math.ceil(ow / 32) * 32;
      const refN = normalizeAndPad({ height: oh, width: ow, data: ref }, [Hp, Wp], MEAN);
      const [u8, norm] = await checked(ctx, 'resize', async () => {
        const g = uploadBgrImage(ctx, img, H, W);
        const a = resizeNormalizeImage(ctx, g, [oh, ow], [Hp, Wp], MEAN, { u8: true });
        const b = resizeNormalizeImage(ctx, g, [oh, ow], [Hp, Wp], MEAN);
        expect(b.shape).toEqual([3, Hp, Wp]);
        const out = [await ctx.read(a), await ctx.readCHW(b)] as const;
        g.data.release();
        a.release();
        b.release();
        return out;
      });
      expectClose(u8, ref, 0, 0, 'resize u8');
      expectClose(norm, refN, 0, 0, 'resize + normalize');
    });
  }

  for (const format of ['rgba8unorm', 'bgra8unorm', 'rgba8unorm-srgb'] as const) {
    it(`a ${format} texture resizes on the device exactly like its BGR bytes on the CPU`, async () => {
      const ctx = await gpuContext();
      const H = 45,
        W = 70,
        oh = 32,
        ow = 50;
      const bgr = randomImage(H, W, 77);
      const texels = new Uint8Array(H * W * 4);
      const rgba = format.startsWith('rgba');
      for (let i = 0; i < H * W; i++) {
        texels[4 * i] = bgr[3 * i + (rgba ? 2 : 0)]!;
        texels[4 * i + 1] = bgr[3 * i + 1]!;
        texels[4 * i + 2] = bgr[3 * i + (rgba ? 0 : 2)]!;
        texels[4 * i + 3] = 200;
      }
      const ref = normalizeAndPad({ height: oh, width: ow, data: pillowResizeBilinear(bgr, H, W, 3, oh, ow) }, [32, 64], MEAN);
      const got = await checked(ctx, 'texture resize', async () => {
        const tex = ctx.device.createTexture({ size: [W, H], format, usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC });
        ctx.device.queue.writeTexture({ texture: tex }, texels, { bytesPerRow: W * 4 }, [W, H]);
        const g = gpuImageFromTexture(ctx, tex);
        const y = resizeNormalizeImage(ctx, g, [oh, ow], [32, 64], MEAN);
        const out = await ctx.readCHW(y);
        g.data.release();
        y.release();
        tex.destroy();
        return out;
      });
      expectClose(got, ref, 0, 0, `${format} resize`);
    });
  }

  it('rejects bad sizes and unsupported textures with typed errors', async () => {
    const ctx = await gpuContext();
    const g = uploadBgrImage(ctx, new Uint8Array(12), 2, 2);
    expect(() => resizeNormalizeImage(ctx, g, [0, 3], [32, 32], MEAN)).toThrow(GpuShapeError);
    expect(() => resizeNormalizeImage(ctx, g, [40, 3], [32, 32], MEAN)).toThrow(GpuShapeError);
    expect(() => resizeNormalizeImage(ctx, { ...g, height: 9 }, [4, 4], [32, 32], MEAN)).toThrow(GpuShapeError);
    g.data.release();
    const tex = ctx.device.createTexture({ size: [4, 4], format: 'r8unorm', usage: GPUTextureUsage.COPY_SRC });
    expect(() => gpuImageFromTexture(ctx, tex)).toThrow(GpuShapeError);
    const tex2 = ctx.device.createTexture({ size: [4, 4], format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING });
    expect(() => gpuImageFromTexture(ctx, tex2)).toThrow(/COPY_SRC/);
    tex.destroy();
    tex2.destroy();
  });
});
