// conv2d kernel variants (shaders/conv2d.wgsl specialised by selectConvVariant / the `variant` override): every A
// loader (generic, hoist, gemm), scalar and vec4 input loads, A tile scalar and vec4-over-pixels (A4), TN 1..4,
// odd workgroup / tile sizes, BK 4..32, against the CPU reference on seeded random shapes (odd sizes, borders,
// channel counts not divisible by 4, stride 2, residual + ReLU, transposed in the gather form); the sub-pixel mode of
// stride-2 transposed convs (one stride-1 conv per output parity class, OUT_MAP epilogue) on k2..k5 and odd shapes.
import { describe, expect, it } from 'vitest';
import { conv2dRef, convTranspose2dRef } from '../../src/cpu/conv.ts';
import { GpuShapeError } from '../../src/gpu/errors.ts';
import {
  CONV_SMALL_WORK,
  conv2d,
  convOutputSize,
  convVariantProblem,
  convVariantStorage,
  packSubpixel,
  prepareConv,
  selectConvLoad,
  selectConvMode,
  selectConvVariant,
  subpixelProblem,
  subpixelTaps,
  type ConvGeometry,
  type ConvVariant,
} from '../../src/gpu/ops/conv.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, randomConv, rng, type ConvCase } from '../helpers/gpu.ts';

// Same tolerance as conv.test.ts: float32 sums over K ≤ 400 terms of O(1) values, in another order than the float64
// reference: atol 1e-4 + rtol 1e-4.
const ATOL = 1e-4,
  RTOL = 1e-4;

/** Named overrides (few: each distinct pipeline costs lavapipe 1–7 s to compile on first use). */
const VARIANTS: Record<string, Partial<ConvVariant>> = {
  auto: {},
  big: { WGX: 4, WGY: 8, TM: 16, TN: 4, BK: 16, A4: true }, // what selectConvVariant picks for large problems
  legacy: { LOAD: 'generic', WGX: 16, WGY: 16, TM: 4, TN: 1, BK: 16, A4: false },
  r8x2: { WGX: 8, WGY: 8, TM: 8, TN: 2, BK: 16, A4: false },
  r12x3a4: { WGX: 2, WGY: 4, TM: 12, TN: 3, BK: 8, A4: true },
  r4x1a4bk32: { WGX: 4, WGY: 4, TM: 4, TN: 1, BK: 32, A4: true },
  odd: { WGX: 3, WGY: 3, TM: 5, TN: 4, BK: 4, A4: false },
};

interface Geo extends ConvCase {
  name: string;
  transposed?: boolean;
  variants: string[];
}

// Shapes drawn from a seeded generator inside each family, so sizes are odd/unaligned but reproducible.
const r0 = rng(20240611);
const pick = (lo: number, hi: number) => lo + Math.floor(r0() * (hi - lo + 1));
const not4 = (lo: number, hi: number) => {
  let v = pick(lo, hi);
  if (v % 4 === 0) v++;
  return v;
};
const mul4 = (lo: number, hi: number) => 4 * pick(Math.ceil(lo / 4), Math.floor(hi / 4));
const GEOS: Geo[] = [
  {
    name: '3x3 s1 vec4 C, OC not /4, +res relu',
    c: mul4(8, 24),
    h: not4(9, 15),
    w: not4(7, 13),
    oc: not4(33, 71),
    k: 3,
    s: 1,
    p: 1,
    relu: true,
    residual: true,
    variants: ['auto', 'big', 'odd'],
  },
  {
    name: '3x3 s2 scalar C',
    c: not4(5, 11),
    h: not4(9, 14),
    w: not4(8, 12),
    oc: not4(5, 13),
    k: 3,
    s: 2,
    p: 1,
    variants: ['auto', 'big', 'r4x1a4bk32'],
  },
  {
    name: '1x1 gemm vec4 C, +res relu',
    c: mul4(12, 40),
    h: not4(5, 9),
    w: not4(5, 9),
    oc: not4(17, 35),
    k: 1,
    s: 1,
    p: 0,
    relu: true,
    residual: true,
    variants: ['auto', 'big', 'r8x2'],
  },
  {
    name: '1x1 gemm scalar C',
    c: not4(3, 9),
    h: not4(6, 10),
    w: not4(7, 11),
    oc: not4(6, 10),
    k: 1,
    s: 1,
    p: 0,
    variants: ['auto', 'big'],
  },
  {
    name: '1x1 s2 (hoist) vec4 C',
    c: mul4(8, 16),
    h: not4(9, 13),
    w: not4(9, 13),
    oc: not4(9, 15),
    k: 1,
    s: 2,
    p: 0,
    relu: true,
    variants: ['r12x3a4'],
  },
  { name: '7x7 s2 stem-like C=3, relu', c: 3, h: not4(15, 21), w: not4(13, 19), oc: 16, k: 7, s: 2, p: 3, relu: true, variants: ['auto'] },
  {
    name: '5x5 s2 CompressAI-like',
    c: mul4(16, 24),
    h: not4(10, 14),
    w: not4(9, 13),
    oc: mul4(8, 16),
    k: 5,
    s: 2,
    p: 2,
    variants: ['auto'],
  },
  { name: '3x3 on a 1x2 map (all border), C=5', c: 5, h: 1, w: 2, oc: 3, k: 3, s: 1, p: 1, variants: ['auto'] },
  // the gather form of the transposed conv (stride 2 would select the sub-pixel mode: forced with mode 'gather')
  {
    name: 'transposed 5x5/2 gather vec4 C, +res relu',
    c: mul4(8, 12),
    h: not4(3, 5),
    w: not4(3, 6),
    oc: not4(5, 9),
    k: 5,
    s: 2,
    p: 2,
    relu: true,
    residual: true,
    transposed: true,
    variants: ['auto', 'big', 'legacy'],
  },
  {
    name: 'transposed 5x5/2 gather scalar C',
    c: not4(3, 7),
    h: not4(2, 5),
    w: not4(2, 5),
    oc: not4(9, 17),
    k: 5,
    s: 2,
    p: 2,
    transposed: true,
    variants: ['auto'],
  },
];

