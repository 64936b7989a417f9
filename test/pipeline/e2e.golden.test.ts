// Pipeline golden P_A from the image, end to end through the public API (createEncoder → bytes → createDecoder),
// methods 1 and 2, compat mode, on the GPU.
//
// The stem is recomputed here (GPU float32 convolutions, another summation order than torch), so q8 may differ from
// the golden q8.npy where t = (F − mn)/scale lies within float error of a rounding tie (README "q8 step": the
// closest values are 1 ulp from a tie). What is asserted:
// - sizes as in quant.json; the stem F within 2e-5·max|F| of stem.npy (the detector golden tests' tolerance);
// - q8 computed from the returned F with the contract on the host: every value that differs from q8.npy differs by
//   exactly 1 and sits at a tie, |t_ref − (k + ½)| ≤ T_TIE, with t_ref computed from stem.npy and the golden scale.
//   T_TIE = 2·t_max_abs_err_f32_vs_f64 of the manifest (README margin table: 1.15e-4 (m1) / 1.19e-4 (m2) q units):
//   torch's float32 t and ours each lie within about that of the exact value, so they can differ by twice it. Our t
//   must also stay within 8× (the README's safety factor) that error everywhere (helpers/pipeline.ts tieTolerance);
// - the encoder's own codec input is that host q8: its container strings are byte-identical to compressing
//   x = q8_host/255 with the codec directly, and the container's mn/mx are the host's;
// - when q8 equals the golden, the strings equal CompressAI's byte for byte;
// - detections: when the q flips leave y_symbols unchanged (then the strings are CompressAI's), ≥ 95 % of the golden
//   compressed-run detections are matched one to one (IoU ≥ 0.99, same class, |Δscore| ≤ 1e-3). When a flip changes
//   a y symbol (it does here, 1 symbol per method: a q flip moves x by 1/255), the decoded signal itself differs;
//   the strict match count is printed and a looser regression bound is asserted (see below).
import { expect, it } from 'vitest';
import { createEncoder } from '../../src/api/index.ts';
import { readContainer } from '../../src/coder/index.ts';
import { matchBoxes } from '../detector/match.ts';
import { computePadding } from '../../src/model/codec/features.ts';
import { checked } from '../helpers/gpu.ts';
import {
  MAX_SIZE,
  MIN_SIZE,
  bytesEqual,
  describeMatch,
  goldenImage,
  hostFhat,
  hostQ8,
  loadRun,
  matchDetections,
  maxAbsDiff,
  padCHW,
  q8TieReport,
  tieTolerance,
  xFromQ8,
  usePipelineFixture,
} from '../helpers/pipeline.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

