// Pipeline golden P_A in 'portable' mode (h_s → indexes in exact integer arithmetic) on the GPU:
// - from the stored q8.npy (methods 1 and 2): y_symbols and z_symbols identical to the golden (compat) ones — y does
//   not depend on the mode —, the z string identical (same EntropyBottleneck tables), an exact round trip (decoded
//   symbols and indexes equal the encoder's), x̂ within 1e-4 of x_hat.npy, indexes at most one scale-table row from
//   compat's; the rate cost (bytes portable vs compat) is printed;
// - from the image through createEncoder({ mode: 'portable' }) → createDecoder: the decoded y_symbols equal those of
//   the compat encoder's stream, so F̂ and the detections are bit-identical to the compat stream's.
import { expect, it } from 'vitest';
import { createEncoder } from '../../src/api/index.ts';
import { readContainer } from '../../src/coder/index.ts';
import { computePadding } from '../../src/model/codec/features.ts';
import { checked } from '../helpers/gpu.ts';
import {
  MAX_SIZE,
  MIN_SIZE,
  bytesEqual,
  cropCHW,
  goldenImage,
  idealBits,
  loadRun,
  maxAbsDiff,
  padCHW,
  xFromQ8,
  firstDiff,
  usePipelineFixture,
} from '../helpers/pipeline.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

