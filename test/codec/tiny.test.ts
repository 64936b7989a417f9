// The CPU reference backend end to end against the GPU backend on the tiny 64-channel checkpoints (N=16, M=24), and
// the three CompressAI key namings (v1.0 `_matrices.i`, v1.1 `_matrix{i}`, current `matrices.i`) loading identically.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import { hyperpriorParams } from '../../src/model/codec/params.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { checked, expectClose, gpuContext, rng } from '../helpers/gpu.ts';
import { GOLDEN, firstDiff } from './golden.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

const cpu = new CpuCodecBackend();

describeGpuGolden('hyperprior codec: CPU reference vs GPU on the tiny checkpoints', () => {
  it('tiny 64-channel checkpoints: the three key namings load identically; CPU and GPU backends give identical strings', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const load = (n: string) =>
      hyperpriorParams(readCheckpoint(new Uint8Array(readFileSync(resolve(GOLDEN, `compressai/keys/${n}`)))).tensors);
    const ps = ['tiny_keys_v1.0.pth.tar', 'tiny_keys_v1.1.pth.tar', 'tiny_keys_current.pth.tar'].map(load);
    const codecs = await Promise.all(ps.map((p) => HyperpriorCodec.create(p, cpu)));
    expect([ps[2]!.C, ps[2]!.N, ps[2]!.M]).toEqual([64, 16, 24]);
    for (const c of codecs) expect(Array.from(c.fingerprint)).toEqual(Array.from(codecs[2]!.fingerprint));
    const r = rng(9);
    const x = Float32Array.from({ length: 64 * 64 * 128 }, () => Math.fround(Math.round(r() * 255) / 255));
    const rc = await codecs[2]!.compress(x, { shape: [64, 64, 128] });
    await checked(ctx, 'tiny', async () => {
      const g = await HyperpriorCodec.create(ps[2]!, gpu);
      const rg = await g.compress(x, { shape: [64, 64, 128] });
      expect(firstDiff(rg.strings[0], rc.strings[0])).toBe(-1);
      expect(firstDiff(rg.strings[1], rc.strings[1])).toBe(-1);
      for (const mode of ['compat', 'portable'] as const) {
        const rgm = await g.compress(x, { shape: [64, 64, 128], mode });
        const rcm = mode === 'compat' ? rc : await codecs[2]!.compress(x, { shape: [64, 64, 128], mode });
        expect(firstDiff(rgm.strings[0], rcm.strings[0]), `${mode} y`).toBe(-1);
        const dg = await g.decompress(rgm.strings, rgm.zShape, { mode });
        const dc = await codecs[2]!.decompress(rcm.strings, rcm.zShape, { mode });
        expect(firstDiff(dg.ySymbols, rgm.ySymbols)).toBe(-1);
        expectClose(await gpu.toCHW(dg.xHat), await cpu.toCHW(dc.xHat), 1e-4, 1e-4, `${mode} x_hat`);
        gpu.release(dg.xHat);
      }
      g.release();
    });
    await expect(codecs[2]!.compress(new Float32Array(64 * 60 * 64), { shape: [64, 60, 64] })).rejects.toThrow(/multiple of 64/);
    await expect(codecs[2]!.compress(new Float32Array(3 * 64 * 64), { shape: [3, 64, 64] })).rejects.toThrow(/channels/);
  });
});

describeGpuGolden('codec weights through the project loader', () => {
  it('loadCodecWeights (canonical tensors) and the raw state dict give the same codec fingerprint and strings', async () => {
    const { loadCodecWeights } = await import('../../src/model/weights/load.ts');
    const path = resolve(GOLDEN, 'compressai/keys/tiny_keys_v1.0.pth.tar');
    const w = await loadCodecWeights(new Uint8Array(readFileSync(path)));
    const a = await HyperpriorCodec.create(w, cpu);
    const b = await HyperpriorCodec.create(hyperpriorParams(readCheckpoint(new Uint8Array(readFileSync(path))).tensors), cpu);
    expect([a.C, a.N, a.M]).toEqual([64, 16, 24]);
    expect(Array.from(a.fingerprint)).toEqual(Array.from(b.fingerprint));
    const x = new Float32Array(64 * 64 * 64).map((_, i) => Math.fround((i % 255) / 255));
    const ra = await a.compress(x, { shape: [1, 64, 64, 64] });
    const rb = await b.compress(x, { shape: [1, 64, 64, 64] });
    expect(firstDiff(ra.strings[0], rb.strings[0])).toBe(-1);
  });
});
