// The paper's feature path against the pipeline golden (P_A, methods 1 and 2): 8-bit quantization of the stored
// stem reproduces q8.npy exactly on the GPU, the strings are CompressAI's byte for byte, the rate matches, the
// container round-trips (compat and portable), and malformed or mismatched containers are rejected.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { ContainerError, readContainer, writeContainer } from '../../src/coder/index.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import { computePadding, decodeFeatures, encodeFeatures, quantParams } from '../../src/model/codec/features.ts';
import { checked, expectClose, gpuContext } from '../helpers/gpu.ts';
import { GOLDEN, bin, f32, firstDiff, goldenParams, npy } from './golden.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

describeGpuGolden('feature path (paper methods 1 and 2) vs the pipeline golden', () => {
  for (const m of ['m1', 'm2'] as const) {
    it(`P_A ${m}: q8, strings, bpp, decode; portable; container checks`, async () => {
      const ctx = await gpuContext();
      const gpu = new GpuCodecBackend(ctx);
      const dir = `pipeline/P_A/${m}`;
      const quant = JSON.parse(readFileSync(resolve(GOLDEN, dir, 'quant.json'), 'utf8'));
      const bpp = JSON.parse(readFileSync(resolve(GOLDEN, dir, 'bpp.json'), 'utf8'));
      const stem = npy(`${dir}/stem.npy`);
      const [, C, Hf, Wf] = stem.shape as [number, number, number, number];
      const q8 = npy(`${dir}/q8.npy`).data as Uint8Array;
      const p = goldenParams('pipeline/P_A/codec.pth.tar');
      expect([p.C, p.N, p.M]).toEqual([64, 64, 96]);
      const method = m === 'm1' ? 1 : 2;
      const pad = computePadding(Hf, Wf);
      expect(pad).toEqual([quant.padding.top, quant.padding.left, quant.padding.bottom, quant.padding.right]);
      await checked(ctx, `features ${m}`, async () => {
        const codec = await HyperpriorCodec.create(p, gpu);
        const F = gpu.fromCHW(stem.data as Float32Array, C, Hf, Wf);
        // quantization: exact q8 (and the float32 scale of the golden)
        const [mn, mx] = await gpu.minMax(F);
        const qp = quantParams(mn, mx);
        expect(new Uint32Array(Float32Array.of(qp.mx).buffer)[0]).toBe(parseInt(quant.mx_f32_hex, 16));
        expect(new Uint32Array(Float32Array.of(qp.scale).buffer)[0]).toBe(parseInt(quant.scale_f32_hex, 16));
        const x = gpu.quantize8(F, qp.mn, qp.scale, pad);
        const xd = await gpu.toCHW(x);
        gpu.release(x);
        const Hp = Hf + pad[0] + pad[2],
          Wp = Wf + pad[1] + pad[3];
        let bad = 0;
        for (let c = 0; c < C; c++)
          for (let y = 0; y < Hp; y++)
            for (let xx = 0; xx < Wp; xx++) {
              const iy = y - pad[0],
                ix = xx - pad[1];
              const inside = iy >= 0 && ix >= 0 && iy < Hf && ix < Wf;
              const want = inside ? Math.fround(q8[(c * Hf + iy) * Wf + ix]! / 255) : 0;
              if (xd[(c * Hp + y) * Wp + xx] !== want) bad++;
            }
        expect(bad, 'q8 mismatches').toBe(0);

        const enc = await encodeFeatures(codec, F, { method, originalSize: quant.original_hw, resizedSize: quant.resized_hw });
        expect(firstDiff(enc.strings[0], bin(`${dir}/y_string.bin`)), 'y string').toBe(-1);
        expect(firstDiff(enc.strings[1], bin(`${dir}/z_string.bin`)), 'z string').toBe(-1);
        expect(enc.bpp).toBeCloseTo(bpp.bpp, 12);
        expect(enc.bppContainer).toBeCloseTo((8 * enc.bytes.length) / (300 * 451), 12);
        console.log(`P_A ${m}: bpp ${enc.bpp.toFixed(6)} (strings), ${enc.bppContainer.toFixed(6)} (container, ${enc.bytes.length} B)`);

        const dec = await decodeFeatures(codec, enc.bytes);
        expect(dec.features.shape).toEqual([C, Hf, Wf]);
        expect(dec.fields.method).toBe(method);
        expect(dec.fields.resizedSize).toEqual(quant.resized_hw);
        const got = await gpu.toCHW(dec.features);
        const xHatRef = f32(`${dir}/x_hat.npy`);
        const ref = xHatRef.map((v) => Math.fround(Math.fround(Math.min(1, Math.max(0, v)) * qp.range) + qp.mn));
        expectClose(got, ref, 1e-4 * qp.range + 1e-6, 0, 'F_hat');

        // portable mode: different stream, same decoded y_hat, hence the same F_hat on this device
        const encP = await encodeFeatures(codec, F, {
          method,
          mode: 'portable',
          originalSize: quant.original_hw,
          resizedSize: quant.resized_hw,
        });
        expect(readContainer(encP.bytes).mode).toBe('portable');
        const decP = await decodeFeatures(codec, encP.bytes);
        expect(firstDiff(await gpu.toCHW(decP.features), got)).toBe(-1);
        console.log(
          `P_A ${m}: portable ${encP.strings[0].length + encP.strings[1].length} B vs compat ${enc.strings[0].length + enc.strings[1].length} B`,
        );
        gpu.release(F, dec.features, decP.features);

        // container checks: wrong weights, truncation, corruption, inconsistent shapes
        const other = await HyperpriorCodec.create(goldenParams('compressai/A/model.pth.tar'), gpu);
        await expect(decodeFeatures(other, enc.bytes)).rejects.toThrow(/fingerprint mismatch/);
        other.release();
        await expect(decodeFeatures(codec, enc.bytes.slice(0, enc.bytes.length - 4))).rejects.toBeInstanceOf(ContainerError);
        const bad1 = enc.bytes.slice();
        bad1[0] = 0x58;
        await expect(decodeFeatures(codec, bad1)).rejects.toThrow(/magic/);
        const f = readContainer(enc.bytes);
        // a feature shape that does not fit the resized image is refused by the container itself
        expect(() => writeContainer({ ...f, featureShape: [C, Hf + 64, Wf] })).toThrow(ContainerError);
        // a z shape that does not fit the padded feature map: refused by the container on both sides
        expect(() => writeContainer({ ...f, zShape: [f.zShape[0] + 1, f.zShape[1]] })).toThrow(/does not fit the padded feature map/);
        const wrongShape = enc.bytes.slice();
        new DataView(wrongShape.buffer).setUint32(76, f.zShape[0] + 1, true);
        await expect(decodeFeatures(codec, wrongShape)).rejects.toThrow(/z shape \d+x\d+ does not fit/);
        codec.release();
      });
    });
  }

  it('method 2 refuses a stem that is not a multiple of 64', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const codec = await HyperpriorCodec.create(goldenParams('pipeline/P_A/codec.pth.tar'), gpu);
    const F = gpu.fromCHW(new Float32Array(64 * 80 * 64), 64, 80, 64);
    await expect(encodeFeatures(codec, F, { method: 2, originalSize: [300, 200], resizedSize: [320, 256] })).rejects.toThrow(
      /multiples of 64/,
    );
    gpu.release(F);
    codec.release();
  });
});
