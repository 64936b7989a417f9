// Pipeline golden P_A (real Detectron2 + CompressAI chained by the codec contract), codec stage from the stored
// q8.npy, methods 1 and 2, on the GPU:
// - host contract: stem.npy → q8 step reproduces q8.npy exactly (float32 true division, round half to even), and
//   x = q8/255, F̂ = clamp(x_hat.npy)·range + mn hash to the manifest's recomputable_not_stored sha256;
// - compat compress of x = q8/255 (padded for m1 with CompressAI's compute_padding split): y/z strings
//   byte-identical, y_symbols, z_symbols, y_indexes identical (README: every coded value ≥ 8× its float32 error
//   away from a decision boundary, so exact equality is the right assertion);
// - the golden F̂ (clamp(x_hat.npy)·range + mn, float32) through Detector.fromStem with quant.json's sizes: detections
//   one to one with detections_*.npy (IoU ≥ 0.99, same class, |Δscore| ≤ 1e-3);
// - the public decoder on a container holding the golden strings: decoded symbols identical, x̂ within 1e-4 of
//   x_hat.npy (float32 g_s in another summation order; x̂ is O(1), so 1e-4 is ~100× float32 noise), F̂ equal to the
//   contract applied to the golden x̂ within 1e-4·range, the sizes the receiver gets equal quant.json's, and the
//   detections from F̂ (Detector.fromStem inside the decoder) one to one with detections_*.npy (IoU ≥ 0.99, same
//   class, |Δscore| ≤ 1e-3);
// Portable mode: portable.golden.test.ts; from the image: e2e.golden.test.ts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { readContainer, writeContainer } from '../../src/coder/index.ts';
import { GpuDetectorBackend } from '../../src/gpu/detector-backend.ts';
import type { GpuTensor } from '../../src/gpu/tensor.ts';
import { computePadding, method2Size } from '../../src/model/codec/features.ts';
import { Detector } from '../../src/model/detector/detector.ts';
import { checked, gpuContext } from '../helpers/gpu.ts';
import {
  PIPE,
  MAX_SIZE,
  MIN_SIZE,
  bytesEqual,
  cropCHW,
  describeMatch,
  hostFhat,
  hostQ8,
  loadRun,
  matchDetections,
  maxAbsDiff,
  padCHW,
  xFromQ8,
  type GoldenRun,
  type Method,
  firstDiff,
  usePipelineFixture,
} from '../helpers/pipeline.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

