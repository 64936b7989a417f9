// Every codec GPU kernel against its CPU reference (src/cpu/codec-backend.ts) on small random shapes with odd sizes,
// borders and channel counts not divisible by 4, plus the pure helpers.
import { expect, it, describe } from 'vitest';
import { CpuCodecBackend, gdnRef } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { EXAMPLE_ADAPTERS } from '../../src/gpu/adapter-class.ts';
import { GpuShapeError } from '../../src/gpu/errors.ts';
import {
  conv2d,
  convVariantProblem,
  gdnProblem,
  prepareConv,
  selectConvMode,
  selectConvVariant,
  type ConvGeometry,
  type ConvWeights,
} from '../../src/gpu/ops/conv.ts';
import { gdn, gdnParamsProblem, prepareGdn, type GdnWeights } from '../../src/gpu/ops/gdn.ts';
import { packIntWeights } from '../../src/gpu/ops/intconv.ts';
import { computePadding, method2Size, quantParams } from '../../src/model/codec/features.ts';
import { quantizeWeights, requantShift, requantValue, rne, splitHiLo, thresholds } from '../../src/model/codec/portable.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../helpers/gpu.ts';

const cpu = new CpuCodecBackend();
const SCALE_TABLE = Float32Array.from({ length: 64 }, (_, k) => Math.exp(Math.log(0.11) + ((Math.log(256) - Math.log(0.11)) * k) / 63));
const nextUp = (v: number) => {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0]! += v >= 0 ? 1 : -1;
  return f[0]!;
};
const nextDown = (v: number) => {
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  u[0]! += v > 0 ? -1 : 1;
  return f[0]!;
};

