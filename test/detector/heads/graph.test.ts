import { describe, expect, it } from 'vitest';
import { CpuHeadsBackend } from '../../../src/cpu/heads-backend.ts';
import { GpuHeadsBackend } from '../../../src/gpu/heads-backend.ts';
import type { Tensor } from '../../../src/model/backend.ts';
import {
  assignLevels,
  cellAnchors,
  detectorPostprocess,
  HeadsError,
  prepareHeads,
  runHeads,
  type HeadOps,
} from '../../../src/model/detector/heads/index.ts';
import { DEFAULT_DETECTOR_CONFIG, type FpnOutputs, type ImageSizes } from '../../../src/model/detector/types.ts';
import type { DetectorWeights, HostTensor } from '../../../src/model/weights/index.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../../helpers/gpu.ts';

describe('heads geometry', () => {
  it('cell anchors match the reference vectors (S=32 and S=512, ratios 0.5/1/2)', () => {
    expectClose(
      cellAnchors([32], [0.5, 1, 2]),
      [-22.627417, -11.313708, 22.627417, 11.313708, -16, -16, 16, 16, -11.313708, -22.627417, 11.313708, 22.627417],
      1e-5,
      0,
      'S32',
    );
    expectClose(
      cellAnchors([512], [0.5, 1, 2]),
      [-362.03867, -181.01933, 362.03867, 181.01933, -256, -256, 256, 256, -181.01933, -362.03867, 181.01933, 362.03867],
      1e-4,
      0,
      'S512',
    );
  });

  it('level assignment: floor(4 + log2(sqrt(area)/224 + 1e-8)) clamped to [2,5], 0-based', () => {
    const sq = (s: number): number[] => [10, 10, 10 + s, 10 + s];
    const boxes = Float32Array.from([...sq(224), ...sq(223.9), ...sq(112), ...sq(111.9), ...sq(448), ...sq(10), ...sq(2000), ...sq(56)]);
    expect(Array.from(assignLevels(boxes, 8))).toEqual([2, 1, 1, 0, 3, 0, 3, 0]);
  });

  it('detector_postprocess scales x and y separately, clips to the original size and drops empty boxes', () => {
    const boxes = Float32Array.from([10, 20, 100, 200, 0, 0, 481, 320, 400, 10, 481, 10, 481, 5, 500, 50]);
    const r = detectorPostprocess(boxes, Float32Array.from([0.9, 0.8, 0.7, 0.6]), Int32Array.from([1, 2, 3, 4]), [320, 481], [300, 451]);
    expect(Array.from(r.classes)).toEqual([1, 2]); // zero height, then zero width after clipping
    expectClose(
      r.boxes,
      [(10 * 451) / 481, (20 * 300) / 320, (100 * 451) / 481, (200 * 300) / 320, 0, 0, 451, 300],
      1e-4,
      1e-6,
      'rescaled',
    );
  });
});

/** Tiny random weights with the canonical names (C=4 channels, P=7, fc 16, 3 classes). */
function tinyWeights(C: number, fc: number, classes: number): DetectorWeights {
  const r = rng(9);
  const t = (shape: number[], scale: number): HostTensor => ({
    dtype: 'float32',
    shape,
    data: randn(
      r,
      shape.reduce((a, b) => a * b, 1),
      scale,
    ),
  });
  const tensors = new Map<string, HostTensor>([
    ['roi_heads.box_head.fc1.weight', t([fc, C * 49], 0.3)],
    ['roi_heads.box_head.fc1.bias', t([fc], 0.1)],
    ['roi_heads.box_head.fc2.weight', t([fc, fc], 0.3)],
    ['roi_heads.box_head.fc2.bias', t([fc], 0.1)],
    ['roi_heads.box_predictor.cls_score.weight', t([classes + 1, fc], 1)],
    ['roi_heads.box_predictor.cls_score.bias', t([classes + 1], 0.5)],
    ['roi_heads.box_predictor.bbox_pred.weight', t([classes * 4, fc], 0.1)],
    ['roi_heads.box_predictor.bbox_pred.bias', t([classes * 4], 0.1)],
  ]);
  return {
    kind: 'detectron2-rcnn-fpn',
    tensors,
    fingerprint: new Uint8Array(16),
    config: { stemOut: 8, stages: [], fpnOut: C, numAnchors: 3, boxDim: 4, fcDims: [fc, fc], poolerResolution: 7, numClasses: classes },
  };
}

const SIZES: ImageSizes = { original: [50, 70], resized: [64, 90], padded: [64, 96] };

