// The wasm SIMD128 kernels against the CPU reference (src/cpu): every conv shape family the graphs use (1×1, 3×3,
// 5×5 stride 2, the 7×7 stem, strided 1×1, the box head's fully connected layers as 1×1 convs over ROIs), transposed
// convs (CompressAI's 5×5 stride 2), GDN and inverse GDN, with the residual and ReLU epilogues, odd sizes that leave
// partial micro-tiles, and K deeper than one cache block. Tolerance |wasm − ref| ≤ atol + rtol·|ref|.
import { describe, expect, it } from 'vitest';
import { CpuBackend, CpuTensor } from '../../src/cpu/backend.ts';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { WasmBackend, WasmCodecBackend, WasmEngine, WasmShapeError, split } from '../../src/wasm/backend.ts';
import { maxWasmThreads } from '../../src/wasm/kernels.ts';
import { mulberry32 } from '../../src/util/random.ts';

const ATOL = 1e-5, RTOL = 1e-4;

function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (2 * r() - 1) * scale);
}

function expectClose(got: Float32Array, ref: Float32Array, what: string, atol = ATOL, rtol = RTOL): void {
  expect(got.length, what).toBe(ref.length);
  let worst = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const excess = Math.abs(got[i]! - ref[i]!) - (atol + rtol * Math.abs(ref[i]!));
    if (!(excess <= worst)) { worst = excess; at = i; }
  }
  expect(at, `${what}: index ${at}: wasm ${got[at]} vs ref ${ref[at]}`).toBe(-1);
}

interface Case { C: number; OC: number; K: number; H: number; W: number; stride: number; pad: number; relu?: boolean; residual?: boolean; bias?: boolean }

const convCases: Case[] = [
  { C: 3, OC: 64, K: 7, H: 37, W: 45, stride: 2, pad: 3, relu: true },           // the stem
  { C: 64, OC: 64, K: 1, H: 19, W: 23, stride: 1, pad: 0, relu: true },          // bottleneck conv1
  { C: 64, OC: 64, K: 3, H: 19, W: 23, stride: 1, pad: 1, relu: true },          // bottleneck conv2
  { C: 64, OC: 256, K: 1, H: 19, W: 23, stride: 1, pad: 0, relu: true, residual: true }, // conv3 + shortcut
  { C: 256, OC: 128, K: 1, H: 19, W: 23, stride: 2, pad: 0 },                    // stride in the 1×1
  { C: 64, OC: 128, K: 5, H: 20, W: 26, stride: 2, pad: 2 },                     // g_a
  { C: 192, OC: 128, K: 3, H: 9, W: 11, stride: 1, pad: 1, relu: true },         // h_a (K = 1728: several K blocks)
  { C: 7, OC: 5, K: 3, H: 5, W: 3, stride: 1, pad: 1, bias: false },             // odd everything, no bias
  { C: 300, OC: 6, K: 1, H: 1, W: 13, stride: 1, pad: 0, relu: true },           // FC over 13 "ROIs"
];

