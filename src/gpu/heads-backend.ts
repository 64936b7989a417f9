/**
 * GPU implementation of the detector heads' op set (src/model/detector/heads/ops.ts). Top-k, box decoding, the NMS
 * masks and scans, ROIAlign, the FCs (core conv2d as 1x1 convs) and softmax all run on the GPU; what is read back is
 * small: kept counts, the R proposals (R*5 floats) and the final ≤ topK detections.
 */
import type { BoxInferenceSpec, HeadOps, Proposals, RawDetections, RoiAlignSpec, RpnSpec } from '../model/detector/heads/ops.ts';
import { GpuBackend } from './backend.ts';
import { GpuShapeError } from './errors.ts';
import { candidateKeys, gatherTop, roiDecode, rpnDecode, softmaxRows } from './ops/boxes.ts';
import { rekeyKept, segmentedNms } from './ops/nms.ts';
import { roiAlign } from './ops/roialign.ts';
import { sortEntries, sortLength, topkEntries } from './ops/topk.ts';
import type { GpuTensor } from './tensor.ts';

export class GpuHeadsBackend extends GpuBackend implements HeadOps<GpuTensor> {
  async rpnProposals(objectness: GpuTensor[], deltas: GpuTensor[], spec: RpnSpec): Promise<Proposals<GpuTensor>> {
    const ctx = this.ctx;
    const L = objectness.length;
    if (deltas.length !== L || spec.levels.length !== L)
      throw new GpuShapeError('rpnProposals: one objectness map, delta map and level spec per level');
    const ks = objectness.map((t) => Math.min(t.size, spec.preNmsTopK));
    const total = ks.reduce((a, b) => a + b, 0);
    const boxes = ctx.empty([total, 4], 'f32', 'flat', 'rpn.boxes');
    const scores = ctx.empty([total], 'f32', 'flat', 'rpn.scores');
    const entries = ctx.empty([total, 4], 'u32', 'flat', 'rpn.entries');
    const tmp: GpuTensor[] = [];
    let off = 0;
    for (let l = 0; l < L; l++) {
      const lt = objectness[l]!,
        dt = deltas[l]!;
      const [A, H, W] = lt.chw;
      const cell = spec.levels[l]!.cellAnchors;
      if (cell.length !== A * 4) throw new GpuShapeError(`level ${l}: ${A} anchors per cell but ${cell.length / 4} cell anchors`);
      if (lt.layout !== 'hwc' || dt.layout !== 'hwc') throw new GpuShapeError('RPN maps must be HWC feature maps');
      const [DA, DH, DW] = dt.chw;
      if (DA !== 4 * A || DH !== H || DW !== W)
        throw new GpuShapeError(`level ${l}: deltas [${dt.shape}] do not match objectness [${lt.shape}]`);
      const sorted = topkEntries(ctx, lt, lt.size, `rpn.topk${l}`);
      const ct = ctx.upload(cell, [A, 4]);
      tmp.push(sorted, ct);
      rpnDecode(ctx, sorted, lt, dt, ct, boxes, scores, entries, {
        k: ks[l]!,
        A,
        W,
        outOff: off,
        level: l,
        stride: spec.levels[l]!.stride,
        clamp: spec.scaleClamp,
        imageHW: spec.imageHW,
        weights: spec.weights,
        minSize: spec.minSize,
      });
      off += ks[l]!;
    }
    const keep = segmentedNms(ctx, entries, total, boxes, L, Math.max(...ks), spec.nmsThresh);
    const rk = rekeyKept(ctx, entries, keep, total, sortLength(total));
    sortEntries(ctx, rk.entries, 'rpn.post');
    const K = Math.min(spec.postNmsTopK, total);
    const top = gatherTop(ctx, rk.entries, boxes, scores, K, 1);
    const kept = ((await ctx.read(rk.counter)) as Uint32Array)[0]!;
    const count = Math.min(kept, K);
    const hostBoxes = ((await ctx.read(top.boxes)) as Float32Array).slice(0, count * 4);
    const hostLogits = ((await ctx.read(top.scores)) as Float32Array).slice(0, count);
    this.release(...tmp, boxes, scores, entries, keep, rk.entries, rk.counter, top.scores, top.classes);
    return { boxes: top.boxes, count, hostBoxes, hostLogits };
  }

  roiAlign(features: GpuTensor[], proposals: GpuTensor, count: number, levels: Int32Array, spec: RoiAlignSpec): GpuTensor {
    if (levels.length < count) throw new GpuShapeError(`roiAlign: ${levels.length} levels for ${count} ROIs`);
    const lt = this.ctx.upload(Uint32Array.from(levels.subarray(0, count)), [count]);
    const out = roiAlign(this.ctx, features, proposals, lt, count, spec);
    lt.release();
    return out;
  }

  softmaxRows(logits: GpuTensor): GpuTensor {
    const [K, one, R] = logits.shape as [number, number, number];
    if (logits.shape.length !== 3 || one !== 1 || logits.layout !== 'hwc')
      throw new GpuShapeError(`softmaxRows expects a [K,1,R] HWC tensor, got [${logits.shape}] ${logits.layout}`);
    return softmaxRows(this.ctx, logits, R, K);
  }

  async boxDetections(
    probs: GpuTensor,
    deltas: GpuTensor,
    proposals: GpuTensor,
    count: number,
    spec: BoxInferenceSpec,
  ): Promise<RawDetections> {
    const ctx = this.ctx;
    const K = probs.shape[0]!,
      NC = K - 1,
      R = count;
    if (probs.shape[2] !== R || deltas.shape[2] !== R || deltas.shape[0] !== NC * 4) {
      throw new GpuShapeError(`boxDetections: probs [${probs.shape}], deltas [${deltas.shape}] for ${R} proposals`);
    }
    const d = roiDecode(ctx, probs, deltas, proposals, R, K, {
      weights: spec.weights,
      clamp: spec.scaleClamp,
      thresh: spec.scoreThresh,
      imageHW: spec.imageHW,
    });
    const m = ((await ctx.read(d.counter)) as Uint32Array)[0]!;
    const empty = { boxes: new Float32Array(0), scores: new Float32Array(0), classes: new Int32Array(0) };
    if (m === 0) {
      this.release(d.boxes, d.scores, d.counter, d.cand);
      return empty;
    }
    const n = sortLength(m);
    const e = candidateKeys(ctx, d.cand, d.scores, m, n, NC);
    sortEntries(ctx, e, 'det.sort');
    const keep = segmentedNms(ctx, e, m, d.boxes, NC, R, spec.nmsThresh);
    const rk = rekeyKept(ctx, e, keep, m, n);
    sortEntries(ctx, rk.entries, 'det.top');
    const Kout = Math.min(spec.topK, m);
    const top = gatherTop(ctx, rk.entries, d.boxes, d.scores, Kout, NC);
    const kept = ((await ctx.read(rk.counter)) as Uint32Array)[0]!;
    const N = Math.min(kept, Kout);
    const out = {
      boxes: ((await ctx.read(top.boxes)) as Float32Array).slice(0, N * 4),
      scores: ((await ctx.read(top.scores)) as Float32Array).slice(0, N),
      classes: ((await ctx.read(top.classes)) as Int32Array).slice(0, N),
    };
    this.release(d.boxes, d.scores, d.counter, d.cand, e, keep, rk.entries, rk.counter, top.boxes, top.scores, top.classes);
    return out;
  }
}