function geometry(g: Geo): ConvGeometry {
  const OH = convOutputSize(g.h, g.k, g.s, g.p, !!g.transposed, g.transposed ? g.s - 1 : 0);
  const OW = convOutputSize(g.w, g.k, g.s, g.p, !!g.transposed, g.transposed ? g.s - 1 : 0);
  return { M: OH * OW, C: g.c, OC: g.oc, KH: g.k, KW: g.k, SH: g.s, SW: g.s, PH: g.p, PW: g.p, transposed: !!g.transposed };
}

describeGpu('conv2d variants vs CPU reference', () => {
  for (const [gi, g] of GEOS.entries()) {
    it(`${g.name}: C${g.c} ${g.h}x${g.w} -> ${g.oc} k${g.k} s${g.s} [${g.variants.join(', ')}]`, async () => {
      const ctx = await gpuContext();
      const r = rng(1000 + gi);
      const { x, w, b } = randomConv(r, g); // (its output size is an ordinary conv's; a transposed one's follows)
      const geo = geometry(g);
      const op = g.transposed ? g.s - 1 : 0;
      const OH = convOutputSize(g.h, g.k, g.s, g.p, !!g.transposed, op),
        OW = convOutputSize(g.w, g.k, g.s, g.p, !!g.transposed, op);
      const resData = g.residual ? randn(r, g.oc * OH * OW) : undefined;
      let ref: Float32Array;
      if (g.transposed) {
        const t = convTranspose2dRef({ data: x, c: g.c, h: g.h, w: g.w }, w, [g.c, g.oc, g.k, g.k], b, {
          stride: g.s,
          pad: g.p,
          outputPadding: op,
        });
        expect([t.h, t.w]).toEqual([OH, OW]);
        ref = t.data.map((v, i) => {
          const s = v + (resData ? resData[i]! : 0);
          return g.relu ? Math.max(0, s) : s;
        });
      } else {
        const t = conv2dRef({ data: x, c: g.c, h: g.h, w: g.w }, w, [g.oc, g.c, g.k, g.k], b, {
          stride: g.s,
          pad: g.p,
          relu: g.relu,
          residual: resData,
        });
        expect([t.h, t.w]).toEqual([OH, OW]);
        ref = t.data;
      }
      const limits = {
        maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
        maxWorkgroupStorage: ctx.limits.maxComputeWorkgroupStorageSize,
      };
      await checked(ctx, `conv variants ${g.name}`, async () => {
        const xt = ctx.uploadCHW(x, g.c, g.h, g.w);
        const cw = prepareConv(ctx, w, g.transposed ? [g.c, g.oc, g.k, g.k] : [g.oc, g.c, g.k, g.k], b, { transposed: !!g.transposed });
        const res = resData ? ctx.uploadCHW(resData, g.oc, OH, OW) : undefined;
        for (const name of g.variants) {
          const variant = VARIANTS[name]!;
          const full = { ...selectConvVariant(geo, limits), ...variant };
          expect(convVariantProblem(full, geo, limits), `${name} is valid here`).toBeNull();
          const y = conv2d(ctx, xt, cw, {
            stride: g.s,
            pad: g.p,
            outputPadding: op,
            relu: g.relu,
            residual: res,
            variant,
            mode: g.transposed ? 'gather' : undefined,
          });
          expect(y.shape).toEqual([g.oc, OH, OW]);
          const got = await ctx.readCHW(y);
          y.release();
          expectClose(got, ref, ATOL, RTOL, `${g.name} variant ${name} ${JSON.stringify(full)}`);
        }
        xt.release();
        res?.release();
        cw.release();
      });
    });
  }

  it('rejects an invalid variant override with a typed error', async () => {
    const ctx = await gpuContext();
    const xt = ctx.uploadCHW(new Float32Array(4 * 5 * 5), 4, 5, 5);
    const cw = prepareConv(ctx, new Float32Array(8 * 4 * 9), [8, 4, 3, 3], null);
    expect(() => conv2d(ctx, xt, cw, { pad: 1, variant: { LOAD: 'gemm' } })).toThrow(GpuShapeError);
    expect(() => conv2d(ctx, xt, cw, { pad: 1, variant: { WGX: 64, WGY: 64 } })).toThrow(/invocations/);
    expect(() => conv2d(ctx, xt, cw, { pad: 1, variant: { TM: 6, A4: true } })).toThrow(/A4 needs TM % 4 == 0/);
    cw.release();
    xt.release();
  });
});