describe('codec helpers (pure)', () => {
  it('computePadding follows CompressAI (top/left floor(diff/2))', () => {
    expect(computePadding(80, 128)).toEqual([24, 0, 24, 0]);
    expect(computePadding(200, 304)).toEqual([28, 8, 28, 8]);
    expect(computePadding(65, 1)).toEqual([31, 31, 32, 32]);
    expect(computePadding(64, 64)).toEqual([0, 0, 0, 0]);
  });
  it('method2Size rounds to the nearest multiple of 256, ties up, minimum 256', () => {
    expect(method2Size(320, 481)).toEqual([256, 512]);
    expect(method2Size(384, 640)).toEqual([512, 768]);
    expect(method2Size(100, 1333)).toEqual([256, 1280]);
  });
  it('quantParams: float32 range and scale, −0 normalised', () => {
    const q = quantParams(-0, 8.71200180053711);
    expect(Object.is(q.mn, 0)).toBe(true);
    expect(new Uint32Array(Float32Array.of(q.scale).buffer)[0]).toBe(0x3d0bf04c); // golden P_A m1 scale bits
    expect(() => quantParams(0, Infinity)).toThrow(/non-finite/);
  });
  it('rne is round half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 3.7].map(rne)).toEqual([0, 2, 2, -0, -2, -2, 2, 4]);
  });
  it('quantizeWeights keeps |wq| ≤ 32767 with the largest exponent', () => {
    const r = rng(3);
    for (const s of [1e-3, 0.05, 1, 37]) {
      const w = randn(r, 500, s);
      const { wq, Fw } = quantizeWeights(w);
      const m = Math.max(...Array.from(wq, Math.abs));
      expect(m).toBeLessThanOrEqual(32767);
      expect(m).toBeGreaterThan(16383);
      for (let i = 0; i < w.length; i++) expect(Math.abs(wq[i]! - w[i]! * 2 ** Fw)).toBeLessThanOrEqual(0.5);
    }
  });
  it('requantShift is the smallest shift that fits 15 bits', () => {
    for (const mh of [0, 1, 7, 1000, 123456, 2 ** 29]) {
      const s = requantShift(mh);
      const v = mh * 65536 + 65535;
      expect(requantValue(v, s)).toBeLessThanOrEqual(32767);
      if (s > 0) expect(s === 1 ? v : Math.floor((v + 2 ** (s - 2)) / 2 ** (s - 1))).toBeGreaterThan(32767);
    }
  });
  it('thresholds are floor(table·2^E) split in hi/lo', () => {
    const t = thresholds(SCALE_TABLE, 20);
    for (let k = 0; k < 63; k++) expect(t.hi[k]! * 65536 + t.lo[k]!).toBe(Math.floor(SCALE_TABLE[k]! * 2 ** 20));
    expect(splitHiLo(-1)).toEqual([-1, 65535]);
  });
  it('packIntWeights refuses values beyond 15 bits', () => {
    expect(() => packIntWeights(Int32Array.of(40000), [1, 1, 1, 1], false)).toThrow(/32767/);
  });
  it('GDN runs as a 1x1 conv: gdnProblem / gdnParamsProblem, and the conv selector gives it the gemm loader', () => {
    const ok = {
      C: 128,
      OC: 128,
      KH: 1,
      KW: 1,
      SH: 1,
      SW: 1,
      PH: 0,
      PW: 0,
      transposed: false,
      precision: 'f32' as const,
      residual: false,
      relu: false,
    };
    expect(gdnProblem(ok)).toBeNull();
    expect(gdnProblem({ ...ok, KH: 3, KW: 3 })).toMatch(/1x1/);
    expect(gdnProblem({ ...ok, SH: 2, SW: 2 })).toMatch(/stride 1/);
    expect(gdnProblem({ ...ok, PH: 1 })).toMatch(/padding/);
    expect(gdnProblem({ ...ok, OC: 64 })).toMatch(/128 -> 64/);
    expect(gdnProblem({ ...ok, transposed: true })).toMatch(/transposed/);
    expect(gdnProblem({ ...ok, precision: 'f16' })).toMatch(/f32/);
    expect(gdnProblem({ ...ok, relu: true })).toMatch(/ReLU/);
    expect(gdnProblem({ ...ok, residual: true })).toMatch(/residual/);
    expect(gdnParamsProblem(new Float32Array(3), new Float32Array(9), 3)).toBeNull();
    expect(gdnParamsProblem(new Float32Array(3), new Float32Array(8), 3)).toMatch(/gamma 8/);
    expect(gdnParamsProblem(new Float32Array(0), new Float32Array(0), 0)).toMatch(/positive/);
    // the codec's GDN geometries (N = 128 at the paper size's g_a.1 and a small map): the conv core's plain GEMM loader,
    // the big software tile on large maps, the small one on small maps
    const g: ConvGeometry = { M: 100 * 152, C: 128, OC: 128, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, transposed: false };
    expect(selectConvVariant(g)).toMatchObject({ LOAD: 'gemm', TM: 16, TN: 4 });
    expect(selectConvVariant({ ...g, M: 16 * 16 })).toMatchObject({ LOAD: 'gemm', TM: 4, TN: 1 });
    for (const [name, a] of Object.entries(EXAMPLE_ADAPTERS)) expect(selectConvVariant(g, a).LOAD, name).toBe('gemm');
  });
});

