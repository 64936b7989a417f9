// Opt-in f16 convolutions (precision 'f16'): host-side binary16 rounding/packing (pure), the precision checks (pure),
// and the F16 kernel of shaders/conv2d.wgsl on this machine's adapter against the CPU reference fed the same
// f16-rounded operands. Products of two f16 values are exact in f32, so the GPU and the reference differ only in the
// order of the f32 sums: the f32 tolerance applies (atol 1e-4 + rtol 1e-4). The f32 run must differ from the f16 run
// (the f16 path is really taken) by no more than the rounding of the operands explains.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conv2dRef } from '../../src/cpu/conv.ts';
import { CpuBackend, CpuTensor } from '../../src/cpu/backend.ts';
import { GpuBackend } from '../../src/gpu/backend.ts';
import { GpuUnavailableError } from '../../src/gpu/errors.ts';
import { conv2d, prepareConv, type ConvVariant, type ConvWeights } from '../../src/gpu/ops/conv.ts';
import { F16_MAX, packF16, parsePrecision, precisionProblem, roundToF16 } from '../../src/util/f16.ts';
import { checked, compareClose, describeGpu, expectClose, gpuContext, randn, randomConv, rng, type ConvCase } from '../helpers/gpu.ts';

const ATOL = 1e-4,
  RTOL = 1e-4;

describe('binary16 on the host (pure)', () => {
  it('rounds to nearest, ties to even, keeps exact values', () => {
    const r = roundToF16(new Float32Array([1, -2, 0.1, 65504, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -24, 0]));
    expect([...r]).toEqual([1, -2, 0.0999755859375, 65504, 1, 1 + 2 ** -9, 2 ** -24, 0]);
  });
  it('packs two halves per u32, element 2i in the low half', () => {
    const u = packF16(new Float32Array([1, -2, 0.1, 65504]));
    expect([...u].map((v) => v.toString(16))).toEqual(['c0003c00', '7bff2e66']);
  });
  it('refuses values outside the f16 range and odd lengths, naming them', () => {
    expect(() => packF16(new Float32Array([0, F16_MAX * 2]), 'res5.conv1.weight')).toThrow(
      /res5\.conv1\.weight: value 131008 at index 1 does not fit in f16/,
    );
    expect(() => packF16(new Float32Array([0, NaN]))).toThrow(/does not fit in f16/);
    expect(() => packF16(new Float32Array(3))).toThrow(/odd number/);
  });
  it('parses precision and says what an adapter without shader-f16 lacks', () => {
    expect(parsePrecision(undefined)).toBe('f32');
    expect(parsePrecision('f16')).toBe('f16');
    expect(() => parsePrecision('fp16', '--precision')).toThrow(/--precision must be 'f32' or 'f16', got "fp16"/);
    expect(precisionProblem('f32', [])).toBeNull();
    expect(precisionProblem('f16', ['shader-f16'])).toBeNull();
    expect(precisionProblem('f16', ['timestamp-query'], 'SwiftShader')).toMatch(
      /needs the WebGPU feature 'shader-f16', which SwiftShader does not offer/,
    );
  });
  it('the CPU backend emulates f16 convs by rounding weights and inputs', async () => {
    const r = rng(5);
    const x = randn(r, 3 * 5 * 5),
      w = randn(r, 4 * 3 * 9, 0.3),
      b = randn(r, 4, 0.1);
    const f16 = new CpuBackend({ precision: 'f16' }),
      f32 = new CpuBackend();
    const y16 = (f16.conv2d(new CpuTensor(x, [3, 5, 5]), f16.prepareConv(w, [4, 3, 3, 3], b), { pad: 1 }) as CpuTensor).f32;
    const ref = conv2dRef({ data: roundToF16(x), c: 3, h: 5, w: 5 }, roundToF16(w), [4, 3, 3, 3], b, { pad: 1 }).data;
    expect([...y16]).toEqual([...ref]);
    const y32 = (f32.conv2d(new CpuTensor(x, [3, 5, 5]), f32.prepareConv(w, [4, 3, 3, 3], b), { pad: 1 }) as CpuTensor).f32;
    expect(compareClose(y16, y32, 0, 0).bad).toBeGreaterThan(0);
  });
});

