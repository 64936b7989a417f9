// The quality 6-8 shape (N=192, M=320) and an odd channel count, with synthetic weights: shapes come from the
// parameters, the GPU round-trips in both modes, its portable indexes equal the CPU reference's, and g_s matches the
// CPU reference.
import { expect, it } from 'vitest';
import { CdfTables } from '../../src/coder/index.ts';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { gS } from '../../src/model/codec/graph.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import type { ConvParams, GdnParams, HyperpriorParams } from '../../src/model/codec/params.ts';
import { checked, expectClose, gpuContext, randn, rng } from '../helpers/gpu.ts';
import { firstDiff, goldenParams } from './golden.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

function synthetic(C: number, N: number, M: number, seed: number): HyperpriorParams {
  const r = rng(seed);
  const A = goldenParams('compressai/A/model.pth.tar');
  const conv = (name: string, i: number, o: number, k: number, transposed: boolean, gain = 1): ConvParams => ({
    name,
    transposed,
    shape: transposed ? [i, o, k, k] : [o, i, k, k],
    weight: randn(r, i * o * k * k, gain / Math.sqrt((i * k * k) / (transposed ? 4 : 1))),
    bias: randn(r, o, 0.05),
  });
  const gdn = (name: string, inverse: boolean): GdnParams => ({
    name,
    C: N,
    inverse,
    beta: Float32Array.from({ length: N }, () => 0.5 + r()),
    gamma: Float32Array.from({ length: N * N }, (_, i) => (i % (N + 1) === 0 ? 0.1 : r() < 0.1 ? 0.01 * r() : 0)),
  });
  // EB tables: golden A's rows reused cyclically for N channels
  const eb = A.ebTables;
  const rows = Array.from({ length: N }, (_, c) => {
    const s = c % eb.count;
    return eb.cdf.subarray(eb.rowStart[s]!, eb.rowStart[s]! + eb.maxValue[s]! + 2);
  });
  const offsets = Int32Array.from({ length: N }, (_, c) => eb.offsets[c % eb.count]!);
  return {
    C,
    N,
    M,
    gA: {
      convs: [
        conv('g_a.0', C, N, 5, false),
        conv('g_a.2', N, N, 5, false),
        conv('g_a.4', N, N, 5, false),
        conv('g_a.6', N, M, 5, false, 8),
      ],
      gdns: [gdn('g_a.1', false), gdn('g_a.3', false), gdn('g_a.5', false)],
    },
    gS: {
      convs: [conv('g_s.0', M, N, 5, true, 0.2), conv('g_s.2', N, N, 5, true), conv('g_s.4', N, N, 5, true), conv('g_s.6', N, C, 5, true)],
      gdns: [gdn('g_s.1', true), gdn('g_s.3', true), gdn('g_s.5', true)],
    },
    hA: [conv('h_a.0', M, N, 3, false), conv('h_a.2', N, N, 5, false), conv('h_a.4', N, N, 5, false, 4)],
    hS: [conv('h_s.0', N, N, 5, true), conv('h_s.2', N, N, 5, true), conv('h_s.4', N, M, 3, false, 3)],
    medians: Float32Array.from({ length: N }, () => Math.fround(r() * 2 - 1)),
    ebTables: CdfTables.from(
      rows,
      rows.map((x) => x.length),
      offsets,
    ),
    gcTables: A.gcTables,
    scaleTable: A.scaleTable,
    scaleBound: A.scaleBound,
  };
}

describeGpuGolden('codec shapes from the parameters (N=192, M=320; odd C)', () => {
  for (const [C, N, M, H, W] of [
    [64, 192, 320, 64, 128],
    [5, 24, 40, 128, 64],
  ] as const) {
    it(`C=${C} N=${N} M=${M}, input ${H}x${W}`, async () => {
      const ctx = await gpuContext();
      const gpu = new GpuCodecBackend(ctx);
      const cpu = new CpuCodecBackend();
      const p = synthetic(C, N, M, N + C);
      const r = rng(7);
      const x = Float32Array.from({ length: C * H * W }, () => Math.fround(Math.round(r() * 255) / 255));
      const cc = await HyperpriorCodec.create(p, cpu);
      await checked(ctx, 'wide', async () => {
        const g = await HyperpriorCodec.create(p, gpu);
        expect([g.C, g.N, g.M]).toEqual([C, N, M]);
        for (const mode of ['compat', 'portable'] as const) {
          const e = await g.compress(x, { shape: [1, C, H, W], mode });
          expect(e.zShape).toEqual([H / 64, W / 64]);
          expect(e.yShape).toEqual([M, H / 16, W / 16]);
          const d = await g.decompress(e.strings, e.zShape, { mode });
          expect(firstDiff(d.ySymbols, e.ySymbols), `${mode} y symbols`).toBe(-1);
          expect(firstDiff(d.yIndexes, e.yIndexes), `${mode} indexes`).toBe(-1);
          if (mode === 'portable') {
            const ref = await cc.indexesFromZSymbols(e.zSymbols, e.zShape, 'portable');
            expect(firstDiff(e.yIndexes, ref), 'portable indexes GPU vs CPU').toBe(-1);
          } else {
            // g_s on the GPU vs the CPU reference from the same y_hat
            const yh = cpu.dequantize(cpu.fromCHWInt(d.ySymbols, M, H / 16, W / 16), null);
            const ref = await cpu.toCHW(gS(cpu, cc.layers, yh));
            const got = await gpu.toCHW(d.xHat);
            let scale = 0;
            for (const v of ref) scale = Math.max(scale, Math.abs(v));
            expectClose(got, ref, 1e-4 * Math.max(1, scale), 1e-4, 'g_s');
          }
          gpu.release(d.xHat);
          console.log(`C=${C} N=${N} M=${M} ${mode}: y ${e.strings[0].length} B, z ${e.strings[1].length} B`);
        }
        g.release();
      });
    });
  }
});
