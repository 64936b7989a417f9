import { expect, it } from 'vitest';
import {
  descKey,
  roiAlignRef,
  roiDecodeRef,
  rpnDecodeRef,
  segmentedNmsRef,
  softmaxRowsRef,
  sortEntriesRef,
  topkRef,
} from '../../../src/cpu/heads-ref.ts';
import { gatherTop, roiDecode, rpnDecode, softmaxRows } from '../../../src/gpu/ops/boxes.ts';
import { rekeyKept, segmentedNms } from '../../../src/gpu/ops/nms.ts';
import { roiAlign } from '../../../src/gpu/ops/roialign.ts';
import { sortEntries, sortLength, sortPlan, topkEntries } from '../../../src/gpu/ops/topk.ts';
import { chwToHwc } from '../../../src/gpu/tensor.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../../helpers/gpu.ts';

it('sort plan: local sort, then global strides ≥ BLOCK and one local merge per stage', () => {
  expect(sortLength(1)).toBe(512);
  expect(sortLength(4741)).toBe(8192);
  expect(sortPlan(512).map((s) => s.kind)).toEqual(['local_sort']);
  const p = sortPlan(2048);
  expect(p.map((s) => `${s.kind}:${s.k}:${s.j}`)).toEqual([
    'local_sort:512:0',
    'global_step:1024:512',
    'local_merge:1024:256',
    'global_step:2048:1024',
    'global_step:2048:512',
    'local_merge:2048:256',
  ]);
  expect(() => sortPlan(1000)).toThrow(/power of two/);
});

it('descKey orders floats descending, NaN first and −inf last', () => {
  const v = [3, -1, 0, -0, 1e-30, -Infinity, Infinity, 2.5];
  const keys = v.map(descKey);
  const byKey = v
    .map((x, i) => [keys[i]!, x] as const)
    .sort((a, b) => a[0] - b[0])
    .map((e) => e[1]);
  expect(byKey.slice(0, 3)).toEqual([Infinity, 3, 2.5]);
  expect(byKey[byKey.length - 1]).toBe(-Infinity);
  expect(descKey(NaN)).toBeLessThan(descKey(Infinity));
});