describe('conv2d variant selection (pure)', () => {
  const base: ConvGeometry = { M: 200 * 304, C: 256, OC: 256, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, transposed: false };

  it('chooses the A loader from the geometry', () => {
    expect(selectConvLoad(base)).toBe('hoist');
    expect(selectConvLoad({ ...base, KH: 1, KW: 1, PH: 0, PW: 0 })).toBe('gemm');
    expect(selectConvLoad({ ...base, KH: 1, KW: 1, PH: 0, PW: 0, SH: 2, SW: 2 })).toBe('hoist');
    expect(selectConvLoad({ ...base, KH: 1, KW: 1, PH: 1, PW: 1 })).toBe('hoist');
    expect(selectConvLoad({ ...base, KH: 7, KW: 7, SH: 2, SW: 2, PH: 3, PW: 3, C: 3 })).toBe('hoist');
    expect(selectConvLoad({ ...base, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2, transposed: true })).toBe('generic');
  });

  it('small problems get the quick-to-compile 4 px x 1 vec4 tile on up to 16x16', () => {
    const small = { ...base, M: 9 * 11, C: 16, OC: 70 };
    expect(small.M * small.OC * 9 * small.C).toBeLessThan(CONV_SMALL_WORK);
    expect(selectConvVariant(small)).toEqual({ WGX: 16, WGY: 16, TM: 4, TN: 1, BK: 16, LOAD: 'hoist', A4: true });
    expect(selectConvVariant({ ...small, M: 5, OC: 3 })).toMatchObject({ WGX: 1, WGY: 1, TM: 4, TN: 1 });
  });

  it('big problems get the 16 px x 4 vec4 register tile on a 4x8 workgroup with the vec4 A tile', () => {
    expect(selectConvVariant(base)).toEqual({ WGX: 4, WGY: 8, TM: 16, TN: 4, BK: 16, LOAD: 'hoist', A4: true });
    expect(selectConvVariant({ ...base, KH: 1, KW: 1, PH: 0, PW: 0, C: 1024 }).LOAD).toBe('gemm');
  });

  it('few output channels shrink TN and WGX; small maps shrink WGY', () => {
    const v3 = selectConvVariant({ ...base, OC: 3 });
    expect([v3.TN, v3.WGX]).toEqual([1, 1]);
    const v12 = selectConvVariant({ ...base, OC: 12 });
    expect(v12.WGX * v12.TN * 4).toBeGreaterThanOrEqual(12);
    expect(v12.WGX * v12.TN).toBeLessThanOrEqual(3);
    const v1 = selectConvVariant({ ...base, M: 1 });
    expect(v1.WGY).toBe(1);
    const v100 = selectConvVariant({ ...base, M: 100, C: 2048 });
    expect(v100.TM).toBe(16);
    expect(v100.WGY * 16).toBeLessThanOrEqual(100);
  });

  it('every selection is valid and within the limits it is given', () => {
    for (const limits of [
      { maxInvocations: 256, maxWorkgroupStorage: 16384 },
      { maxInvocations: 8, maxWorkgroupStorage: 4096 },
      { maxInvocations: 1024, maxWorkgroupStorage: 32768 },
    ]) {
      for (const M of [1, 7, 95, 3800, 243200]) {
        for (const OC of [1, 3, 5, 8, 70, 256, 2048]) {
          for (const g of [base, { ...base, KH: 1, KW: 1, PH: 0, PW: 0 }, { ...base, transposed: true, SH: 2, SW: 2 }]) {
            const geo = { ...g, M, OC };
            const v = selectConvVariant(geo, limits);
            expect(convVariantProblem(v, geo, limits), JSON.stringify({ geo, limits, v })).toBeNull();
            expect(v.WGX * v.WGY).toBeLessThanOrEqual(limits.maxInvocations);
            expect(convVariantStorage(v)).toBeLessThanOrEqual(limits.maxWorkgroupStorage);
            if (geo.transposed) expect(v.LOAD).toBe('generic');
          }
        }
      }
    }
  });

  it('names what is wrong with an invalid variant', () => {
    const ok = selectConvVariant(base);
    expect(convVariantProblem(ok, base)).toBeNull();
    expect(convVariantProblem({ ...ok, TN: 5 }, base)).toMatch(/TN must be 1 to 4/);
    expect(convVariantProblem({ ...ok, BK: 6 }, base)).toMatch(/BK must be a multiple of 4/);
    expect(convVariantProblem({ ...ok, TM: 0 }, base)).toMatch(/TM must be a positive integer/);
    expect(convVariantProblem({ ...ok, TM: 10 }, base)).toMatch(/A4 needs TM % 4 == 0/);
    expect(convVariantProblem({ ...ok, WGX: 32, WGY: 16 }, base)).toMatch(/exceeds the device's 256 invocations/);
    expect(convVariantProblem({ ...ok, BK: 64, WGY: 16 }, base)).toMatch(/workgroup storage/);
    expect(convVariantProblem({ ...ok, LOAD: 'gemm' }, base)).toMatch(/needs a 1x1 kernel/);
    expect(convVariantProblem({ ...ok, LOAD: 'hoist' }, { ...base, transposed: true })).toMatch(
      /transposed convolutions need LOAD 'generic'/,
    );
  });
});

// Sub-pixel mode: CompressAI deconvs (k5 p2 op1) and other stride-2 transposed convs the mode supports (k2..k4, pads
// giving zero or one class padding, op 0/1), on seeded odd shapes; the tiny 1×1 / 1×2 maps make every class border.
interface SubGeo {
  c: number;
  h: number;
  w: number;
  oc: number;
  k: number;
  p: number;
  op: number;
  relu?: boolean;
  residual?: boolean;
  variants: string[];
}
const SUB_GEOS: SubGeo[] = [
  {
    c: mul4(8, 16),
    h: not4(3, 7),
    w: not4(3, 7),
    oc: not4(5, 13),
    k: 5,
    p: 2,
    op: 1,
    relu: true,
    residual: true,
    variants: ['auto', 'big', 'legacy'],
  },
  { c: not4(3, 9), h: not4(2, 7), w: not4(2, 7), oc: not4(3, 11), k: 5, p: 2, op: 1, variants: ['auto', 'odd'] },
  { c: not4(5, 9), h: 1, w: 2, oc: not4(3, 7), k: 5, p: 2, op: 1, variants: ['auto'] },
  { c: not4(3, 9), h: not4(3, 7), w: not4(3, 7), oc: not4(5, 11), k: 3, p: 1, op: 1, relu: true, variants: ['auto'] },
  { c: mul4(4, 12), h: not4(3, 6), w: not4(3, 6), oc: not4(3, 9), k: 3, p: 0, op: 0, variants: ['auto'] },
  { c: not4(3, 9), h: not4(3, 6), w: not4(3, 6), oc: not4(5, 9), k: 4, p: 1, op: 0, variants: ['auto'] },
  { c: not4(3, 9), h: not4(3, 6), w: not4(3, 6), oc: not4(5, 9), k: 4, p: 2, op: 1, variants: ['auto'] },
  { c: not4(3, 7), h: not4(3, 6), w: not4(3, 6), oc: not4(3, 7), k: 2, p: 0, op: 1, variants: ['auto'] },
];

describeGpu('transposed conv sub-pixel mode vs CPU reference', () => {
  for (const [gi, g] of SUB_GEOS.entries()) {
    it(`C${g.c} ${g.h}x${g.w} -> ${g.oc} k${g.k} s2 p${g.p} op${g.op}${g.relu ? ' relu' : ''}${g.residual ? ' +res' : ''} [${g.variants.join(', ')}]`, async () => {
      const ctx = await gpuContext();
      expect(selectConvMode({ transposed: true, KH: g.k, KW: g.k, SH: 2, SW: 2, PH: g.p, PW: g.p })).toBe('subpixel');
      const r = rng(5000 + gi);
      const x = randn(r, g.c * g.h * g.w);
      const w = randn(r, g.c * g.oc * g.k * g.k, 1 / Math.sqrt(g.c * g.k));
      const b = randn(r, g.oc, 0.1);
      const t = convTranspose2dRef({ data: x, c: g.c, h: g.h, w: g.w }, w, [g.c, g.oc, g.k, g.k], b, {
        stride: 2,
        pad: g.p,
        outputPadding: g.op,
      });
      const resData = g.residual ? randn(r, t.data.length) : undefined;
      const ref = t.data.map((v, i) => {
        const s = v + (resData ? resData[i]! : 0);
        return g.relu ? Math.max(0, s) : s;
      });
      await checked(ctx, `subpixel k${g.k}`, async () => {
        const xt = ctx.uploadCHW(x, g.c, g.h, g.w);
        const cw = prepareConv(ctx, w, [g.c, g.oc, g.k, g.k], b, { transposed: true });
        const res = resData ? ctx.uploadCHW(resData, g.oc, t.h, t.w) : undefined;
        for (const name of g.variants) {
          const y = conv2d(ctx, xt, cw, { stride: 2, pad: g.p, outputPadding: g.op, relu: g.relu, residual: res, variant: VARIANTS[name] });
          expect(y.shape).toEqual([g.oc, t.h, t.w]);
          const got = await ctx.readCHW(y);
          y.release();
          expectClose(got, ref, ATOL, RTOL, `sub-pixel k${g.k} p${g.p} op${g.op} variant ${name}`);
        }
        expect(cw.subpixel?.size).toBe(1); // class weights packed once per padding, reused by every variant
        xt.release();
        res?.release();
        cw.release();
      });
    });
  }

  it('rejects a sub-pixel override it cannot run, with a typed error', async () => {
    const ctx = await gpuContext();
    const xt = ctx.uploadCHW(new Float32Array(4 * 3 * 3), 4, 3, 3);
    const ct = prepareConv(ctx, new Float32Array(4 * 6 * 9), [4, 6, 3, 3], null, { transposed: true });
    expect(() => conv2d(ctx, xt, ct, { stride: 1, pad: 1, mode: 'subpixel' })).toThrow(/needs stride 2/);
    const cd = prepareConv(ctx, new Float32Array(6 * 4 * 9), [6, 4, 3, 3], null);
    expect(() => conv2d(ctx, xt, cd, { pad: 1, mode: 'gather' })).toThrow(GpuShapeError);
    ct.release();
    cd.release();
    xt.release();
  });
});

describe('transposed conv sub-pixel mode (pure)', () => {
  it('selects the mode from the geometry', () => {
    const g = { transposed: true, KH: 5, KW: 5, SH: 2, SW: 2, PH: 2, PW: 2 };
    expect(selectConvMode(g)).toBe('subpixel');
    expect(selectConvMode({ ...g, transposed: false })).toBe('direct');
    expect(selectConvMode({ ...g, SH: 1, SW: 1 })).toBe('gather');
    expect(selectConvMode({ ...g, SH: 3, SW: 3 })).toBe('gather');
    expect(selectConvMode({ ...g, KH: 1, KW: 1, PH: 0, PW: 0 })).toBe('gather');
    expect(selectConvMode({ ...g, PH: 4, PW: 4 })).toBe('gather'); // padding beyond the kernel's reach
    for (const k of [3, 4, 5, 7]) expect(selectConvMode({ ...g, KH: k, KW: k, PH: k >> 1, PW: k >> 1 }), `k${k}`).toBe('subpixel');
    expect(selectConvMode({ ...g, KH: 2, KW: 2, PH: 0, PW: 0 })).toBe('subpixel');
    expect(selectConvMode({ ...g, KH: 2, KW: 2, PH: 1, PW: 1 })).toBe('gather'); // odd class would need padding -1
    expect(subpixelProblem({ ...g, KH: 1 })).toMatch(/at least 2 taps/);
    expect(subpixelProblem({ ...g, PH: 4 })).toMatch(/padding within the kernel/);
  });

  it('class taps and paddings (k5 p2: 3 taps with padding 1 on even, 2 taps with padding 0 on odd positions)', () => {
    expect(subpixelTaps(5, 2, 0)).toEqual({ R: 0, NT: 3, pad: 1 });
    expect(subpixelTaps(5, 2, 1)).toEqual({ R: 1, NT: 2, pad: 0 });
    expect(subpixelTaps(3, 1, 0)).toEqual({ R: 1, NT: 1, pad: 0 });
    expect(subpixelTaps(3, 1, 1)).toEqual({ R: 0, NT: 2, pad: 0 });
    expect(subpixelTaps(4, 1, 0)).toEqual({ R: 1, NT: 2, pad: 1 });
  });

  it('packSubpixel classes, each run as a stride-1 conv with its padding, reproduce convTranspose2dRef (CPU)', () => {
    for (const [C, H, W, OC, K, pad, op] of [
      [3, 4, 5, 5, 5, 2, 1],
      [2, 3, 2, 3, 4, 1, 0],
      [5, 2, 3, 2, 3, 1, 1],
      [2, 3, 3, 6, 2, 0, 0],
    ] as const) {
      const r = rng(C * 100 + K);
      const x = randn(r, C * H * W),
        w = randn(r, C * OC * K * K);
      const ref = convTranspose2dRef({ data: x, c: C, h: H, w: W }, w, [C, OC, K, K], null, { stride: 2, pad, outputPadding: op });
      const got = new Float64Array(ref.data.length).fill(NaN);
      for (const [PY, PX] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const) {
        const s = packSubpixel(w, [C, OC, K, K], pad, PY, PX);
        for (let oy = PY; oy < ref.h; oy += 2)
          for (let ox = PX; ox < ref.w; ox += 2)
            for (let oc = 0; oc < OC; oc++) {
              const my = (oy - PY) / 2,
                mx = (ox - PX) / 2;
              let acc = 0;
              for (let a = 0; a < s.NTY; a++)
                for (let bb = 0; bb < s.NTX; bb++) {
                  const iy = my - s.PH + a,
                    ix = mx - s.PW + bb;
                  if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
                  for (let ci = 0; ci < C; ci++) acc += s.packed[((a * s.NTX + bb) * C + ci) * s.OCP + oc]! * x[(ci * H + iy) * W + ix]!;
                }
              got[(oc * ref.h + oy) * ref.w + ox] = acc;
            }
      }
      expectClose(Float32Array.from(got), ref.data, 1e-5, 1e-5, `packSubpixel k${K} p${pad} op${op}`);
    }
  });
});

it('every kernel variant knob is exercised by the GPU cases above', () => {
  const seen = new Set<string>();
  for (const g of GEOS) {
    const geo = geometry(g);
    for (const name of g.variants) {
      const v = { ...selectConvVariant(geo, { maxInvocations: 256, maxWorkgroupStorage: 16384 }), ...VARIANTS[name] };
      seen.add(`LOAD=${v.LOAD}/VEC_A=${g.c % 4 === 0}`);
      seen.add(`A4=${v.A4}`);
      seen.add(`TN=${v.TN}`);
      seen.add(`BK=${v.BK}`);
      if (g.residual && g.relu) seen.add(`res+relu/${v.LOAD}`);
    }
  }
  for (const want of [
    'LOAD=generic/VEC_A=true',
    'LOAD=generic/VEC_A=false',
    'LOAD=hoist/VEC_A=true',
    'LOAD=hoist/VEC_A=false',
    'LOAD=gemm/VEC_A=true',
    'LOAD=gemm/VEC_A=false',
    'A4=true',
    'A4=false',
    'TN=1',
    'TN=2',
    'TN=3',
    'TN=4',
    'BK=4',
    'BK=8',
    'BK=16',
    'BK=32',
    'res+relu/hoist',
    'res+relu/gemm',
    'res+relu/generic',
  ]) {
    expect(seen.has(want), want).toBe(true);
  }
});
