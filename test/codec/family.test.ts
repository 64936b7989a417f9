// CompressAI's codec family against golden cases made by CompressAI's own code (tools/make-codec-family.py →
// test/fixtures/codec-family): mbt2018-mean, bmshj2018-hyperprior-vbr and mbt2018-mean-vbr, the VBR models at three
// levels and one continuous scale. Strings byte for byte; x_hat within 1e-4 (abs) + 1e-4 (rel) of CompressAI's.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { readNpy } from '../../src/io/npy.ts';
import { HyperpriorCodec, type RateOptions } from '../../src/model/codec/codec.ts';
import { hyperpriorParams } from '../../src/model/codec/params.ts';
import { CODEC_ARCHITECTURES, recognizeArchitecture } from '../../src/model/codec/registry.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { codecWeightsFromRaw, weightsConfig } from '../../src/model/weights/load.ts';
import type { Tensor } from '../../src/model/backend.ts';
import type { CodecOps } from '../../src/model/codec/ops.ts';
import { FIXTURES_ROOT } from '../helpers/golden.ts';
import { checked, describeGpu, expectClose, gpuContext } from '../helpers/gpu.ts';

const D = resolve(FIXTURES_ROOT, 'codec-family');
interface Case { model: string; setting: string; gain: number | null; z_shape: [number, number]; y_bytes: number }
const manifest = JSON.parse(readFileSync(resolve(D, 'manifest.json'), 'utf8')) as { cases: Case[]; x_hat_sample_stride: number; input: { shape: number[] } };
const bytes = (rel: string) => new Uint8Array(readFileSync(resolve(D, rel)));
const npy = (rel: string) => readNpy(bytes(rel));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const shape = manifest.input.shape.slice(1) as [number, number, number];
const x = Float32Array.from(npy('x_u8.npy').data as ArrayLike<number>, (k) => Math.fround(k / 255));
const rateOf = (setting: string): RateOptions =>
  setting.startsWith('level') ? { level: Number(setting.slice(5)) } : setting.startsWith('scale') ? { scale: Number(setting.slice(5)) } : {};
const weights = (model: string) => codecWeightsFromRaw(readCheckpoint(bytes(`${model}/model.pth.tar`)));
const MODELS = [...new Set(manifest.cases.map((c) => c.model))];
const XHAT_ATOL = 1e-4, XHAT_RTOL = 1e-4;

async function checkCases<T extends Tensor>(ops: CodecOps<T>, read: (t: T) => Promise<Float32Array>): Promise<number> {
  let n = 0;
  for (const model of MODELS) {
    const codec = await HyperpriorCodec.create(weights(model), ops);
    expect(codec.architecture).toBe(model);
    for (const c of manifest.cases.filter((k) => k.model === model)) {
      const what = `${model} ${c.setting}`;
      const r = await codec.compress(x, { shape, ...rateOf(c.setting) });
      expect(r.gain, what).toBe(c.gain === null ? 1 : Math.fround(c.gain));
      expect(hex(r.strings[0]), `${what} y`).toBe(hex(bytes(`${model}/${c.setting}/y_string.bin`)));
      expect(hex(r.strings[1]), `${what} z`).toBe(hex(bytes(`${model}/${c.setting}/z_string.bin`)));
      expect(r.zShape).toEqual(c.z_shape);
      // decode CompressAI's own strings at the recorded gain
      const d = await codec.decompress([bytes(`${model}/${c.setting}/y_string.bin`), bytes(`${model}/${c.setting}/z_string.bin`)], r.zShape, { gain: r.gain });
      expect(Array.from(d.ySymbols)).toEqual(Array.from(npy(`${model}/${c.setting}/y_symbols.npy`).data as Int32Array));
      const xHat = await read(d.xHat);
      ops.release(d.xHat);
      const ref = npy(`${model}/${c.setting}/x_hat_sample.npy`).data as Float32Array;
      const s = manifest.x_hat_sample_stride;
      expectClose(Float32Array.from(ref, (_, i) => xHat[i * s]!), ref, XHAT_ATOL, XHAT_RTOL, `${what} x_hat`);
      n++;
    }
    codec.release();
  }
  return n;
}