describeGpu('heads kernels vs CPU references', () => {
  // Sorting is exact (integer keys): the GPU order must equal the reference order entry for entry.
  for (const [m, ties] of [
    [37, false],
    [512, true],
    [3001, true],
    [30720, false],
  ] as const) {
    it(`top-k / bitonic sort of ${m} scores${ties ? ' with ties' : ''} is exact`, async () => {
      const ctx = await gpuContext();
      const r = rng(m);
      const s = randn(r, m);
      if (ties) for (let i = 0; i < m; i += 3) s[i] = Math.round(s[i]! * 4) / 4; // many exact ties
      const got = await checked(ctx, 'topk', async () => {
        const t = ctx.upload(s, [m]);
        const e = topkEntries(ctx, t, m);
        const out = (await ctx.read(e)) as Uint32Array;
        t.release();
        e.release();
        return out;
      });
      const ref = topkRef(s, m);
      const idx = Array.from({ length: m }, (_, i) => got[i * 4 + 2]!);
      expect(idx).toEqual(Array.from(ref));
      for (let i = m; i < got.length / 4; i++) expect(got[i * 4]).toBe(0xffffffff);
    });
  }

  it('sort of multi-key entries (class, score) equals the reference', async () => {
    const ctx = await gpuContext();
    const r = rng(5);
    const n = 2048;
    const e = new Uint32Array(n * 4);
    for (let i = 0; i < n; i++) e.set([Math.floor(r() * 7), descKey(Math.round(r() * 50) / 10), Math.floor(r() * 1e6), 1], i * 4);
    const got = await checked(ctx, 'sort', async () => {
      const t = ctx.upload(e, [n, 4]);
      sortEntries(ctx, t);
      const out = (await ctx.read(t)) as Uint32Array;
      t.release();
      return out;
    });
    expect(Array.from(got)).toEqual(Array.from(sortEntriesRef(e.slice())));
  });

  it('RPN decode (gather top-k, anchors, clamp, clip, validity) matches the reference', async () => {
    const ctx = await gpuContext();
    const r = rng(11);
    const A = 3,
      H = 5,
      W = 7,
      N = A * H * W,
      k = 60;
    const logits = randn(r, N, 2);
    const deltas = randn(r, N * 4, 1.5);
    deltas[4 * 5 + 2] = 9; // beyond the clamp
    logits[5] = 50;
    const cell = new Float32Array([
      -22.627417, -11.313708, 22.627417, 11.313708, -16, -16, 16, 16, -11.313708, -22.627417, 11.313708, 22.627417,
    ]);
    const q = {
      k,
      A,
      W,
      outOff: 13,
      level: 2,
      stride: 8,
      clamp: Math.log(1000 / 16),
      imageHW: [37, 51] as [number, number],
      weights: [1, 1, 1, 1],
      minSize: 0,
    };
    const total = q.outOff + k;
    const got = await checked(ctx, 'rpn_decode', async () => {
      // The level maps are [A,H,W] / [4A,H,W] stored HWC; the kernel indexes the storage order directly.
      const lt = ctx.uploadCHW(reorder(logits, A, H, W), A, H, W);
      const dt = ctx.uploadCHW(reorder(deltas, 4 * A, H, W), 4 * A, H, W);
      const sorted = topkEntries(ctx, lt, N);
      const ct = ctx.upload(cell, [A, 4]);
      const boxes = ctx.upload(new Float32Array(total * 4), [total, 4]);
      const scores = ctx.upload(new Float32Array(total), [total]);
      const entries = ctx.upload(new Uint32Array(total * 4), [total, 4]);
      rpnDecode(ctx, sorted, lt, dt, ct, boxes, scores, entries, q);
      const out = {
        b: (await ctx.read(boxes)) as Float32Array,
        s: (await ctx.read(scores)) as Float32Array,
        e: (await ctx.read(entries)) as Uint32Array,
      };
      for (const t of [lt, dt, sorted, ct, boxes, scores, entries]) t.release();
      return out;
    });
    const rb = new Float32Array(total * 4),
      rs = new Float32Array(total),
      re = new Uint32Array(total * 4);
    rpnDecodeRef({ ...q, topIdx: topkRef(logits, k), logits, deltas, cell }, rb, rs, re);
    expect(Array.from(got.e)).toEqual(Array.from(re));
    expect(Array.from(got.s)).toEqual(Array.from(rs));
    // exp() on the GPU is not correctly rounded: a few ulp on coordinates up to ~600.
    expectClose(got.b, rb, 2e-4, 2e-6, 'rpn boxes');
    expect(re.filter((_, i) => i % 4 === 3 && i >= 13 * 4).some((v) => v === 0)).toBe(true); // some clipped away
  });

  it('softmax rows and ROI decode/threshold candidates match the reference', async () => {
    const ctx = await gpuContext();
    const r = rng(21);
    const R = 37,
      K = 11,
      NC = K - 1;
    const logits = randn(r, R * K, 3);
    for (let i = 0; i < R; i++) logits[i * K + NC] += 2;
    const deltas = randn(r, R * NC * 4, 0.7);
    deltas[3 * NC * 4 + 2] = 1e30; // row 3: dw = 2e29 → clamped
    deltas[4 * NC * 4 + 1] = Infinity; // row 4 non-finite → no candidates
    const props = new Float32Array(R * 4);
    for (let i = 0; i < R; i++) {
      const x = r() * 80,
        y = r() * 60;
      props.set([x, y, x + 1 + r() * 40, y + 1 + r() * 30], i * 4);
    }
    const spec = { weights: [10, 10, 5, 5], clamp: Math.log(1000 / 16), thresh: 0.05, imageHW: [70, 100] as [number, number] };
    const got = await checked(ctx, 'roi', async () => {
      const lt = ctx.upload(logits, [K, 1, R], { layout: 'hwc' });
      const dt = ctx.upload(deltas, [NC * 4, 1, R], { layout: 'hwc' });
      const pt = ctx.upload(props, [R, 4]);
      const probs = softmaxRows(ctx, lt, R, K);
      const d = roiDecode(ctx, probs, dt, pt, R, K, spec);
      const out = {
        p: (await ctx.read(probs)) as Float32Array,
        b: (await ctx.read(d.boxes)) as Float32Array,
        s: (await ctx.read(d.scores)) as Float32Array,
        n: ((await ctx.read(d.counter)) as Uint32Array)[0]!,
        c: (await ctx.read(d.cand)) as Uint32Array,
      };
      for (const t of [lt, dt, pt, probs, d.boxes, d.scores, d.counter, d.cand]) t.release();
      return out;
    });
    const rp = softmaxRowsRef(logits, R, K);
    expectClose(got.p, rp, 1e-6, 1e-5, 'probs');
    const ref = roiDecodeRef(rp, deltas, props, R, K, spec);
    expectClose(got.b, ref.boxes, 1e-4, 1e-5, 'roi boxes');
    expectClose(got.s, ref.scores, 1e-6, 1e-5, 'roi scores');
    expect(got.n).toBe(ref.cand.length);
    expect(Array.from(got.c.slice(0, got.n)).sort((a, b) => a - b)).toEqual(Array.from(ref.cand));
    expect(ref.cand.some((c) => Math.floor(c / NC) === 4)).toBe(false);
  });

  for (const [segs, perSeg, thr] of [
    [1, 45, 0.5],
    [5, 300, 0.7],
    [80, 33, 0.5],
  ] as const) {
    it(`segmented NMS: ${segs} segments x ${perSeg} boxes, IoU ${thr}, equals greedy NMS`, async () => {
      const ctx = await gpuContext();
      const r = rng(segs * 100 + perSeg);
      const m = segs * perSeg;
      const boxes = new Float32Array(m * 4);
      for (let i = 0; i < m; i++) {
        const x = r() * 60,
          y = r() * 60;
        boxes.set([x, y, x + 5 + r() * 30, y + 5 + r() * 30], i * 4);
      }
      boxes.set(boxes.subarray(0, 4), 4); // an exact duplicate (IoU 1)
      const scores = randn(r, m);
      // entries sorted by (segment, score desc); segment ids may skip values (empty segments)
      const e = new Uint32Array(m * 4);
      for (let i = 0; i < m; i++) e.set([(i % segs) * (segs > 1 ? 1 : 3), descKey(scores[i]!), i, r() < 0.1 ? 0 : 1], i * 4);
      sortEntriesRef(e);
      const numSegs = segs > 1 ? segs : 4;
      const got = await checked(ctx, 'nms', async () => {
        const et = ctx.upload(e, [m, 4]);
        const bt = ctx.upload(boxes, [m, 4]);
        const keep = segmentedNms(ctx, et, m, bt, numSegs, perSeg, thr);
        const out = (await ctx.read(keep)) as Uint32Array;
        et.release();
        bt.release();
        keep.release();
        return out;
      });
      const ref = segmentedNmsRef(e, m, boxes, thr);
      expect(Array.from(got)).toEqual(Array.from(ref));
      expect(ref.reduce((a, b) => a + b, 0)).toBeLessThan(m);
    });
  }

  it('rekey kept + sort + gather gives kept entries by score with classes', async () => {
    const ctx = await gpuContext();
    const r = rng(3);
    const m = 300,
      NC = 7;
    const scores = randn(r, m);
    const boxes = randn(r, m * 4, 10);
    const e = new Uint32Array(m * 4);
    for (let i = 0; i < m; i++) e.set([i % NC, descKey(scores[i]!), i, 1], i * 4);
    const keep = new Uint32Array(m).map(() => (r() < 0.4 ? 1 : 0));
    const K = 50;
    const got = await checked(ctx, 'gather', async () => {
      const et = ctx.upload(e, [m, 4]),
        kt = ctx.upload(keep, [m]),
        bt = ctx.upload(boxes, [m, 4]),
        st = ctx.upload(scores, [m]);
      const n = sortLength(m);
      const rk = rekeyKept(ctx, et, kt, m, n);
      sortEntries(ctx, rk.entries);
      const g = gatherTop(ctx, rk.entries, bt, st, K, NC);
      const out = {
        n: ((await ctx.read(rk.counter)) as Uint32Array)[0]!,
        b: (await ctx.read(g.boxes)) as Float32Array,
        s: (await ctx.read(g.scores)) as Float32Array,
        c: (await ctx.read(g.classes)) as Int32Array,
      };
      for (const t of [et, kt, bt, st, rk.entries, rk.counter, g.boxes, g.scores, g.classes]) t.release();
      return out;
    });
    const kept = Array.from({ length: m }, (_, i) => i)
      .filter((i) => keep[i])
      .sort((a, b) => scores[b]! - scores[a]! || a - b)
      .slice(0, K);
    expect(got.n).toBe(keep.reduce((a, b) => a + b, 0));
    expect(Array.from(got.c)).toEqual(kept.map((i) => i % NC));
    expect(Array.from(got.s)).toEqual(kept.map((i) => scores[i]!));
    expect(Array.from(got.b)).toEqual(kept.flatMap((i) => Array.from(boxes.subarray(i * 4, i * 4 + 4))));
  });

  it('ROIAlign: torchvision aligned=True test vector (5x5 ramp, box (1,1,3,3), 4x4 output)', async () => {
    const ctx = await gpuContext();
    const x = Float32Array.from({ length: 25 }, (_, i) => i);
    const got = await checked(ctx, 'roialign-vec', async () => {
      const ft = ctx.uploadCHW(x, 1, 5, 5);
      const rt = ctx.upload(new Float32Array([1, 1, 3, 3]), [1, 4]);
      const lt = ctx.upload(new Uint32Array([0]), [1]);
      const y = roiAlign(ctx, [ft], rt, lt, 1, { scales: [1], resolution: 4, samplingRatio: 0, aligned: true });
      const out = (await ctx.read(y)) as Float32Array;
      ft.release();
      rt.release();
      lt.release();
      y.release();
      return out;
    });
    const want = [4.5, 5, 5.5, 6, 7, 7.5, 8, 8.5, 9.5, 10, 10.5, 11, 12, 12.5, 13, 13.5];
    expectClose(got, want, 1e-5, 0, 'roialign vector');
    expectClose(roiAlignRef([{ data: x, h: 5, w: 5, scale: 1 }], 1, [1, 1, 3, 3], 1, [0], 4, 0, true), want, 1e-6, 0, 'ref vector');
  });

  it('ROIAlign over 4 levels with random boxes (borders, outside, tiny, large) matches the reference', async () => {
    const ctx = await gpuContext();
    const r = rng(77);
    const C = 5,
      P = 7;
    const dims = [
      [23, 31],
      [12, 16],
      [6, 8],
      [3, 4],
    ] as const;
    const levels = dims.map(([h, w], i) => ({ data: randn(r, C * h * w), h, w, scale: 1 / 2 ** (i + 2) }));
    const R = 40;
    const rois = new Float32Array(R * 4);
    const lv = new Uint32Array(R);
    for (let i = 0; i < R; i++) {
      const x = r() * 140 - 10,
        y = r() * 100 - 10,
        w = i % 7 === 0 ? r() * 2 : r() * 120,
        h = i % 5 === 0 ? r() * 3 : r() * 90;
      rois.set([x, y, x + w, y + h], i * 4);
      lv[i] = i % 4;
    }
    const got = await checked(ctx, 'roialign', async () => {
      const fts = levels.map((l) => ctx.uploadCHW(l.data, C, l.h, l.w));
      const rt = ctx.upload(rois, [R, 4]);
      const lt = ctx.upload(lv, [R]);
      const y = roiAlign(ctx, fts, rt, lt, R, { scales: levels.map((l) => l.scale), resolution: P, samplingRatio: 0, aligned: true });
      expect(y.shape).toEqual([C * P * P, 1, R]);
      const out = (await ctx.read(y)) as Float32Array;
      for (const t of [...fts, rt, lt, y]) t.release();
      return out;
    });
    const ref = roiAlignRef(levels, C, rois, R, lv, P, 0, true);
    expectClose(got, ref, 1e-5, 1e-5, 'roialign');
  });
});

/** [C,H,W] data given in the kernel's storage order (y,x,c) → NCHW for uploadCHW. */
function reorder(storage: Float32Array, C: number, H: number, W: number): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < C; c++) out[c * H * W + i] = storage[i * C + c]!;
  expect(chwToHwc(out, C, H, W)).toEqual(storage);
  return out;
}
