// webvcm tune's pieces: keys, candidates and the winner (pure), the cache file round trip, and a tuned variant
// installed on a context being what conv2d runs (and still correct vs the CPU reference).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conv2dRef } from '../../src/cpu/conv.ts';
import { EXAMPLE_ADAPTERS } from '../../src/gpu/adapter-class.ts';
import {
  adapterOf,
  conv2d,
  convVariantProblem,
  prepareConv,
  selectConvVariant,
  type ConvGeometry,
  type ConvVariant,
} from '../../src/gpu/ops/conv.ts';
import {
  adapterKey,
  convCandidates,
  geometryKey,
  installTuning,
  pickWinner,
  recordConvGeometries,
  stopRecording,
} from '../../src/gpu/tuning.ts';
import { applyTuneCache, loadTuneCache, saveTuneTable } from '../../src/gpu/tuning-node.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../helpers/gpu.ts';

const g: ConvGeometry = { M: 64 * 80, C: 128, OC: 192, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2, transposed: false };

describe('tuning (pure)', () => {
  it('keys name every field the selector reads', () => {
    expect(geometryKey(g)).toBe('M5120 C128 OC192 k5x5 s2x2 p2x2');
    expect(geometryKey({ ...g, outMap: true })).not.toBe(geometryKey(g));
    expect(geometryKey({ ...g, transposed: true })).not.toBe(geometryKey(g));
    const info = {
      backend: 'node-dawn' as const,
      vendor: 'mesa',
      architecture: 'software',
      device: '',
      description: 'llvmpipe: Mesa 25.0.7',
    };
    expect(adapterKey(info)).not.toBe(adapterKey({ ...info, description: 'llvmpipe: Mesa 25.1.0' })); // driver in the key
  });
  it('candidates: the selector first, every class represented, all valid, no duplicates', () => {
    for (const a of Object.values(EXAMPLE_ADAPTERS)) {
      const c = convCandidates(g, a);
      expect(c[0]).toEqual(selectConvVariant(g, a));
      expect(new Set(c.map((v) => JSON.stringify(v))).size).toBe(c.length);
      expect(c.length).toBeGreaterThanOrEqual(3);
      for (const v of c)
        expect(convVariantProblem(v, g, { maxInvocations: a.maxInvocations, maxWorkgroupStorage: a.maxWorkgroupStorage })).toBeNull();
    }
  });
  it('winner by median; ties keep the first', () => {
    const a = { TM: 1 } as unknown as ConvVariant,
      b = { TM: 2 } as unknown as ConvVariant;
    expect(
      pickWinner([
        { variant: a, ms: [5, 1, 5] },
        { variant: b, ms: [4, 4, 9] },
      ]).variant,
    ).toBe(b);
    expect(
      pickWinner([
        { variant: a, ms: [3] },
        { variant: b, ms: [3] },
      ]).variant,
    ).toBe(a);
    expect(() => pickWinner([])).toThrow();
  });
  it('a missing or corrupt cache file reads as empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-tune-'));
    expect(loadTuneCache(join(dir, 'none.json')).adapters).toEqual({});
    writeFileSync(join(dir, 'bad.json'), '{not json');
    expect(loadTuneCache(join(dir, 'bad.json')).adapters).toEqual({});
  });
});

describeGpu('tuned variants at run time', () => {
  it('conv2d records its geometry, runs an installed tuned variant (cache round trip) and stays correct', async () => {
    const ctx = await gpuContext();
    const s = { c: 8, h: 11, w: 9, oc: 13 };
    const r = rng(4242);
    const x = randn(r, s.c * s.h * s.w),
      w = randn(r, s.oc * s.c * 9, 1 / Math.sqrt(s.c * 9)),
      b = randn(r, s.oc, 0.1);
    const ref = conv2dRef({ data: x, c: s.c, h: s.h, w: s.w }, w, [s.oc, s.c, 3, 3], b, { pad: 1 }).data;
    await checked(ctx, 'tuned conv', async () => {
      const xt = ctx.uploadCHW(x, s.c, s.h, s.w);
      const cw = prepareConv(ctx, w, [s.oc, s.c, 3, 3], b);
      const rec = recordConvGeometries(ctx);
      conv2d(ctx, xt, cw, { pad: 1 }).release();
      stopRecording(ctx);
      expect(rec.size).toBe(1);
      const [key, rep] = [...rec][0]!;
      // a variant the selector would not pick here (the discrete-GPU tile), stored and applied through the cache file
      const tuned = selectConvVariant({ ...rep.geom, M: 200 }, EXAMPLE_ADAPTERS['nvidia-hopper']!);
      expect(tuned).not.toEqual(selectConvVariant(rep.geom, adapterOf(ctx)));
      const file = join(mkdtempSync(join(tmpdir(), 'webvcm-tune-')), 'tune.json');
      saveTuneTable(ctx, { [key]: tuned }, file);
      expect(applyTuneCache(ctx, file)).toBe(1);
      const before = ctx.pipelineCount;
      const y = conv2d(ctx, xt, cw, { pad: 1 });
      expect(ctx.pipelineCount).toBe(before + 1); // a new pipeline: the tuned variant's
      expectClose(await ctx.readCHW(y), ref, 1e-4, 1e-4, `tuned ${JSON.stringify(tuned)}`);
      y.release();
      installTuning(ctx, {});
      xt.release();
      cw.release();
    });
  });
});