describe('codec family: registry and architecture recognition', () => {
  it('recognises each golden model from its state-dict keys and shapes, and inspect-style config names it', () => {
    for (const model of MODELS) {
      const raw = readCheckpoint(bytes(`${model}/model.pth.tar`));
      expect(recognizeArchitecture((n) => raw.tensors.get(n)?.shape)).toBe(model);
      expect(weightsConfig(weights(model))).toEqual({ architecture: model, C: 64, N: 16, M: 24 });
    }
    expect(MODELS.sort()).toEqual(CODEC_ARCHITECTURES.filter((a) => a !== 'bmshj2018-hyperprior').sort());
  });
  it('covers three levels and one continuous scale for each VBR model', () => {
    for (const model of MODELS.filter((m) => m.endsWith('-vbr'))) {
      const s = manifest.cases.filter((c) => c.model === model).map((c) => c.setting);
      expect(s.filter((v) => v.startsWith('level')).length).toBeGreaterThanOrEqual(3);
      expect(s.filter((v) => v.startsWith('scale')).length).toBeGreaterThanOrEqual(1);
      // the rate really changes with the gain
      const sizes = manifest.cases.filter((c) => c.model === model).map((c) => c.y_bytes);
      expect(new Set(sizes).size).toBe(sizes.length);
    }
  });
  it('rate options: fixed-rate models refuse a level or scale naming the VBR models; bad levels and scales are clear errors', async () => {
    const cpu = new CpuCodecBackend();
    const fixed = await HyperpriorCodec.create(weights('mbt2018-mean'), cpu);
    expect(() => fixed.gainFor({ level: 1 })).toThrow(/fixed-rate model.*bmshj2018-hyperprior-vbr, mbt2018-mean-vbr/);
    expect(() => fixed.gainFor({ scale: 0.5 })).toThrow(/fixed-rate/);
    const vbr = await HyperpriorCodec.create(weights('bmshj2018-hyperprior-vbr'), cpu);
    expect(vbr.gains.length).toBe(8);
    expect(vbr.gainFor()).toBe(vbr.gains[7]);
    expect(() => vbr.gainFor({ level: 8 })).toThrow(/outside 0\.\.7/);
    expect(() => vbr.gainFor({ level: 1.5 })).toThrow(/outside/);
    for (const s of [0, -1, NaN, Infinity, 1e60]) expect(() => vbr.gainFor({ scale: s }), String(s)).toThrow(/scale/);
    expect(() => vbr.gainFor({ level: 1, scale: 1 })).toThrow(/not both/);
  });
  it('a raw state dict and the loader\'s canonical tensors give the same parameters and fingerprint', async () => {
    const cpu = new CpuCodecBackend();
    for (const model of MODELS) {
      const a = await HyperpriorCodec.create(weights(model), cpu);
      const b = await HyperpriorCodec.create(hyperpriorParams(readCheckpoint(bytes(`${model}/model.pth.tar`)).tensors), cpu);
      expect(hex(a.fingerprint)).toBe(hex(b.fingerprint));
    }
  });
});

describe('codec family: CPU reference against CompressAI', () => {
  it('strings byte for byte, CompressAI\'s strings decode, x_hat within tolerance (every model and rate)', async () => {
    const cpu = new CpuCodecBackend();
    expect(await checkCases(cpu, (t) => cpu.toCHW(t))).toBe(manifest.cases.length);
  }, 120_000);
  it('portable mode, every model: round trip at each rate, the gain changes the indexes, close to compat', async () => {
    const cpu = new CpuCodecBackend();
    for (const model of MODELS) {
      const codec = await HyperpriorCodec.create(weights(model), cpu);
      const seen = new Set<string>();
      const rates: RateOptions[] = codec.spec.vbr ? [{ level: 0 }, { level: 7 }, { scale: 0.45 }] : [{}];
      for (const rate of rates) {
        const r = await codec.compress(x, { shape, mode: 'portable', ...rate });
        const d = await codec.decompress(r.strings, r.zShape, { mode: 'portable', gain: r.gain });
        expect(Array.from(d.ySymbols), model).toEqual(Array.from(r.ySymbols));
        seen.add(hex(new Uint8Array(r.yIndexes.buffer)));
        // the fixed-point h_s picks (nearly) the same Gaussian rows as the float one
        const c = await codec.compress(x, { shape, mode: 'compat', ...rate });
        let diff = 0, step = 0;
        for (let i = 0; i < c.yIndexes.length; i++) if (c.yIndexes[i] !== r.yIndexes[i]) { diff++; step = Math.max(step, Math.abs(c.yIndexes[i]! - r.yIndexes[i]!)); }
        expect(diff / c.yIndexes.length, `${model} ${JSON.stringify(rate)} index flips`).toBeLessThan(0.05);
        expect(step, `${model} index step`).toBeLessThanOrEqual(1);
      }
      expect(seen.size).toBe(rates.length);
    }
  }, 120_000);
});

describeGpu('codec family on the GPU (WGSL) against CompressAI', () => {
  it('strings byte for byte, CompressAI\'s strings decode, x_hat within tolerance (every model and rate)', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const n = await checked(ctx, 'codec family', () => checkCases(gpu, (t) => gpu.toCHW(t)));
    expect(n).toBe(manifest.cases.length);
  }, 120_000);
  it('portable mode, every model: GPU and CPU indexes and strings identical; each decodes the other\'s stream', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const cpu = new CpuCodecBackend();
    await checked(ctx, 'family portable', async () => {
      for (const model of MODELS) {
        const g = await HyperpriorCodec.create(weights(model), gpu);
        const c = await HyperpriorCodec.create(weights(model), cpu);
        const rates: RateOptions[] = g.spec.vbr ? [{ level: 2 }, { scale: 0.7 }] : [{}];
        for (const rate of rates) {
          const rg = await g.compress(x, { shape, mode: 'portable', ...rate });
          const rc = await c.compress(x, { shape, mode: 'portable', ...rate });
          expect(Array.from(rg.yIndexes), `${model} indexes`).toEqual(Array.from(rc.yIndexes));
          expect(hex(rg.strings[0]), `${model} y`).toBe(hex(rc.strings[0]));
          expect(hex(rg.strings[1]), `${model} z`).toBe(hex(rc.strings[1]));
          const dg = await g.decompress(rc.strings, rc.zShape, { mode: 'portable', gain: rc.gain });
          expect(Array.from(dg.ySymbols)).toEqual(Array.from(rc.ySymbols));
          gpu.release(dg.xHat);
        }
        g.release();
      }
    });
  }, 240_000);
});
