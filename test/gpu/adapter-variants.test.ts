// Variant choice per adapter class (src/gpu/adapter-class.ts + selectConvVariant): classification of GPUAdapterInfo,
// the tiles each class gets (pure), and the variants chosen for every example adapter run on this machine's adapter
// (lavapipe / SwiftShader) against the CPU reference, so a real-GPU selection is verified here and not only on a GPU.
import { describe, expect, it } from 'vitest';
import { conv2dRef } from '../../src/cpu/conv.ts';
import { classifyAdapter, describeAdapter, EXAMPLE_ADAPTERS, SOFTWARE_DEFAULT } from '../../src/gpu/adapter-class.ts';
import { adapterOf, conv2d, convVariantProblem, prepareConv, selectConvVariant, type ConvGeometry } from '../../src/gpu/ops/conv.ts';
import { checked, describeGpu, expectClose, gpuContext, randomConv, rng } from '../helpers/gpu.ts';

// float32 sums over K ≤ 300 terms of O(1) values in another order than the float64 reference (as conv.test.ts).
const ATOL = 1e-4,
  RTOL = 1e-4;

describe('adapter classification (pure)', () => {
  it('software rasterizers, by name or the fallback flag', () => {
    expect(classifyAdapter({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe('software');
    expect(classifyAdapter({ vendor: 'google', description: 'SwiftShader Device (Subzero)' })).toBe('software');
    expect(classifyAdapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe('software');
    expect(classifyAdapter({ vendor: 'nvidia', isFallbackAdapter: true })).toBe('software');
  });
  it('discrete and integrated GPUs from vendor and description', () => {
    expect(classifyAdapter({ vendor: 'nvidia', architecture: 'hopper' })).toBe('discrete');
    expect(classifyAdapter({ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX' })).toBe('discrete');
    expect(classifyAdapter({ vendor: 'amd', architecture: 'rdna-2', description: 'AMD Radeon(TM) Graphics' })).toBe('integrated');
    expect(classifyAdapter({ vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) Iris(R) Xe Graphics' })).toBe('integrated');
    expect(classifyAdapter({ vendor: 'intel', architecture: 'xe-hpg', description: 'Intel(R) Arc(TM) A770 Graphics' })).toBe('discrete');
    expect(classifyAdapter({ vendor: 'apple', architecture: 'metal-3' })).toBe('integrated');
    expect(classifyAdapter({})).toBe('integrated');
  });
  it('describeAdapter carries limits, subgroup sizes and shader-f16', () => {
    const d = describeAdapter(
      { vendor: 'NVIDIA', architecture: 'Hopper', subgroupMinSize: 32, subgroupMaxSize: 32 },
      { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 49152 },
      ['shader-f16', 'timestamp-query'],
    );
    expect(d).toEqual({
      class: 'discrete',
      vendor: 'nvidia',
      architecture: 'hopper',
      subgroupMinSize: 32,
      subgroupMaxSize: 32,
      maxInvocations: 1024,
      maxWorkgroupStorage: 49152,
      hasF16: true,
    });
  });
});

describe('conv2d variant per adapter class (pure)', () => {
  const big: ConvGeometry = { M: 200 * 304, C: 256, OC: 256, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, transposed: false };
  it('software keeps the lavapipe-measured tiles (the same as plain limits)', () => {
    expect(selectConvVariant(big, SOFTWARE_DEFAULT)).toEqual(selectConvVariant(big));
    expect(selectConvVariant(big, EXAMPLE_ADAPTERS.lavapipe!)).toMatchObject({ TM: 16, TN: 4, WGX: 4, WGY: 8 });
  });
  it('real GPUs get 4x4..8x8 outputs per invocation, vec4 loads, 64..256 invocations', () => {
    for (const [name, a] of Object.entries(EXAMPLE_ADAPTERS)) {
      if (a.class === 'software') continue;
      const v = selectConvVariant(big, a);
      const outs = v.TM * 4 * v.TN;
      expect(outs, name).toBeGreaterThanOrEqual(16);
      expect(outs, name).toBeLessThanOrEqual(64);
      expect(v.A4, name).toBe(true);
      expect(v.WGX * v.WGY, name).toBeGreaterThanOrEqual(64);
      expect(v.WGX * v.WGY, name).toBeLessThanOrEqual(256);
      expect(convVariantProblem(v, big, { maxInvocations: a.maxInvocations, maxWorkgroupStorage: a.maxWorkgroupStorage }), name).toBeNull();
    }
    expect(selectConvVariant(big, EXAMPLE_ADAPTERS['nvidia-hopper']!)).toEqual({
      WGX: 8,
      WGY: 16,
      TM: 8,
      TN: 2,
      BK: 16,
      LOAD: 'hoist',
      A4: true,
    });
    expect(selectConvVariant(big, EXAMPLE_ADAPTERS['intel-xe']!)).toEqual({
      WGX: 8,
      WGY: 8,
      TM: 8,
      TN: 1,
      BK: 16,
      LOAD: 'hoist',
      A4: true,
    });
  });
  it('real-GPU tiles shrink for few channels, small maps and tight limits', () => {
    const n = EXAMPLE_ADAPTERS['nvidia-hopper']!;
    expect(selectConvVariant({ ...big, OC: 3 }, n)).toMatchObject({ WGX: 1, TN: 1 });
    expect(selectConvVariant({ ...big, M: 20 }, n)).toMatchObject({ TM: 4, WGY: 4 });
    const tight = { ...n, maxInvocations: 64, maxWorkgroupStorage: 8192 };
    const v = selectConvVariant(big, tight);
    expect(v.WGX * v.WGY).toBeLessThanOrEqual(64);
    expect(convVariantProblem(v, big, { maxInvocations: 64, maxWorkgroupStorage: 8192 })).toBeNull();
  });
});

describeGpu('variants chosen for every adapter class, run here vs the CPU reference', () => {
  // a 3x3 conv with borders and OC not a multiple of 4 (one shape: each extra shape's pipelines cost lavapipe ~30 s;
  // the same tiles on the gemm loader are covered by conv-variants.test.ts's r8x2)
  const shapes = [{ name: '3x3 s1 p1 +relu', c: 12, h: 13, w: 11, oc: 37, k: 3, s: 1, p: 1, relu: true }];
  it('this machine classifies as a software adapter', async () => {
    const ctx = await gpuContext();
    expect(adapterOf(ctx).class).toBe('software');
  });
  for (const [si, s] of shapes.entries()) {
    it(`${s.name}: C${s.c} ${s.h}x${s.w} -> ${s.oc}`, async () => {
      const ctx = await gpuContext();
      const r = rng(777 + si);
      const { x, w, b, OH, OW } = randomConv(r, s);
      const ref = conv2dRef({ data: x, c: s.c, h: s.h, w: s.w }, w, [s.oc, s.c, s.k, s.k], b, { stride: s.s, pad: s.p, relu: s.relu }).data;
      const geo: ConvGeometry = { M: OH * OW, C: s.c, OC: s.oc, KH: s.k, KW: s.k, SH: s.s, SW: s.s, PH: s.p, PW: s.p, transposed: false };
      const local = {
        maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
        maxWorkgroupStorage: ctx.limits.maxComputeWorkgroupStorageSize,
      };
      // distinct variants only (each pipeline costs lavapipe a compile)
      const seen = new Map<string, string>();
      for (const [name, a] of Object.entries(EXAMPLE_ADAPTERS)) {
        const v = selectConvVariant({ ...geo, M: Math.max(geo.M, 65) }, a); // M ≥ 65: the 8-px tiles of real GPUs
        const key = JSON.stringify(v);
        if (!seen.has(key) && convVariantProblem(v, geo, local) === null) seen.set(key, name);
      }
      expect(seen.size).toBeGreaterThanOrEqual(3); // software, integrated, discrete tiles differ
      await checked(ctx, `adapter variants ${s.name}`, async () => {
        const xt = ctx.uploadCHW(x, s.c, s.h, s.w);
        const cw = prepareConv(ctx, w, [s.oc, s.c, s.k, s.k], b);
        for (const [key, name] of seen) {
          const y = conv2d(ctx, xt, cw, { stride: s.s, pad: s.p, relu: s.relu, variant: JSON.parse(key) });
          const got = await ctx.readCHW(y);
          y.release();
          expectClose(got, ref, ATOL, RTOL, `${s.name} as ${name} ${key}`);
        }
        xt.release();
        cw.release();
      });
    });
  }
});
