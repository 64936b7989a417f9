/** The public library API: inputs, the caller's device, dispose, progress, bad options. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { createDecoder, createEncoder, toBgrImage } from '../../src/index.ts';
import { GpuContext } from '../../src/gpu/context.ts';
import { bgrFromFileBytes } from '../../src/io/image-file.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/random/detector.safetensors';
const COD = 'weights/random/codec.safetensors';
const IMG = 'weights/mini-coco/000000000002.png';
const SIZE = { minSize: 160, maxSize: 272 };

describeGpu('library API', () => {
  it('encodes PNG bytes, a BgrImage and a GPUTexture identically; runs on the caller device; dispose leaves it alive', async () => {
    const ctx = await GpuContext.create();
    try {
      const progress: { file: string; loaded: number; total?: number }[] = [];
      const enc = await createEncoder({
        detector: DET,
        codec: COD,
        method: 1,
        mode: 'portable',
        device: ctx.device,
        ...SIZE,
        onProgress: (p) => progress.push(p),
      });
      expect(enc.device).toBe(ctx.device);
      for (const f of ['detector', 'codec']) {
        const last = progress.filter((p) => p.file === f).at(-1);
        expect(last, `progress for ${f}`).toBeDefined();
        expect(last!.loaded).toBe(last!.total);
      }
      const png = new Uint8Array(readFileSync(IMG));
      const bgr = bgrFromFileBytes(png);
      // warm-up compiles every pipeline of this size (host and texture inputs): the encodes below add none
      const warm = await enc.warmup({ height: bgr.height, width: bgr.width, gpuInput: true });
      expect(warm.failed).toEqual([]);
      expect(warm.compiled).toBeGreaterThan(5);
      const nEnc = enc.pipelineCount;
      const a = await enc.encode(png);
      const b = await enc.encode(bgr);
      expect(Array.from(b.bytes)).toEqual(Array.from(a.bytes));
      // the same pixels as an rgba8unorm texture on the same device
      const tex = ctx.device.createTexture({
        size: [bgr.width, bgr.height],
        format: 'rgba8unorm',
        usage: GPUTextureUsage.COPY_DST | GPUTextureUsage.COPY_SRC | GPUTextureUsage.TEXTURE_BINDING,
      });
      const rgba = new Uint8Array(bgr.width * bgr.height * 4);
      for (let i = 0; i < bgr.width * bgr.height; i++) {
        rgba[4 * i] = bgr.data[3 * i + 2]!;
        rgba[4 * i + 1] = bgr.data[3 * i + 1]!;
        rgba[4 * i + 2] = bgr.data[3 * i]!;
        rgba[4 * i + 3] = 255;
      }
      ctx.device.queue.writeTexture({ texture: tex }, rgba, { bytesPerRow: bgr.width * 4 }, [bgr.width, bgr.height]);
      expect(Array.from((await toBgrImage(tex, ctx)).data)).toEqual(Array.from(bgr.data));
      const c = await enc.encode(tex);
      expect(Array.from(c.bytes)).toEqual(Array.from(a.bytes));
      tex.destroy();
      expect(enc.pipelineCount).toBe(nEnc);

      expect(a.bpp.strings).toBeCloseTo((8 * (a.stringBytes.y + a.stringBytes.z)) / (bgr.width * bgr.height), 12);
      expect(a.bpp.container).toBeCloseTo((8 * a.bytes.length) / (bgr.width * bgr.height), 12);
      expect(a.sizes.original).toEqual([bgr.height, bgr.width]);
      expect(Object.keys(a.timings)).toContain('stem');

      const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: ctx.device });
      const dw = await dec.warmup({ height: bgr.height, width: bgr.width, ...SIZE }); // the encoder's resize settings
      expect(dw.failed).toEqual([]);
      const nDec = dec.pipelineCount;
      const d = await dec.decode(a.bytes, { returnFeatures: true });
      expect(dec.pipelineCount).toBe(nDec);
      expect(d.features?.shape[0]).toBe(64);
      expect(d.detections.boxes.length).toBe(4 * d.detections.scores.length);
      // decoding twice is deterministic
      const d2 = await dec.decode(a.bytes);
      expect(Array.from(d2.detections.scores)).toEqual(Array.from(d.detections.scores));

      enc.dispose();
      dec.dispose();
      await expect(enc.encode(png)).rejects.toThrow(/after dispose/);
      await expect(enc.warmup({ height: 10, width: 10 })).rejects.toThrow(/after dispose/);
      // the caller's device is still usable
      const t = ctx.upload(new Float32Array([1, 2, 3, 4]), [4]);
      expect(Array.from(await ctx.read(t))).toEqual([1, 2, 3, 4]);
    } finally {
      ctx.dispose();
    }
  });

  it('rejects bad options and bad streams with clear errors', async () => {
    await expect(createEncoder({ detector: DET, codec: COD, method: 3 as unknown as 1 })).rejects.toThrow(/method must be 1 or 2/);
    await expect(createEncoder({ detector: DET, codec: COD, mode: 'fast' as unknown as 'compat' })).rejects.toThrow(
      /mode must be compat or portable/,
    );
    await expect(createEncoder({ detector: COD, codec: COD })).rejects.toThrow(/detectron2/);
    {
      const e = await createEncoder({ detector: DET, codec: COD, ...SIZE });
      await expect(e.warmup({ height: 0, width: 10 })).rejects.toThrow(/warmup needs/);
      e.dispose();
    }
    await expect(createEncoder({ detector: DET, codec: 'nonexistent.safetensors' })).rejects.toThrow(/cannot read/);
    const dec = await createDecoder({ detector: DET, codec: COD });
    try {
      await expect(dec.decode(new Uint8Array(10))).rejects.toThrow(/magic|short|truncated/i);
      const enc = await createEncoder({ detector: dec.detectorWeights, codec: dec.codecWeights, device: dec.device, ...SIZE });
      const r = await enc.encode(new Uint8Array(readFileSync(IMG)));
      const bad = r.bytes.slice();
      bad[bad.length - 5]! ^= 0xff; // corrupt the y string
      await expect(dec.decode(bad)).rejects.toThrow();
      await expect(enc.encode(new Uint8Array([1, 2, 3]))).rejects.toThrow(/unsupported image format|PNG|JPEG/);
      enc.dispose();
    } finally {
      dec.dispose();
    }
  });
});
