// The wasm backend on the golden cases, against the GPU (lavapipe) and the CPU reference:
// - portable mode is byte-identical across GPU, wasm and CPU: the same y and z strings from the golden q8 input, the
//   same decoded symbols and indexes (the integer h_s path); the decoded x̂ within 1e-4 of the golden;
// - the public API end to end from the image (backend 'wasm' vs 'webgpu', portable): the stem is float, so the
//   containers' min/max (and possibly a few symbols) may differ in the last bits; each backend decodes the other's
//   stream to the same symbols, and the detections match;
// - compat mode: the golden CompressAI strings, x̂ within 1e-4 of the golden, as the GPU tests require;
// - golden detector A on wasm: stem, p2..p6 within the GPU tests' tolerance, detections matching.
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { readContainer } from '../../src/coder/index.ts';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import { computePadding } from '../../src/model/codec/features.ts';
import { Detector } from '../../src/model/detector/detector.ts';
import { loadDetectorWeights } from '../../src/model/weights/index.ts';
import { WasmCodecBackend, WasmDetectorBackend, WasmEngine } from '../../src/wasm/backend.ts';
import { D2, K_REL, f32, goldenNpy, relErr } from '../detector/golden.ts';
import { matchBoxes } from '../detector/match.ts';
import { describeGpuGolden } from '../helpers/golden.ts';
import { checked } from '../helpers/gpu.ts';
import {
  MAX_SIZE, MIN_SIZE, bytesEqual, cropCHW, firstDiff, goldenImage, loadRun, matchDetections, maxAbsDiff, padCHW,
  usePipelineFixture, xFromQ8,
} from '../helpers/pipeline.ts';