describeGpuGolden('pipeline golden P_A: codec from the stored q8 (GPU)', () => {
  const fx = usePipelineFixture();
  let detector: Detector<GpuTensor>;
  const runs = {} as Record<Method, GoldenRun>;

  beforeAll(async () => {
    detector = await Detector.create(fx.detW, new GpuDetectorBackend(await gpuContext()), { minSize: MIN_SIZE, maxSize: MAX_SIZE });
    runs.m1 = loadRun('m1');
    runs.m2 = loadRun('m2');
    return () => {
      detector.dispose();
    };
  });

  for (const m of ['m1', 'm2'] as const) {
    it(`${m}: contract sizes and the host q8 step reproduce quant.json and q8.npy exactly`, () => {
      const g = runs[m];
      const [H, W] = g.quant.original_hw;
      expect([H, W]).toEqual([300, 451]);
      if (m === 'm2') expect(method2Size(320, 481)).toEqual(g.quant.resized_hw);
      const [t, l, b, r] = computePadding(g.quant.Hf, g.quant.Wf);
      expect({ top: t, left: l, bottom: b, right: r }).toEqual({
        top: g.quant.padding.top,
        left: g.quant.padding.left,
        bottom: g.quant.padding.bottom,
        right: g.quant.padding.right,
      });
      const h = hostQ8(g.stem);
      expect(h.mn).toBe(0);
      expect(h.mx).toBe(g.quant.mx);
      expect(h.scale).toBe(g.quant.scale);
      expect(firstDiff(h.q, g.q8)).toBe('identical');
      // x = q8/255 and F̂ = clamp(x̂,0,1)·range + mn (float32, no FMA) bit-exact: manifest's recomputable_not_stored.
      const rec = (
        JSON.parse(readFileSync(resolve(PIPE, '../manifest.json'), 'utf8')) as {
          cases: { P_A: { runs: Record<string, { recomputable_not_stored: Record<'x' | 'fhat', { sha256_raw_float32_le: string }> }> } };
        }
      ).cases.P_A.runs[m]!.recomputable_not_stored;
      const sha = (a: Float32Array) =>
        createHash('sha256')
          .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
          .digest('hex');
      expect(sha(xFromQ8(g.q8)), 'x = q8/255').toBe(rec.x.sha256_raw_float32_le);
      expect(sha(hostFhat(g.xHat, 0, g.quant.range)), 'F̂ from x_hat.npy').toBe(rec.fhat.sha256_raw_float32_le);
    });

    it(`${m}: compat compress of q8/255 → strings, symbols and indexes identical to CompressAI's`, async () => {
      const g = runs[m];
      const { Hf, Wf } = g.quant;
      const pad = computePadding(Hf, Wf);
      const [Hc, Wc] = [Hf + pad[0] + pad[2], Wf + pad[1] + pad[3]];
      expect([Hc, Wc]).toEqual(g.quant.codec_input_hw);
      const x = padCHW(xFromQ8(g.q8), 64, Hf, Wf, pad);
      const r = await checked(fx.backend.ctx, `${m} compress`, () => fx.codec.compress(x, { shape: [1, 64, Hc, Wc], mode: 'compat' }));
      expect(r.zShape).toEqual(g.bpp.compress_shape);
      expect(r.yShape).toEqual(g.yShape);
      expect(firstDiff(r.ySymbols, g.ySymbols), 'y_symbols').toBe('identical');
      expect(firstDiff(r.zSymbols, g.zSymbols), 'z_symbols').toBe('identical');
      expect(firstDiff(r.yIndexes, g.yIndexes), 'y_indexes').toBe('identical');
      console.log(
        `P_A ${m} compat from q8.npy: y ${r.strings[0].length} B (golden ${g.yString.length}), z ${r.strings[1].length} B (golden ${g.zString.length}), ` +
          `y identical ${bytesEqual(r.strings[0], g.yString)}, z identical ${bytesEqual(r.strings[1], g.zString)}`,
      );
      expect(bytesEqual(r.strings[0], g.yString), 'y string byte-identical').toBe(true);
      expect(bytesEqual(r.strings[1], g.zString), 'z string byte-identical').toBe(true);
    });

    it(`${m}: golden F̂ (contract on x_hat.npy) → Detector.fromStem with quant.json's sizes matches detections_*.npy`, async () => {
      const g = runs[m];
      const ops = detector.ops as GpuDetectorBackend;
      const fhat = hostFhat(g.xHat, 0, g.quant.range);
      const got = await checked(ops.ctx, `${m} fromStem`, async () => {
        const t = ops.fromCHW(fhat, 64, g.quant.Hf, g.quant.Wf);
        try {
          return await detector.fromStem(t, g.sizes);
        } finally {
          ops.release(t);
        }
      });
      const mt = matchDetections(g.dets, got);
      console.log(describeMatch(`P_A ${m} Detector.fromStem(golden F̂)`, g.dets, got, mt));
      expect(mt.unmatchedRef, 'unmatched golden detections').toEqual([]);
      expect(mt.unmatchedGot, 'extra detections').toEqual([]);
    });

    it(`${m}: golden strings → public decoder: symbols, x̂ (≤ 1e-4), F̂ and detections match the golden`, async () => {
      const g = runs[m];
      const { Hf, Wf } = g.quant;
      const pad = computePadding(Hf, Wf);
      const [Hc, Wc] = [Hf + pad[0] + pad[2], Wf + pad[1] + pad[3]];
      const ctx = fx.backend.ctx;
      // Codec level: decompress CompressAI's strings.
      const d = await checked(ctx, `${m} decompress`, () =>
        fx.codec.decompress([g.yString, g.zString], g.bpp.compress_shape, { mode: 'compat' }),
      );
      expect(firstDiff(d.zSymbols, g.zSymbols), 'decoded z_symbols').toBe('identical');
      expect(firstDiff(d.yIndexes, g.yIndexes), 'decoded y_indexes').toBe('identical');
      expect(firstDiff(d.ySymbols, g.ySymbols), 'decoded y_symbols').toBe('identical');
      const xHatFull = await fx.codec.ops.toCHW(d.xHat);
      fx.codec.ops.release(d.xHat);
      const xHat = cropCHW(xHatFull, 64, Hc, Wc, pad[0], pad[1], Hf, Wf);
      const dx = maxAbsDiff(xHat, g.xHat);
      // Library level: the same strings in a container → createDecoder().decode (F̂, then Detector.fromStem).
      const bytes = writeContainer({
        mode: 'compat',
        method: g.quant.method,
        fingerprint: fx.codec.fingerprint,
        originalSize: g.quant.original_hw,
        resizedSize: g.quant.resized_hw,
        featureShape: [64, Hf, Wf],
        padding: pad,
        mn: 0,
        mx: g.quant.mx,
        zShape: g.bpp.compress_shape,
        yString: g.yString,
        zString: g.zString,
      });
      expect(readContainer(bytes).yString).toEqual(g.yString);
      const res = await checked(ctx, `${m} decode`, () => fx.decoder.decode(bytes, { returnFeatures: true }));
      expect(res.sizes).toEqual(g.sizes);
      expect(res.features!.shape).toEqual([64, Hf, Wf]);
      const fRef = hostFhat(g.xHat, 0, g.quant.range);
      const dF = maxAbsDiff(res.features!.data, fRef);
      const mt = matchDetections(g.dets, res.detections);
      console.log(
        `P_A ${m} decode of the golden strings: max |Δx̂| ${dx.toExponential(2)}, max |ΔF̂| ${dF.toExponential(2)} (range ${g.quant.range.toFixed(4)})`,
      );
      console.log(describeMatch(`P_A ${m} detections from F̂`, g.dets, res.detections, mt));
      expect(dx).toBeLessThanOrEqual(1e-4);
      expect(dF).toBeLessThanOrEqual(1e-4 * g.quant.range);
      expect(mt.unmatchedRef, 'unmatched golden detections').toEqual([]);
      expect(mt.unmatchedGot, 'extra detections').toEqual([]);
    });
  }
});