function tinyFpn<T extends Tensor>(ops: HeadOps<T>, C: number, seed: number, deltaFill?: number): FpnOutputs<T> {
  const r = rng(seed);
  const dims = [
    [16, 24],
    [8, 12],
    [4, 6],
    [2, 3],
    [1, 2],
  ] as const;
  const map = (c: number, h: number, w: number, s = 1): T => ops.fromCHW(randn(r, c * h * w, s), c, h, w);
  const [p2, p3, p4, p5, p6] = dims.map(([h, w]) => map(C, h, w));
  return {
    features: { p2: p2!, p3: p3!, p4: p4!, p5: p5!, p6: p6! },
    rpnObjectness: dims.map(([h, w]) => map(3, h, w, 2)),
    rpnDeltas: dims.map(([h, w]) =>
      deltaFill === undefined ? map(12, h, w, 0.5) : ops.fromCHW(new Float32Array(12 * h * w).fill(deltaFill), 12, h, w),
    ),
  };
}

const CFG = { ...DEFAULT_DETECTOR_CONFIG, rpnPreNmsTopK: 200, rpnPostNmsTopK: 150, scoreThresh: 0.2 };

describe('heads graph errors (CPU backend)', () => {
  it('rejects mismatched anchors and bad config with HeadsError', async () => {
    const w = tinyWeights(4, 16, 3);
    const cpu = new CpuHeadsBackend();
    const fpn = tinyFpn(cpu, 4, 1);
    await expect(runHeads(cpu, fpn, SIZES, w, { ...CFG, anchorSizes: [[32], [64]] })).rejects.toBeInstanceOf(HeadsError);
    await expect(runHeads(cpu, fpn, SIZES, w, { ...CFG, anchorAspectRatios: [1, 2] })).rejects.toThrow(/anchors per cell/);
    await expect(runHeads(cpu, fpn, SIZES, w, { ...CFG, rpnPostNmsTopK: 0 })).rejects.toThrow(/positive integer/);
    const bad = tinyWeights(4, 16, 3);
    bad.tensors.set('roi_heads.box_head.fc2.weight', { dtype: 'float32', shape: [16, 15], data: new Float32Array(240) });
    expect(() => prepareHeads(cpu, bad)).toThrow(/expected \[16,16\]/);
    bad.tensors.delete('roi_heads.box_predictor.bbox_pred.bias');
    expect(() => prepareHeads(cpu, bad)).toThrow(HeadsError);
  });

  it('no valid proposals (non-finite deltas) gives empty detections, not an error', async () => {
    const cpu = new CpuHeadsBackend();
    const r = await runHeads(cpu, tinyFpn(cpu, 4, 2, NaN), SIZES, tinyWeights(4, 16, 3), CFG);
    expect(r.proposals.length).toBe(0);
    expect(r.detections.scores.length).toBe(0);
  });
});

describeGpu('heads graph: GPU backend equals the CPU backend on random tiny inputs', () => {
  for (const seed of [3, 4]) {
    it(`seed ${seed}: proposals, detections`, async () => {
      const ctx = await gpuContext();
      const w = tinyWeights(4, 16, 3);
      const cpu = new CpuHeadsBackend();
      const ref = await runHeads(cpu, tinyFpn(cpu, 4, seed), SIZES, w, CFG);
      const gpu = new GpuHeadsBackend(ctx);
      const got = await checked(ctx, 'heads', async () => {
        const fpn = tinyFpn(gpu, 4, seed);
        const res = await runHeads(gpu, fpn, SIZES, w, CFG);
        gpu.release(...Object.values(fpn.features), ...fpn.rpnObjectness, ...fpn.rpnDeltas);
        return res;
      });
      expect(ref.proposals.length).toBe(150 * 4);
      expectClose(got.proposals, ref.proposals, 1e-3, 1e-5, 'proposals');
      expectClose(got.proposalLogits, ref.proposalLogits, 0, 0, 'logits');
      expect(ref.detections.scores.length).toBeGreaterThan(3);
      expect(Array.from(got.detections.classes)).toEqual(Array.from(ref.detections.classes));
      expectClose(got.detections.scores, ref.detections.scores, 1e-5, 1e-4, 'scores');
      expectClose(got.detections.boxes, ref.detections.boxes, 1e-3, 1e-4, 'boxes');
      // empty path on the GPU too
      const none = await checked(ctx, 'heads-empty', () => runHeads(gpu, tinyFpn(gpu, 4, seed, NaN), SIZES, w, CFG));
      expect(none.detections.scores.length).toBe(0);
    });
  }
});