describeGpuGolden('pipeline golden P_A from the image through createEncoder/createDecoder (GPU)', () => {
  const fx = usePipelineFixture();

  for (const method of [1, 2] as const) {
    it(`method ${method}: q8 differs only at rounding ties, strings follow the contract, detections vs the golden`, async () => {
      const g = loadRun(method === 1 ? 'm1' : 'm2');
      const ctx = fx.backend.ctx;
      const enc = await createEncoder({
        detector: fx.detW,
        codec: fx.codecW,
        device: ctx.device,
        method,
        mode: 'compat',
        minSize: MIN_SIZE,
        maxSize: MAX_SIZE,
      });
      let r;
      try {
        r = await checked(ctx, `encode m${method}`, () => enc.encode(goldenImage(), { returnFeatures: true }));
      } finally {
        enc.dispose();
      }
      expect(r.sizes).toEqual(g.sizes);
      const { Hf, Wf } = g.quant;
      expect(r.features!.shape).toEqual([64, Hf, Wf]);
      const F = r.features!.data;

      // Stem and q8.
      let maxF = 0;
      for (const v of g.stem) maxF = Math.max(maxF, Math.abs(v));
      const dF = maxAbsDiff(F, g.stem);
      const h = hostQ8(F);
      const tie = q8TieReport(h, g);
      const tol = tieTolerance(g);
      console.log(
        `P_A m${method} from the image: max |F − stem.npy| ${dF.toExponential(2)} (${(dF / maxF).toExponential(2)}·max|F|), ` +
          `mx ${h.mx} vs golden ${g.quant.mx} (scale ${h.scale === g.quant.scale ? 'identical' : `${h.scale} vs ${g.quant.scale}`}); ` +
          `q8 differing from q8.npy: ${tie.differing} of ${g.q8.length} (golden values within ${tol.toExponential(2)} of a tie: ${tie.candidates}; ` +
          `largest tie distance among differing ${tie.maxTieDistOfDiffering.toExponential(2)}; max |t − t_ref| over the tensor ${tie.maxDt.toExponential(2)}; ` +
          `max |Δq| ${tie.maxDq})`,
      );
      expect(dF).toBeLessThanOrEqual(2e-5 * maxF);
      expect(r.quant.min).toBe(h.mn);
      expect(r.quant.max).toBe(h.mx);
      // Every flip is a ±1 at a golden tie; our t stays within 8× (README's safety factor) torch's own float32 error.
      expect(tie.maxDq).toBeLessThanOrEqual(1);
      expect(tie.maxTieDistOfDiffering).toBeLessThanOrEqual(tol);
      expect(tie.differing).toBeLessThanOrEqual(tie.candidates);
      expect(tie.maxDt).toBeLessThanOrEqual(8 * g.tMaxAbsErrF32VsF64);

      // The encoder's codec input is the host contract's q8: same strings as compressing it directly.
      const c = readContainer(r.bytes);
      expect(c.mode).toBe('compat');
      expect(c.method).toBe(method);
      expect(c.mn).toBe(h.mn);
      expect(c.mx).toBe(h.mx);
      expect(c.featureShape).toEqual([64, Hf, Wf]);
      const pad = computePadding(Hf, Wf);
      expect(c.padding).toEqual(pad);
      const [Hc, Wc] = [Hf + pad[0] + pad[2], Wf + pad[1] + pad[3]];
      const direct = await checked(ctx, 'direct compress', () =>
        fx.codec.compress(padCHW(xFromQ8(h.q), 64, Hf, Wf, pad), { shape: [1, 64, Hc, Wc], mode: 'compat' }),
      );
      expect(bytesEqual(c.yString, direct.strings[0]), 'encoder y string = compress(host q8)').toBe(true);
      expect(bytesEqual(c.zString, direct.strings[1]), 'encoder z string = compress(host q8)').toBe(true);
      let ySymDiff = 0;
      const changedY: [number, number][] = [];
      const [, yh, yw] = g.yShape;
      for (let i = 0; i < g.ySymbols.length; i++) {
        if (direct.ySymbols[i] !== g.ySymbols[i]) {
          ySymDiff++;
          changedY.push([Math.floor((i % (yh * yw)) / yw), i % yw]);
        }
      }
      const yEq = bytesEqual(c.yString, g.yString),
        zEq = bytesEqual(c.zString, g.zString);
      console.log(
        `P_A m${method} from the image: y ${c.yString.length} B (golden ${g.yString.length}, identical ${yEq}), ` +
          `z ${c.zString.length} B (golden ${g.zString.length}, identical ${zEq}); y_symbols differing from the golden: ${ySymDiff}; ` +
          `bpp (strings) ${r.bpp.strings.toFixed(6)} vs golden ${g.bpp.bpp.toFixed(6)}; container ${r.bytes.length} B`,
      );
      if (tie.differing === 0) {
        expect(yEq, 'y string byte-identical to CompressAI').toBe(true);
        expect(zEq, 'z string byte-identical to CompressAI').toBe(true);
        expect(r.bpp.strings).toBeCloseTo(g.bpp.bpp, 12);
      }

      // Receiver.
      const d = await checked(ctx, `decode m${method}`, () => fx.decoder.decode(r.bytes, { returnFeatures: true }));
      expect(d.sizes).toEqual(g.sizes);
      // F̂ vs the golden F̂ (contract applied to x_hat.npy): identical up to float noise (1e-4·range, as from the
      // golden strings) outside the footprint of the changed y symbols. g_s is 4 stride-2 5×5 deconvolutions (IGDN
      // mixes channels only), so y[i, j] reaches x̂ rows 16i − 30 … 16i + 30 (+ padding offset) and likewise columns.
      const fRef = hostFhat(g.xHat, 0, g.quant.range);
      const fGot = d.features!.data;
      let outside = 0,
        inside = 0,
        insideN = 0;
      for (let c = 0; c < 64; c++) {
        for (let y = 0; y < Hf; y++) {
          for (let x = 0; x < Wf; x++) {
            const i = (c * Hf + y) * Wf + x;
            const dd = Math.abs(fGot[i]! - fRef[i]!);
            const yc = y + pad[0],
              xc = x + pad[1];
            const near = changedY.some(([yi, xi]) => Math.abs(yc - 16 * yi) <= 30 && Math.abs(xc - 16 * xi) <= 30);
            if (near) {
              inside = Math.max(inside, dd);
              if (dd > 1e-4 * g.quant.range) insideN++;
            } else outside = Math.max(outside, dd);
          }
        }
      }
      console.log(
        `P_A m${method} from the image: max |F̂ − F̂_golden| outside the changed y footprint ${outside.toExponential(2)}, ` +
          `inside ${inside.toExponential(2)} (${insideN} values above 1e-4·range)`,
      );
      expect(outside).toBeLessThanOrEqual(1e-4 * g.quant.range);
      if (ySymDiff === 0) expect(inside).toBeLessThanOrEqual(1e-4 * g.quant.range);
      const m = matchDetections(g.dets, d.detections);
      const need = Math.ceil(0.95 * Math.max(g.dets.scores.length, d.detections.scores.length));
      console.log(
        describeMatch(`P_A m${method} from the image, final detections (IoU ≥ 0.99, |Δscore| ≤ 1e-3)`, g.dets, d.detections, m) +
          ` → 95 % criterion ${m.matched >= need ? 'met' : 'NOT met'}`,
      );
      if (ySymDiff === 0) {
        // Same coded data as CompressAI's (strings asserted identical above): parity tolerance.
        expect(m.matched).toBeGreaterThanOrEqual(need);
      } else {
        // A q flip at a tie moved x by 1/255 at one element and crossed a y rounding boundary: the decoded F̂ is a
        // different (slightly) signal, not float noise, and this untrained codec (README: 28–33 % of x̂ outside
        // [0, 1], runs at the 100-detection cap with a 2.3e-4 (m2) score gap) passes it on to the scores. Measured
        // on lavapipe: one y symbol moves scores by up to 5e-3 and a few boxes below IoU 0.99. The bound asserted
        // here is a regression bound for that case (IoU ≥ 0.95, same class, |Δscore| ≤ 1e-2), not a parity claim;
        // the F̂ footprint check above shows the change comes from the changed y symbol(s) alone.
        const loose = matchBoxes(g.dets.boxes, d.detections.boxes, {
          refScores: g.dets.scores,
          gotScores: d.detections.scores,
          refClasses: g.dets.classes,
          gotClasses: d.detections.classes,
          minIou: 0.95,
          maxDs: 1e-2,
        });
        console.log(
          describeMatch(
            `P_A m${method} from the image, final detections (IoU ≥ 0.95, |Δscore| ≤ 1e-2; ${ySymDiff} y symbol(s) changed by the q flips)`,
            g.dets,
            d.detections,
            loose,
          ),
        );
        expect(loose.matched).toBeGreaterThanOrEqual(need);
      }
    });
  }
});
