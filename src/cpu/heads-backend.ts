/** CPU (plain TS) implementation of the detector heads' op set, built from the kernel references in heads-ref.ts. */
import type { BoxInferenceSpec, HeadOps, Proposals, RawDetections, RoiAlignSpec, RpnSpec } from '../model/detector/heads/ops.ts';
import { CpuBackend, CpuTensor } from './backend.ts';
import { descKey, roiAlignRef, roiDecodeRef, rpnDecodeRef, segmentedNmsRef, softmaxRowsRef, sortEntriesRef, topkRef } from './heads-ref.ts';

/** [C,H,W] CHW data → storage order (y, x, c). */
function toYXC(d: Float32Array, C: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out[i * C + c] = d[c * H * W + i]!;
  return out;
}
/** [X][R] ↔ [R][X]. */
function transpose(d: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = d[r * cols + c]!;
  return out;
}

/** Kept entries → payloads ordered by (score desc, payload), first k. */
function topKept(entries: Uint32Array, keep: Uint8Array, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < keep.length; i++) if (keep[i]) idx.push(i);
  idx.sort((a, b) => entries[a * 4 + 1]! - entries[b * 4 + 1]! || entries[a * 4 + 2]! - entries[b * 4 + 2]!);
  return idx.slice(0, k).map((i) => entries[i * 4 + 2]!);
}

export class CpuHeadsBackend extends CpuBackend implements HeadOps<CpuTensor> {
  async rpnProposals(objectness: CpuTensor[], deltas: CpuTensor[], spec: RpnSpec): Promise<Proposals<CpuTensor>> {
    const L = objectness.length;
    if (deltas.length !== L || spec.levels.length !== L)
      throw new Error('rpnProposals: one objectness map, delta map and level spec per level');
    const ks = objectness.map((t) => Math.min(t.data.length, spec.preNmsTopK));
    const total = ks.reduce((a, b) => a + b, 0);
    const boxes = new Float32Array(total * 4),
      scores = new Float32Array(total),
      entries = new Uint32Array(total * 4);
    let off = 0;
    for (let l = 0; l < L; l++) {
      const [A, H, W] = objectness[l]!.chw;
      const logits = toYXC(objectness[l]!.f32, A, H, W);
      const d = toYXC(deltas[l]!.f32, 4 * A, H, W);
      rpnDecodeRef(
        {
          topIdx: topkRef(logits, ks[l]!),
          logits,
          deltas: d,
          cell: spec.levels[l]!.cellAnchors,
          A,
          W,
          stride: spec.levels[l]!.stride,
          weights: spec.weights,
          clamp: spec.scaleClamp,
          imageHW: spec.imageHW,
          minSize: spec.minSize,
          level: l,
          outOff: off,
        },
        boxes,
        scores,
        entries,
      );
      off += ks[l]!;
    }
    const keep = segmentedNmsRef(entries, total, boxes, spec.nmsThresh);
    const sel = topKept(entries, keep, spec.postNmsTopK);
    const hostBoxes = new Float32Array(sel.length * 4),
      hostLogits = new Float32Array(sel.length);
    sel.forEach((p, i) => {
      hostBoxes.set(boxes.subarray(p * 4, p * 4 + 4), i * 4);
      hostLogits[i] = scores[p]!;
    });
    return { boxes: new CpuTensor(hostBoxes.slice(), [sel.length, 4]), count: sel.length, hostBoxes, hostLogits };
  }

  roiAlign(features: CpuTensor[], proposals: CpuTensor, count: number, levels: Int32Array, spec: RoiAlignSpec): CpuTensor {
    const C = features[0]!.chw[0];
    const lv = features.map((t, i) => ({ data: t.f32, h: t.chw[1], w: t.chw[2], scale: spec.scales[i]! }));
    const rows = roiAlignRef(lv, C, proposals.f32, count, levels, spec.resolution, spec.samplingRatio, spec.aligned);
    const X = C * spec.resolution * spec.resolution;
    return new CpuTensor(transpose(rows, count, X), [X, 1, count]);
  }

  softmaxRows(logits: CpuTensor): CpuTensor {
    const [K, , R] = logits.shape as [number, number, number];
    return new CpuTensor(transpose(softmaxRowsRef(transpose(logits.f32, K, R), R, K), R, K), logits.shape);
  }

  async boxDetections(
    probs: CpuTensor,
    deltas: CpuTensor,
    proposals: CpuTensor,
    count: number,
    spec: BoxInferenceSpec,
  ): Promise<RawDetections> {
    const K = probs.shape[0]!,
      NC = K - 1,
      R = count;
    const p = transpose(probs.f32, K, R),
      d = transpose(deltas.f32, NC * 4, R);
    const dec = roiDecodeRef(p, d, proposals.f32, R, K, {
      weights: spec.weights,
      clamp: spec.scaleClamp,
      thresh: spec.scoreThresh,
      imageHW: spec.imageHW,
    });
    const m = dec.cand.length;
    const e = new Uint32Array(m * 4);
    dec.cand.forEach((flat, i) => e.set([flat % NC, descKey(dec.scores[flat]!), flat, 1], i * 4));
    sortEntriesRef(e);
    const keep = segmentedNmsRef(e, m, dec.boxes, spec.nmsThresh);
    const sel = topKept(e, keep, spec.topK);
    return {
      boxes: Float32Array.from(sel.flatMap((j) => Array.from(dec.boxes.subarray(j * 4, j * 4 + 4)))),
      scores: Float32Array.from(sel.map((j) => dec.scores[j]!)),
      classes: Int32Array.from(sel.map((j) => j % NC)),
    };
  }
}