describeGpu('codec kernels vs CPU reference', () => {
  const gpu = async () => new GpuCodecBackend(await gpuContext());

  const gdnCase = (C: number, H: number, W: number) => {
    const r = rng(C * 7 + H);
    const x = randn(r, C * H * W, 2);
    const beta = Float32Array.from({ length: C }, () => 0.2 + 1.8 * r());
    const gamma = Float32Array.from({ length: C * C }, (_, i) => (i % (C + 1) === 0 ? 0.1 + r() : r() < 0.3 ? 0.05 * r() : 0));
    return { x, beta, gamma };
  };
  // C odd / not a multiple of 4 (scalar loads) or of 64 (channel tails); P not a multiple of the 4/16/64/128-pixel tiles;
  // the last two use the large software tile (M·C² ≥ CONV_SMALL_WORK) with both a vec4 (128) and a scalar (130) C.
  for (const [C, H, W, inverse] of [
    [13, 5, 7, false],
    [70, 3, 9, true],
    [128, 6, 5, false],
    [3, 1, 1, true],
    [64, 17, 19, true],
    [1, 3, 2, false],
    [130, 7, 11, false],
    [128, 67, 65, false],
    [130, 65, 67, true],
  ] as const) {
    it(`GDN C${C} ${H}x${W}${inverse ? ' inverse' : ''}`, async () => {
      const g = await gpu();
      const { x, beta, gamma } = gdnCase(C, H, W);
      const ref = gdnRef(x, C, H * W, beta, gamma, inverse);
      const got = await checked(g.ctx, 'gdn', async () => {
        const h = g.prepareGdn(beta, gamma, C, inverse);
        const xt = g.fromCHW(x, C, H, W);
        const y = g.gdn(xt, h);
        const out = await g.toCHW(y);
        g.release(xt, y);
        h.release();
        return out;
      });
      // float32 sum of C terms + (inverse)sqrt: a few ulps relative.
      expectClose(got, ref, 1e-5, 2e-5, 'gdn');
    });
  }

  it('GDN and IGDN with the tile every adapter class selects (real-GPU tiles run here), C68 9x11', async () => {
    const g = await gpu();
    const C = 68,
      H = 9,
      W = 11;
    const { x, beta, gamma } = gdnCase(C, H, W);
    const geo: ConvGeometry = { M: H * W, C, OC: C, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, transposed: false };
    const local = {
      maxInvocations: g.ctx.limits.maxComputeInvocationsPerWorkgroup,
      maxWorkgroupStorage: g.ctx.limits.maxComputeWorkgroupStorageSize,
    };
    const seen = new Map<string, string>();
    for (const [name, a] of Object.entries(EXAMPLE_ADAPTERS)) {
      const v = selectConvVariant(geo, a);
      if (!seen.has(JSON.stringify(v)) && convVariantProblem(v, geo, local) === null) seen.set(JSON.stringify(v), name);
    }
    expect(seen.size).toBeGreaterThanOrEqual(3);
    await checked(g.ctx, 'gdn variants', async () => {
      const xt = g.fromCHW(x, C, H, W);
      for (const inverse of [false, true]) {
        const ref = gdnRef(x, C, H * W, beta, gamma, inverse);
        const h = prepareGdn(g.ctx, beta, gamma, C, inverse);
        for (const [key, name] of seen) {
          const y = conv2d(g.ctx, xt, h.conv, { gdn: inverse ? 'inverse' : 'forward', variant: JSON.parse(key) });
          expectClose(await g.toCHW(y), ref, 1e-5, 2e-5, `${inverse ? 'igdn' : 'gdn'} as ${name} ${key}`);
          g.release(y);
        }
        h.release();
      }
      g.release(xt);
    });
  });

  it('GDN: typed errors for mismatched parameters, channels, layout and convs the epilogue cannot fuse into', async () => {
    const g = await gpu();
    const { x, beta, gamma } = gdnCase(8, 2, 3);
    expect(() => g.prepareGdn(beta, gamma.subarray(1), 8, false)).toThrow(GpuShapeError);
    await checked(g.ctx, 'gdn errors', async () => {
      const h = g.prepareGdn(beta, gamma, 8, false) as GdnWeights;
      const xt = g.fromCHW(x, 8, 2, 3);
      const x4 = g.fromCHW(x.subarray(0, 24), 4, 2, 3);
      expect(() => g.gdn(x4, h)).toThrow(/GDN over 4 channels, parameters for 8/);
      const chw = g.ctx.upload(x, [8, 2, 3]);
      expect(chw.layout).not.toBe('hwc');
      expect(() => gdn(g.ctx, chw, h)).toThrow(/HWC/);
      const ints = g.fromCHWInt(new Int32Array(48), 8, 2, 3);
      expect(() => gdn(g.ctx, ints, h)).toThrow(/f32/);
      const w3 = prepareConv(g.ctx, new Float32Array(8 * 8 * 9), [8, 8, 3, 3], null);
      expect(() => conv2d(g.ctx, xt, w3, { pad: 1, gdn: 'forward' })).toThrow(/1x1/);
      expect(() => conv2d(g.ctx, xt, h.conv, { gdn: 'forward', relu: true })).toThrow(/ReLU/);
      expect(() => conv2d(g.ctx, xt, h.conv, { gdn: 'sideways' as 'forward' })).toThrow(/'forward' or 'inverse'/);
      w3.release();
      h.release();
      g.release(xt, x4, chw, ints);
    });
  });

  it('quantize / dequantize (round half to even, per-channel means) match the reference exactly', async () => {
    const g = await gpu();
    const C = 11,
      H = 3,
      W = 5;
    const r = rng(5);
    const x = randn(r, C * H * W, 20);
    for (let i = 0; i < 12; i++) x[i] = i - 6 + 0.5; // exact ties
    const means = Float32Array.from({ length: C }, (_, c) => (c % 3 === 0 ? 0 : Math.fround(r() * 4 - 2)));
    await checked(g.ctx, 'quant', async () => {
      for (const m of [null, means]) {
        const mv = m ? g.prepareChannelVec(m) : null,
          mc = m ? cpu.prepareChannelVec(m) : null;
        const xt = g.fromCHW(x, C, H, W);
        const s = g.quantize(xt, mv);
        const sym = await g.toCHWInt(s);
        const ref = await cpu.toCHWInt(cpu.quantize(cpu.fromCHW(x, C, H, W), mc));
        expect(Array.from(sym)).toEqual(Array.from(ref));
        if (!m) expect(Array.from(sym.slice(0, 12))).toEqual([-6, -4, -4, -2, -2, 0, 0, 2, 2, 4, 4, 6]);
        const d = g.dequantize(s, mv);
        const back = await g.toCHW(d);
        const refBack = await cpu.toCHW(cpu.dequantize(cpu.fromCHWInt(ref, C, H, W), mc));
        expect(Array.from(back)).toEqual(Array.from(refBack));
        g.release(xt, s, d);
        mv?.release();
      }
    });
  });

  it('build_indexes at and around every scale-table boundary', async () => {
    const g = await gpu();
    const vals: number[] = [0, -1, 0.05, 0.11, 300, 1e30, nextDown(0.11)];
    for (const t of SCALE_TABLE) vals.push(t, nextUp(t), nextDown(t));
    const n = vals.length;
    const s = Float32Array.from(vals);
    const got = await checked(g.ctx, 'indexes', async () => {
      const tab = g.prepareScaleTable(SCALE_TABLE, 0.11);
      const st = g.fromCHW(s, 1, 1, n);
      const it = g.buildIndexes(st, tab);
      const out = await g.toCHWInt(it);
      g.release(st, it);
      tab.release();
      return out;
    });
    const ref = await cpu.toCHWInt(cpu.buildIndexes(cpu.fromCHW(s, 1, 1, n), cpu.prepareScaleTable(SCALE_TABLE, 0.11)));
    expect(Array.from(got)).toEqual(Array.from(ref));
    for (let k = 0; k < 63; k++) {
      expect(ref[7 + 3 * k]).toBe(k); // s == table[k] -> k
      expect(ref[7 + 3 * k + 1]).toBe(k + 1); // just above -> k + 1
      expect(ref[7 + 3 * k + 2]).toBe(k); // just below -> k
    }
  });

  for (const [C, H, W, OC, K, S, transposed] of [
    [7, 3, 4, 5, 5, 2, true],
    [16, 5, 3, 9, 3, 1, false],
    [5, 4, 4, 6, 5, 2, false],
  ] as const) {
    it(`exact int conv C${C} ${H}x${W} -> ${OC} k${K} s${S}${transposed ? ' transposed' : ''}, requant, max, indexes`, async () => {
      const g = await gpu();
      const r = rng(C + OC);
      const a = Int32Array.from({ length: C * H * W }, () => Math.round((r() * 2 - 1) * 32767));
      const shape = transposed ? [C, OC, K, K] : [OC, C, K, K];
      const wq = Int32Array.from({ length: C * OC * K * K }, () => Math.round((r() * 2 - 1) * 32767));
      const bh = Int32Array.from({ length: OC }, () => Math.round((r() * 2 - 1) * 2 ** 20));
      const bl = Int32Array.from({ length: OC }, () => Math.floor(r() * 65536));
      const opts = { stride: S, pad: Math.floor(K / 2), outputPadding: transposed ? S - 1 : 0 };
      const ch = cpu.prepareIntConv(wq, shape, transposed);
      const accC = cpu.intConv(cpu.fromCHWInt(a, C, H, W), ch, bh, bl, opts);
      const [, OH, OW] = accC.hi.shape as [number, number, number];
      const refHi = await cpu.toCHWInt(accC.hi),
        refLo = await cpu.toCHWInt(accC.lo);
      const mh = await cpu.intMaxHi(accC);
      const shift = requantShift(mh);
      const refQ = await cpu.toCHWInt(cpu.intRequant(accC, shift));
      const refQ0 = await cpu.toCHWInt(cpu.intRequant(accC, 20));
      // thresholds placed exactly at accumulator values (and ±1) of the first elements
      const T: number[] = [];
      for (let i = 0; i < 20; i++) T.push(Math.max(0, refHi[i]! * 65536 + refLo[i]! + ((i % 3) - 1)));
      T.sort((x, y) => x - y);
      const th = Int32Array.from(T, (v) => splitHiLo(v)[0]),
        tl = Int32Array.from(T, (v) => splitHiLo(v)[1]);
      const refIdx = await cpu.toCHWInt(cpu.intIndexes(accC, th, tl));
      await checked(g.ctx, 'intconv', async () => {
        const hg = g.prepareIntConv(wq, shape, transposed);
        const xt = g.fromCHWInt(a, C, H, W);
        const acc = g.intConv(xt, hg, bh, bl, opts);
        expect(acc.hi.shape).toEqual([OC, OH, OW]);
        expect(Array.from(await g.toCHWInt(acc.hi))).toEqual(Array.from(refHi));
        expect(Array.from(await g.toCHWInt(acc.lo))).toEqual(Array.from(refLo));
        expect(await g.intMaxHi(acc)).toBe(mh);
        for (const [s, ref] of [
          [shift, refQ],
          [20, refQ0],
        ] as const) {
          const q = g.intRequant(acc, s);
          expect(Array.from(await g.toCHWInt(q))).toEqual(Array.from(ref));
          g.release(q);
        }
        const idx = g.intIndexes(acc, th, tl);
        expect(Array.from(await g.toCHWInt(idx))).toEqual(Array.from(refIdx));
        g.release(xt, acc.hi, acc.lo, idx);
        hg.release();
      });
    });
  }

  it('requant kernel for every shift 0..47 on hand-picked accumulators', async () => {
    const g = await gpu();
    const vals = [0, 1, 32767, 32768, 65535, 65536, 2 ** 20 + 12345, 2 ** 31 + 7, 2 ** 40 - 1, 2 ** 45 + 2 ** 30, -5];
    const hi = Int32Array.from(vals, (v) => splitHiLo(v)[0]),
      lo = Int32Array.from(vals, (v) => splitHiLo(v)[1]);
    await checked(g.ctx, 'requant', async () => {
      const acc = { hi: g.fromCHWInt(hi, 1, 1, vals.length), lo: g.fromCHWInt(lo, 1, 1, vals.length) };
      for (let s = 0; s <= 47; s++) {
        const q = g.intRequant(acc, s);
        const got = await g.toCHWInt(q);
        expect(Array.from(got), `shift ${s}`).toEqual(vals.map((v) => requantValue(v, s)));
        g.release(q);
      }
      g.release(acc.hi, acc.lo);
    });
  });

  it('feature quantizer: exact min/max, correctly rounded division at ties, padding, dequantize with crop', async () => {
    const g = await gpu();
    const C = 6,
      H = 7,
      W = 9;
    const r = rng(11);
    const F = Float32Array.from({ length: C * H * W }, () => Math.fround(r() * 9));
    F[3] = 0;
    F[10] = 9.5;
    const q = quantParams(0, 9.5);
    // values whose quotient lies within an ulp of a .5 tie (the division must be correctly rounded)
    for (let i = 0; i < 60; i++) {
      const k = i % 255;
      let v = Math.fround((k + 0.5) * q.scale);
      if (i % 3 === 1) v = nextUp(v);
      else if (i % 3 === 2) v = nextDown(v);
      F[20 + i] = v;
    }
    const pad = [2, 1, 3, 0] as const;
    await checked(g.ctx, 'featquant', async () => {
      const xt = g.fromCHW(F, C, H, W);
      expect(await g.minMax(xt)).toEqual(await cpu.minMax(cpu.fromCHW(F, C, H, W)));
      // non-finite inputs must surface as a non-finite min or max (GPU min/max may skip NaN)
      for (const bad of [NaN, Infinity, -Infinity]) {
        const Fb = F.slice();
        Fb[Fb.length - 7] = bad;
        const tb = g.fromCHW(Fb, C, H, W);
        const [mnb, mxb] = await g.minMax(tb);
        expect(Number.isFinite(mnb) && Number.isFinite(mxb), `minMax with ${bad}`).toBe(false);
        g.release(tb);
      }
      const x8 = g.quantize8(xt, q.mn, q.scale, pad);
      expect(x8.shape).toEqual([C, H + 5, W + 1]);
      const got = await g.toCHW(x8);
      const ref = await cpu.toCHW(cpu.quantize8(cpu.fromCHW(F, C, H, W), q.mn, q.scale, pad));
      expect(Array.from(got)).toEqual(Array.from(ref));
      const xh = randn(r, got.length, 0.7).map((v) => v + 0.5);
      const xht = g.fromCHW(xh, C, H + 5, W + 1);
      const back = g.dequantize8(xht, q.mn, q.range, [2, 1, H, W]);
      const refBack = await cpu.toCHW(cpu.dequantize8(cpu.fromCHW(xh, C, H + 5, W + 1), q.mn, q.range, [2, 1, H, W]));
      expect(Array.from(await g.toCHW(back))).toEqual(Array.from(refBack));
      g.release(xt, x8, xht, back);
    });
  });
});