describeGpuGolden('pipeline golden P_A, portable mode (GPU)', () => {
  const fx = usePipelineFixture();

  for (const m of ['m1', 'm2'] as const) {
    const g0 = () => loadRun(m);
    it(`${m}: portable mode from q8.npy — same y_symbols as compat, exact round trip, rate cost`, async () => {
      const g = g0();
      const { Hf, Wf } = g.quant;
      const pad = computePadding(Hf, Wf);
      const [Hc, Wc] = [Hf + pad[0] + pad[2], Wf + pad[1] + pad[3]];
      const x = padCHW(xFromQ8(g.q8), 64, Hf, Wf, pad);
      const ctx = fx.backend.ctx;
      const p = await checked(ctx, `${m} portable compress`, () => fx.codec.compress(x, { shape: [1, 64, Hc, Wc], mode: 'portable' }));
      expect(firstDiff(p.ySymbols, g.ySymbols), 'portable y_symbols vs golden (compat)').toBe('identical');
      expect(firstDiff(p.zSymbols, g.zSymbols), 'portable z_symbols vs golden').toBe('identical');
      const d = await checked(ctx, `${m} portable decompress`, () => fx.codec.decompress(p.strings, p.zShape, { mode: 'portable' }));
      expect(firstDiff(d.ySymbols, g.ySymbols), 'portable decoded y_symbols').toBe('identical');
      expect(firstDiff(d.yIndexes, p.yIndexes), 'portable decoded y_indexes').toBe('identical');
      expect(firstDiff(d.zSymbols, g.zSymbols), 'portable decoded z_symbols').toBe('identical');
      const xHat = cropCHW(await fx.codec.ops.toCHW(d.xHat), 64, Hc, Wc, pad[0], pad[1], Hf, Wf);
      fx.codec.ops.release(d.xHat);
      const dx = maxAbsDiff(xHat, g.xHat);
      let idxDiff = 0,
        idxMax = 0;
      for (let i = 0; i < p.yIndexes.length; i++)
        if (p.yIndexes[i] !== g.yIndexes[i]) {
          idxDiff++;
          idxMax = Math.max(idxMax, Math.abs(p.yIndexes[i]! - g.yIndexes[i]!));
        }
      const compat = g.yString.length + g.zString.length,
        portable = p.strings[0].length + p.strings[1].length;
      const bitsC = idealBits(g.ySymbols, g.yIndexes, fx.codec.params.gcTables),
        bitsP = idealBits(p.ySymbols, p.yIndexes, fx.codec.params.gcTables);
      // The coded y string is within one 32-bit word (+ the 4-byte final state) of its ideal length.
      expect(Math.abs(8 * g.yString.length - bitsC)).toBeLessThanOrEqual(96);
      expect(Math.abs(8 * p.strings[0].length - bitsP)).toBeLessThanOrEqual(96);
      console.log(
        `P_A ${m} portable from q8.npy: y ${p.strings[0].length} B + z ${p.strings[1].length} B = ${portable} B vs compat ${compat} B ` +
          `(${(((portable - compat) / compat) * 100).toFixed(2)} %); ideal y bits ${bitsP.toFixed(1)} vs ${bitsC.toFixed(1)} ` +
          `(${(((bitsP - bitsC) / bitsC) * 100).toFixed(3)} %); y_indexes differing from compat: ${idxDiff}/${p.yIndexes.length} (max |Δ| ${idxMax}); ` +
          `max |Δx̂| vs golden ${dx.toExponential(2)}; y string identical to compat's: ${bytesEqual(p.strings[0], g.yString)}`,
      );
      // z is coded with the per-channel EntropyBottleneck tables in both modes.
      expect(bytesEqual(p.strings[1], g.zString)).toBe(true);
      // Same y_hat → same g_s: x̂ as close to the golden as compat's.
      expect(dx).toBeLessThanOrEqual(1e-4);
      // The portable index path may pick a neighbouring scale-table row, never a far one.
      expect(idxMax).toBeLessThanOrEqual(1);
    });
  }

  it('method 2 from the image: createEncoder portable vs compat → same y_symbols, bit-identical F̂ and detections', async () => {
    const ctx = fx.backend.ctx;
    const img = goldenImage();
    const encode = async (mode: 'compat' | 'portable') => {
      const enc = await createEncoder({
        detector: fx.detW,
        codec: fx.codecW,
        device: ctx.device,
        method: 2,
        mode,
        minSize: MIN_SIZE,
        maxSize: MAX_SIZE,
      });
      try {
        return await checked(ctx, `encode ${mode}`, () => enc.encode(img));
      } finally {
        enc.dispose();
      }
    };
    const rc = await encode('compat');
    const rp = await encode('portable');
    const cc = readContainer(rc.bytes),
      cp = readContainer(rp.bytes);
    expect(cc.mode).toBe('compat');
    expect(cp.mode).toBe('portable');
    expect(cp.mn).toBe(cc.mn);
    expect(cp.mx).toBe(cc.mx);
    expect(cp.zShape).toEqual(cc.zShape);
    const dc = await checked(ctx, 'decompress compat', () => fx.codec.decompress([cc.yString, cc.zString], cc.zShape, { mode: 'compat' }));
    const dp = await checked(ctx, 'decompress portable', () =>
      fx.codec.decompress([cp.yString, cp.zString], cp.zShape, { mode: 'portable' }),
    );
    fx.codec.ops.release(dc.xHat);
    fx.codec.ops.release(dp.xHat);
    expect(firstDiff(dp.ySymbols, dc.ySymbols), 'y_symbols portable vs compat').toBe('identical');
    expect(firstDiff(dp.zSymbols, dc.zSymbols), 'z_symbols portable vs compat').toBe('identical');
    const fc = await checked(ctx, 'decode compat', () => fx.decoder.decode(rc.bytes, { returnFeatures: true }));
    const fp = await checked(ctx, 'decode portable', () => fx.decoder.decode(rp.bytes, { returnFeatures: true }));
    expect(maxAbsDiff(fp.features!.data, fc.features!.data)).toBe(0);
    expect(fp.sizes).toEqual(fc.sizes);
    expect(fp.detections.boxes).toEqual(fc.detections.boxes);
    expect(fp.detections.scores).toEqual(fc.detections.scores);
    expect(fp.detections.classes).toEqual(fc.detections.classes);
    const sc = rc.stringBytes.y + rc.stringBytes.z,
      sp = rp.stringBytes.y + rp.stringBytes.z;
    console.log(
      `P_A m2 from the image: strings compat ${sc} B (y ${rc.stringBytes.y}, z ${rc.stringBytes.z}) vs portable ${sp} B ` +
        `(y ${rp.stringBytes.y}, z ${rp.stringBytes.z}): ${(((sp - sc) / sc) * 100).toFixed(2)} %; containers ${rc.bytes.length} vs ${rp.bytes.length} B; ` +
        `y strings identical ${bytesEqual(cc.yString, cp.yString)}; ${fp.detections.scores.length} detections, identical`,
    );
  });
});