describeGpuGolden('wasm backend on the golden cases (vs GPU and CPU reference)', () => {
  const fx = usePipelineFixture();

  for (const m of ['m1', 'm2'] as const) {
    it(`P_A ${m}: portable strings and decoded symbols identical on GPU, wasm and CPU; compat = golden strings`, async () => {
      const g = loadRun(m);
      const { Hf, Wf } = g.quant;
      const pad = computePadding(Hf, Wf);
      const [Hc, Wc] = [Hf + pad[0] + pad[2], Wf + pad[1] + pad[3]];
      const x = padCHW(xFromQ8(g.q8), 64, Hf, Wf, pad);
      const shape: [number, number, number, number] = [1, 64, Hc, Wc];
      const wasm = await HyperpriorCodec.create(fx.codecW, new WasmCodecBackend(await WasmEngine.create()));
      const cpu = await HyperpriorCodec.create(fx.codecW, new CpuCodecBackend());
      try {
        const pg = await checked(fx.backend.ctx, 'gpu portable compress', () => fx.codec.compress(x, { shape, mode: 'portable' }));
        const pw = await wasm.compress(x, { shape, mode: 'portable' });
        const pc = await cpu.compress(x, { shape, mode: 'portable' });
        for (const [name, p] of [['wasm', pw], ['cpu', pc]] as const) {
          expect(bytesEqual(p.strings[0], pg.strings[0]), `${name} y string = GPU's`).toBe(true);
          expect(bytesEqual(p.strings[1], pg.strings[1]), `${name} z string = GPU's`).toBe(true);
          expect(firstDiff(p.yIndexes, pg.yIndexes), `${name} y indexes`).toBe('identical');
        }
        const dg = await checked(fx.backend.ctx, 'gpu portable decompress', () => fx.codec.decompress(pg.strings, pg.zShape, { mode: 'portable' }));
        const dw = await wasm.decompress(pg.strings, pg.zShape, { mode: 'portable' });
        const dc = await cpu.decompress(pg.strings, pg.zShape, { mode: 'portable' });
        for (const [name, d] of [['wasm', dw], ['cpu', dc]] as const) {
          expect(firstDiff(d.ySymbols, dg.ySymbols), `${name} decoded y symbols`).toBe('identical');
          expect(firstDiff(d.yIndexes, dg.yIndexes), `${name} decoded y indexes`).toBe('identical');
          expect(firstDiff(d.zSymbols, dg.zSymbols), `${name} decoded z symbols`).toBe('identical');
        }
        const xw = cropCHW(await wasm.ops.toCHW(dw.xHat), 64, Hc, Wc, pad[0], pad[1], Hf, Wf);
        const xg = cropCHW(await fx.codec.ops.toCHW(dg.xHat), 64, Hc, Wc, pad[0], pad[1], Hf, Wf);
        fx.codec.ops.release(dg.xHat);
        expect(maxAbsDiff(xw, g.xHat), 'wasm portable x̂ vs golden').toBeLessThanOrEqual(1e-4);
        // compat: CompressAI's own strings and x̂
        const cw = await wasm.compress(x, { shape, mode: 'compat' });
        expect(bytesEqual(cw.strings[0], g.yString), 'wasm compat y string = golden').toBe(true);
        expect(bytesEqual(cw.strings[1], g.zString), 'wasm compat z string = golden').toBe(true);
        const dcw = await wasm.decompress(cw.strings, cw.zShape, { mode: 'compat' });
        const xcw = cropCHW(await wasm.ops.toCHW(dcw.xHat), 64, Hc, Wc, pad[0], pad[1], Hf, Wf);
        expect(maxAbsDiff(xcw, g.xHat), 'wasm compat x̂ vs golden').toBeLessThanOrEqual(1e-4);
        console.log(`P_A ${m}: portable y ${pw.strings[0].length} B + z ${pw.strings[1].length} B identical on GPU/wasm/CPU; ` +
          `max |x̂ wasm − x̂ GPU| ${maxAbsDiff(xw, xg).toExponential(2)}, vs golden ${maxAbsDiff(xw, g.xHat).toExponential(2)} (portable), ${maxAbsDiff(xcw, g.xHat).toExponential(2)} (compat)`);
      } finally {
        wasm.release();
        cpu.release();
      }
    });
  }

  it('the API from the image: wasm and webgpu decode each other\'s portable streams identically; detections match', async () => {
    const img = goldenImage();
    const opts = { detector: fx.detW, codec: fx.codecW, method: 2 as const, mode: 'portable' as const, minSize: MIN_SIZE, maxSize: MAX_SIZE };
    const encG = await createEncoder({ ...opts, device: fx.backend.ctx.device });
    const encW = await createEncoder({ ...opts, backend: 'wasm' });
    const decW = await createDecoder({ detector: fx.detW, codec: fx.codecW, minSize: MIN_SIZE, maxSize: MAX_SIZE, backend: 'wasm' });
    const wcodec = await HyperpriorCodec.create(fx.codecW, new WasmCodecBackend(await WasmEngine.create()));
    try {
      expect(encW.backend).toBe('wasm');
      expect(decW.backend).toBe('wasm');
      expect(encW.adapter).toBeNull();
      expect(() => encW.device).toThrow(/WebGPU backend/);
      const rg = await checked(fx.backend.ctx, 'gpu encode', () => encG.encode(img));
      const rw = await encW.encode(img);
      const cg = readContainer(rg.bytes), cw = readContainer(rw.bytes);
      expect(cw.zShape).toEqual(cg.zShape);
      expect(Math.abs(cw.mn - cg.mn)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(cg.mn)));
      expect(Math.abs(cw.mx - cg.mx)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(cg.mx)));
      // each stream decodes to the same symbols and indexes on either backend (the portable guarantee)
      for (const c of [cg, cw]) {
        const a = await checked(fx.backend.ctx, 'gpu decompress', () => fx.codec.decompress([c.yString, c.zString], c.zShape, { mode: 'portable' }));
        const b = await wcodec.decompress([c.yString, c.zString], c.zShape, { mode: 'portable' });
        fx.codec.ops.release(a.xHat);
        expect(firstDiff(b.ySymbols, a.ySymbols), 'decoded y symbols, wasm vs GPU').toBe('identical');
        expect(firstDiff(b.yIndexes, a.yIndexes), 'decoded y indexes, wasm vs GPU').toBe('identical');
      }
      const dg = await checked(fx.backend.ctx, 'gpu decode', () => fx.decoder.decode(rg.bytes, { returnFeatures: true }));
      const dw = await decW.decode(rg.bytes, { returnFeatures: true });
      expect(dw.sizes).toEqual(dg.sizes);
      expect(maxAbsDiff(dw.features!.data, dg.features!.data), 'F̂ wasm vs GPU').toBeLessThanOrEqual(1e-4);
      const mr = matchDetections(dg.detections, dw.detections);
      expect(mr.unmatchedRef, 'GPU detections without a wasm match').toEqual([]);
      expect(mr.unmatchedGot, 'wasm detections without a GPU match').toEqual([]);
      const ys = firstDiff(cw.yString, cg.yString);
      console.log(`API P_A m2 portable: containers ${rw.bytes.length} / ${rg.bytes.length} B (byte-identical: ${bytesEqual(rw.bytes, rg.bytes)}; ` +
        `mn ${cw.mn} vs ${cg.mn}, mx ${cw.mx} vs ${cg.mx}; y strings ${ys}); ${dw.detections.scores.length} detections matched; ` +
        `wasm encode ${Object.values(rw.timings).reduce((a, b) => a + b, 0).toFixed(0)} ms (sum of stages)`);
    } finally {
      encG.dispose();
      encW.dispose();
      decW.dispose();
      wcodec.release();
    }
  });

  it('golden detector A on wasm: stem, p2..p6 and detections (the GPU tests\' tolerances)', async () => {
    const weights = await loadDetectorWeights(resolve(D2, 'A/weights.pkl'));
    const det = await Detector.create(weights, new WasmDetectorBackend(await WasmEngine.create()), { minSize: 320, maxSize: 544 });
    const a = goldenNpy('A', 'input_bgr_u8.npy');
    const dumps = new Map<string, Float32Array>();
    const { detections } = await det.detect({ height: 300, width: 451, data: a.data as Uint8Array }, {
      dump: (n, d) => { if (d instanceof Float32Array) dumps.set(n, d); },
    });
    det.dispose();
    for (const n of ['stem', 'res5', 'p2', 'p3', 'p4', 'p5', 'p6', 'rpn_objectness_p2', 'rpn_anchor_deltas_p3']) {
      const e = relErr(dumps.get(n)!, f32(goldenNpy('A', `${n}.npy`)));
      expect(e.rel, n).toBeLessThanOrEqual(K_REL);
    }
    const mt = matchBoxes(f32(goldenNpy('A', 'detections_boxes.npy')), detections.boxes, {
      refScores: f32(goldenNpy('A', 'detections_scores.npy')), gotScores: detections.scores,
      refClasses: goldenNpy('A', 'detections_classes.npy').data as Int32Array, gotClasses: detections.classes, minIou: 0.99, maxDs: 1e-3,
    });
    expect(mt.unmatchedRef).toEqual([]);
    expect(mt.unmatchedGot).toEqual([]);
  });
});