describeGpu('f16 conv kernel vs the CPU reference with f16 operands', () => {
  // loaders: hoist (VEC_A and scalar), gemm, generic; small and big (> CONV_SMALL_WORK) register tiles
  const shapes: (ConvCase & { name: string; variant?: Partial<ConvVariant> })[] = [
    { name: '3x3 s1 p1 +relu +residual (hoist, vec4 A)', c: 8, h: 9, w: 11, oc: 12, k: 3, s: 1, p: 1, relu: true, residual: true },
    { name: '7x7 s2 p3 stem-like (hoist, scalar A)', c: 3, h: 17, w: 15, oc: 16, k: 7, s: 2, p: 3, relu: true },
    { name: '1x1 (gemm)', c: 16, h: 6, w: 7, oc: 37, k: 1, s: 1, p: 0 },
    { name: '3x3 s2 p1 (generic loader)', c: 8, h: 10, w: 9, oc: 8, k: 3, s: 2, p: 1, variant: { LOAD: 'generic' } },
    { name: '3x3 big tile', c: 64, h: 64, w: 64, oc: 64, k: 3, s: 1, p: 1, relu: true },
  ];
  it('this adapter has shader-f16 (lavapipe does; the f16 tests need it)', async () => {
    const ctx = await gpuContext();
    expect(ctx.features, `adapter ${ctx.info.description}: no shader-f16`).toContain('shader-f16');
  });
  for (const [si, s] of shapes.entries()) {
    it(s.name, async () => {
      const ctx = await gpuContext();
      const r = rng(900 + si);
      const { x, w, b, OH, OW } = randomConv(r, s);
      const res = s.residual ? randn(r, s.oc * OH * OW) : undefined;
      const shape = [s.oc, s.c, s.k, s.k];
      const ref16 = conv2dRef({ data: roundToF16(x), c: s.c, h: s.h, w: s.w }, roundToF16(w), shape, b, {
        stride: s.s,
        pad: s.p,
        relu: s.relu,
        residual: res,
      }).data;
      const ref32 = conv2dRef({ data: x, c: s.c, h: s.h, w: s.w }, w, shape, b, {
        stride: s.s,
        pad: s.p,
        relu: s.relu,
        residual: res,
      }).data;
      await checked(ctx, `f16 conv ${s.name}`, async () => {
        const xt = ctx.uploadCHW(x, s.c, s.h, s.w);
        const rt = res ? ctx.uploadCHW(res, s.oc, OH, OW) : undefined;
        const cw = prepareConv(ctx, w, shape, b, { precision: 'f16' });
        expect(cw.precision).toBe('f16');
        expect(cw.w.byteLength).toBe(s.k * s.k * s.c * Math.ceil(s.oc / 4) * 4 * 2); // half the f32 weights
        const y = conv2d(ctx, xt, cw, { stride: s.s, pad: s.p, relu: s.relu, residual: rt, variant: s.variant });
        const got = await ctx.readCHW(y);
        y.release();
        xt.release();
        rt?.release();
        cw.release();
        expectClose(got, ref16, ATOL, RTOL, `${s.name} vs f16 reference`);
        // and against exact f32: off by the operand rounding (relative 2^-11 per operand, K terms of O(1/sqrt(K)))
        const d = compareClose(got, ref32, 0, 0);
        expect(d.maxAbs).toBeGreaterThan(0);
        expectClose(got, ref32, 2e-2, 1e-2, `${s.name} vs f32 reference`);
      });
    });
  }
  it('a GPU backend with precision f16 prepares ordinary convs in f16 and transposed ones in f32', async () => {
    const ctx = await gpuContext();
    const be = new GpuBackend(ctx, { precision: 'f16' });
    const r = rng(3);
    const c = be.prepareConv(randn(r, 8 * 4 * 9), [8, 4, 3, 3], null) as unknown as ConvWeights;
    const t = be.prepareConv(randn(r, 4 * 8 * 25), [4, 8, 5, 5], null, { transposed: true }) as unknown as ConvWeights;
    expect(c.precision).toBe('f16');
    expect(t.precision).toBe('f32');
    c.release();
    t.release();
  });
  it('without shader-f16 the backend refuses f16 with a typed error that says the fix', async () => {
    const ctx = await gpuContext();
    const fake = Object.create(ctx, { features: { value: [] } });
    expect(() => new GpuBackend(fake, { precision: 'f16' })).toThrow(GpuUnavailableError);
    expect(() => new GpuBackend(fake, { precision: 'f16' })).toThrow(/shader-f16[\s\S]*fix: precision: 'f32'/);
  });
});

describeGpu('--precision on the CLI', () => {
  it('encode and decode take --precision f16 (the stream decodes with either precision); other values are usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-f16-cli-'));
    const cli = (...a: string[]) => spawnSync(process.execPath, ['bin/webvcm.js', ...a], { encoding: 'utf8', timeout: 240_000 });
    const enc = cli(
      'encode',
      'weights/world/example.png',
      '-o',
      join(dir, 'h.vcm'),
      '--precision',
      'f16',
      '--min-size',
      '128',
      '--max-size',
      '192',
      '--json',
    );
    expect(enc.status, enc.stderr).toBe(0);
    expect((JSON.parse(enc.stdout) as { bytes: number }).bytes).toBeGreaterThan(100);
    for (const p of ['f16', 'f32']) {
      const dec = cli('decode', join(dir, 'h.vcm'), '-o', join(dir, `${p}.json`), '--precision', p);
      expect(dec.status, dec.stderr).toBe(0);
      expect(dec.stdout).toMatch(/detections/);
    }
    const a = JSON.parse(readFileSync(join(dir, 'f16.json'), 'utf8')) as { scores: number[] };
    const b = JSON.parse(readFileSync(join(dir, 'f32.json'), 'utf8')) as { scores: number[] };
    expect(a.scores.length).toBeGreaterThan(0);
    expect(Math.abs(a.scores.length - b.scores.length)).toBeLessThanOrEqual(Math.max(2, b.scores.length * 0.2));
    const bad = cli('encode', 'weights/world/example.png', '-o', join(dir, 'x.vcm'), '--precision', 'f64');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--precision.*expected f32 or f16/);
  });
});