// GpuCodecBackend's deconvs go through the core conv: stride 2 in its sub-pixel mode (ops/conv.ts selectConvMode,
// packSubpixel; kernel-level cases in test/gpu/conv-variants.test.ts), stride 1 in the gather form.
describeGpu('codec backend stride-2 transposed conv (core sub-pixel mode) vs CPU reference', () => {
  for (const [C, H, W, OC, K, pad, op, relu] of [
    [7, 5, 3, 5, 5, 2, 1, false],
    [64, 4, 6, 13, 5, 2, 1, true],
    [16, 3, 3, 8, 3, 1, 1, false],
    [12, 2, 5, 4, 4, 1, 0, true],
    [128, 2, 3, 128, 5, 2, 1, true],
  ] as const) {
    it(`C${C} ${H}x${W} -> ${OC} k${K} p${pad} op${op}${relu ? ' relu' : ''}`, async () => {
      const { convTranspose2dRef } = await import('../../src/cpu/conv.ts');
      const g = new GpuCodecBackend(await gpuContext());
      const r = rng(C * 31 + OC);
      const x = randn(r, C * H * W);
      const w = randn(r, C * OC * K * K, 1 / Math.sqrt(C * K));
      const b = randn(r, OC, 0.1);
      const ref = convTranspose2dRef({ data: x, c: C, h: H, w: W }, w, [C, OC, K, K], b, { stride: 2, pad, outputPadding: op });
      const refData = relu ? ref.data.map((v) => Math.max(v, 0)) : ref.data;
      const got = await checked(g.ctx, 'deconv2', async () => {
        const h = g.prepareConv(w, [C, OC, K, K], b, { transposed: true });
        const xt = g.fromCHW(x, C, H, W);
        const y = g.conv2d(xt, h, { stride: 2, pad, outputPadding: op, relu });
        expect(y.shape).toEqual([OC, ref.h, ref.w]);
        const out = await g.toCHW(y);
        expect(selectConvMode({ transposed: true, KH: K, KW: K, SH: 2, SW: 2, PH: pad, PW: pad })).toBe('subpixel');
        expect([...((h as ConvWeights).subpixel?.keys() ?? [])]).toEqual([`${pad},${pad}`]); // class weights packed for this padding
        // stride 1 goes through the core's gather kernel
        const y1 = g.conv2d(xt, h, { stride: 1, pad: 1 });
        const ref1 = convTranspose2dRef({ data: x, c: C, h: H, w: W }, w, [C, OC, K, K], b, { stride: 1, pad: 1, outputPadding: 0 });
        expectClose(await g.toCHW(y1), ref1.data, 1e-4, 1e-4, 'deconv stride 1');
        g.release(xt, y, y1);
        h.release();
        return out;
      });
      expectClose(got, refData, 1e-4, 1e-4, 'deconv stride 2');
    });
  }
});