describe('wasm kernels vs the CPU reference', () => {
  it('conv2d: every shape family, residual and ReLU epilogues', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmBackend(engine), cpu = new CpuBackend();
    let seed = 1;
    for (const cs of convCases) {
      const what = JSON.stringify(cs);
      const wshape = [cs.OC, cs.C, cs.K, cs.K];
      const w = rand(cs.OC * cs.C * cs.K * cs.K, seed++, 1 / Math.sqrt(cs.C * cs.K * cs.K));
      const b = cs.bias === false ? null : rand(cs.OC, seed++);
      const x = rand(cs.C * cs.H * cs.W, seed++);
      const opts = { stride: cs.stride, pad: cs.pad, relu: cs.relu };
      const hw = wasm.prepareConv(w, wshape, b), hc = cpu.prepareConv(w, wshape, b);
      const ref0 = cpu.conv2d(cpu.fromCHW(x, cs.C, cs.H, cs.W), hc, opts);
      const res = cs.residual ? rand(ref0.data.length, seed++) : undefined;
      const ref = res ? cpu.conv2d(cpu.fromCHW(x, cs.C, cs.H, cs.W), hc, { ...opts, residual: new CpuTensor(res, ref0.shape) }) : ref0;
      const got = wasm.conv2d(wasm.fromCHW(x, cs.C, cs.H, cs.W), hw, { ...opts, residual: res ? new CpuTensor(res, ref0.shape) : undefined });
      expect(got.shape, what).toEqual(ref.shape);
      expectClose(got.f32, ref.f32, what);
      hw.release();
    }
    expect(engine.k.liveBytes, 'only the scratch stays allocated').toBeLessThanOrEqual(4 * engine.k.x.deconv_scratch(0));
  });

  it('conv_transpose2d: CompressAI deconvs and other geometries, with ReLU and residual', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmBackend(engine), cpu = new CpuBackend();
    const cases = [
      { C: 192, OC: 128, K: 5, H: 4, W: 5, stride: 2, pad: 2, op: 1 },   // g_s / h_s
      { C: 128, OC: 64, K: 5, H: 13, W: 17, stride: 2, pad: 2, op: 1 },
      { C: 130, OC: 3, K: 3, H: 7, W: 6, stride: 1, pad: 1, op: 0 },     // stride 1, K beyond one block of 256? no: 130
      { C: 300, OC: 5, K: 4, H: 3, W: 9, stride: 2, pad: 1, op: 0 },     // K = 300 > one K block
    ];
    let seed = 100;
    for (const cs of cases) {
      const what = JSON.stringify(cs);
      const wshape = [cs.C, cs.OC, cs.K, cs.K];
      const w = rand(cs.C * cs.OC * cs.K * cs.K, seed++, 1 / Math.sqrt(cs.C));
      const b = rand(cs.OC, seed++);
      const x = rand(cs.C * cs.H * cs.W, seed++);
      const o = { stride: cs.stride, pad: cs.pad, outputPadding: cs.op };
      const hw = wasm.prepareConv(w, wshape, b, { transposed: true }), hc = cpu.prepareConv(w, wshape, b, { transposed: true });
      const ref = cpu.conv2d(cpu.fromCHW(x, cs.C, cs.H, cs.W), hc, o);
      expectClose(wasm.conv2d(wasm.fromCHW(x, cs.C, cs.H, cs.W), hw, o).f32, ref.f32, what);
      const res = new CpuTensor(rand(ref.data.length, seed++), ref.shape);
      const ref2 = cpu.conv2d(cpu.fromCHW(x, cs.C, cs.H, cs.W), hc, { ...o, relu: true, residual: res });
      expectClose(wasm.conv2d(wasm.fromCHW(x, cs.C, cs.H, cs.W), hw, { ...o, relu: true, residual: res }).f32, ref2.f32, `${what} relu+residual`);
      hw.release();
    }
  });

  it('GDN and inverse GDN (the 1×1 conv of x² with an epilogue)', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmCodecBackend(engine), cpu = new CpuCodecBackend();
    for (const [C, H, W] of [[128, 11, 13], [192, 4, 5], [5, 3, 3], [300, 2, 7]] as const) {
      const beta = Float32Array.from(rand(C, C), (v) => 0.5 + Math.abs(v));
      const gamma = Float32Array.from(rand(C * C, C + 1), (v) => Math.abs(v) * 0.1);
      const x = rand(C * H * W, C + 2, 3);
      for (const inverse of [false, true]) {
        const ref = cpu.gdn(cpu.fromCHW(x, C, H, W), cpu.prepareGdn(beta, gamma, C, inverse));
        const g = wasm.prepareGdn(beta, gamma, C, inverse);
        expectClose(wasm.gdn(wasm.fromCHW(x, C, H, W), g).f32, ref.f32, `gdn C=${C} ${H}x${W} inverse=${inverse}`);
        g.release();
      }
    }
  });

  it('max pooling: bit-identical to the CPU reference (the stem\'s 3×3/2 pad 1, odd sizes, NaN, all-padding)', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmBackend(engine), cpu = new CpuBackend();
    for (const [C, H, W, k, s, p] of [[64, 37, 45, 3, 2, 1], [5, 8, 8, 2, 2, 0], [3, 7, 5, 3, 1, 1], [2, 4, 6, 3, 3, 2], [1, 3, 4101, 3, 2, 1]] as const) { // the last: rows wider than the kernel's row buffer
      const x = rand(C * H * W, C * H, 3);
      x[7] = NaN;
      const ref = cpu.maxPool2d(cpu.fromCHW(x, C, H, W), k, s, p), got = wasm.maxPool2d(wasm.fromCHW(x, C, H, W), k, s, p);
      expect(got.shape).toEqual(ref.shape);
      expect(Array.from(got.f32), `${C}x${H}x${W} k${k} s${s} p${p}`).toEqual(Array.from(ref.f32));
    }
    expect(() => wasm.maxPool2d(wasm.fromCHW(rand(4, 1), 1, 2, 2), 3, 1, 0)).toThrow(WasmShapeError);
  });

  it('f16 precision: weights and inputs rounded to binary16 as the CPU reference does', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmBackend(engine, { precision: 'f16' }), cpu = new CpuBackend({ precision: 'f16' });
    const w = rand(32 * 16 * 9, 7, 0.2), b = rand(32, 8), x = rand(16 * 10 * 12, 9);
    const ref = cpu.conv2d(cpu.fromCHW(x, 16, 10, 12), cpu.prepareConv(w, [32, 16, 3, 3], b), { pad: 1 });
    expectClose(wasm.conv2d(wasm.fromCHW(x, 16, 10, 12), wasm.prepareConv(w, [32, 16, 3, 3], b), { pad: 1 }).f32, ref.f32, 'f16 conv');
  });

  it('bad input: typed errors, released weights refused', async () => {
    const engine = await WasmEngine.create();
    const wasm = new WasmBackend(engine);
    expect(() => wasm.prepareConv(new Float32Array(10), [2, 2, 3, 3], null)).toThrow(WasmShapeError);
    const h = wasm.prepareConv(rand(2 * 3 * 9, 1), [2, 3, 3, 3], null);
    expect(() => wasm.conv2d(wasm.fromCHW(rand(4 * 5 * 5, 2), 4, 5, 5), h)).toThrow(WasmShapeError);
    expect(() => wasm.conv2d(wasm.fromCHW(rand(3 * 2 * 2, 2), 3, 2, 2), h)).toThrow(WasmShapeError); // empty output
    h.release();
    expect(() => wasm.conv2d(wasm.fromCHW(rand(3 * 5 * 5, 2), 3, 5, 5), h)).toThrow(/released/);
    const other = new WasmBackend(await WasmEngine.create());
    expect(() => other.conv2d(other.fromCHW(rand(3 * 5 * 5, 2), 3, 5, 5), wasm.prepareConv(rand(2 * 3 * 9, 1), [2, 3, 3, 3], null))).toThrow(/another wasm backend/);
  });

  it('threads: workers on a shared memory give bit-identical results to one thread', async () => {
    expect(split(10, 3, 1)).toEqual([[0, 3], [3, 6], [6, 10]]);
    expect(split(10, 4, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(split(3, 8, 1)).toEqual([[0, 1], [1, 2], [2, 3]]);
    const most = await maxWasmThreads(); // Node: workers always available, one per hardware thread
    expect(most).toBeGreaterThanOrEqual(2);
    const one = await WasmEngine.create(), two = await WasmEngine.create({ threads: most });
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(most);
    try {
      const b1 = new WasmCodecBackend(one), b2 = new WasmCodecBackend(two);
      const same = (a: Float32Array, b: Float32Array, what: string) => expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), what).toBe(0);
      const x = rand(64 * 23 * 29, 5);
      for (const [shape, o, tr] of [[[96, 64, 3, 3], { pad: 1, relu: true }, false], [[48, 64, 5, 5], { stride: 2, pad: 2 }, false],
        [[64, 50, 5, 5], { stride: 2, pad: 2, outputPadding: 1 }, true]] as const) {
        const w = rand(shape.reduce((a, c) => a * c, 1), 6, 0.05), bias = rand(tr ? shape[1] : shape[0], 7);
        const r1 = b1.conv2d(b1.fromCHW(x, 64, 23, 29), b1.prepareConv(w, shape, bias, { transposed: tr }), o);
        const r2 = b2.conv2d(b2.fromCHW(x, 64, 23, 29), b2.prepareConv(w, shape, bias, { transposed: tr }), o);
        same(r1.f32, r2.f32, `${shape} transposed=${tr}`);
      }
      const beta = Float32Array.from(rand(64, 8), (v) => 1 + Math.abs(v)), gamma = Float32Array.from(rand(64 * 64, 9), (v) => Math.abs(v) * 0.1);
      same(b1.gdn(b1.fromCHW(x, 64, 23, 29), b1.prepareGdn(beta, gamma, 64, false)).f32, b2.gdn(b2.fromCHW(x, 64, 23, 29), b2.prepareGdn(beta, gamma, 64, false)).f32, 'gdn');
    } finally {
      two.dispose();
    }
  });
});
