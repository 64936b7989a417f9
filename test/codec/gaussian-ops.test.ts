// The mean-scale / variable-rate kernels (shaders/gaussian.wgsl) against their CPU reference (src/cpu/codec-backend.ts)
// on odd shapes: LeakyReLU, ·gain, quantize around / dequantize with means are exact (one float32 rounding each, the
// same on both); the VBR reconstruction (QuantABCD offsets summed in float32 on the GPU, float64 on the CPU) within
// |gpu − ref| ≤ 1e-5 + 1e-5·|ref|. Ties and zeros are included on purpose.
import { expect, it } from 'vitest';
import { CpuCodecBackend, offsetRef } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import type { Tensor } from '../../src/model/backend.ts';
import type { CodecOps, OffsetMlp } from '../../src/model/codec/ops.ts';
import { leakyRequantValue } from '../../src/model/codec/portable.ts';
import { checked, describeGpu, expectClose, gpuContext, randn, rng } from '../helpers/gpu.ts';

const cpu = new CpuCodecBackend();
const [C, H, W] = [7, 5, 9];
const n = C * H * W;

function mlp(r: () => number, H: number): OffsetMlp {
  const u = (k: number, s: number) => Float32Array.from({ length: k }, () => Math.fround((r() * 2 - 1) * s));
  return { hidden: H, w: [u(2 * H, 0.7), u(H * H, 0.3), u(H, 0.3)], b: [u(H, 0.2), u(H, 0.2), u(1, 0.1)] };
}

describeGpu('gaussian kernels: GPU against the CPU reference', () => {
  it('leakyRelu, scaleBy, quantizeAround, dequantizeAround: exact; dequantizeVbr within 1e-5', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const r = rng(5);
    const x = randn(r, n, 6);
    for (let i = 0; i < n; i += 11) x[i] = Math.fround(Math.round(x[i]!) + 0.5); // ties: round half to even
    x[3] = 0; x[4] = -0;
    const means = randn(r, n, 2);
    for (let i = 5; i < n; i += 13) means[i] = 0;
    const scales = Float32Array.from(randn(r, n, 3), Math.abs);
    const sym = Int32Array.from(randn(r, n, 4), (v) => Math.round(v));
    for (let i = 0; i < n; i += 7) sym[i] = 0;
    await checked(ctx, 'gaussian kernels', async () => {
      // one body for both backends (each tensor stays on the backend that made it)
      const both = <R>(f: (b: CodecOps<Tensor>) => Promise<R>) => Promise.all([f(cpu as unknown as CodecOps<Tensor>), f(gpu as unknown as CodecOps<Tensor>)]);
      const [lc, lg] = await both(async (b) => b.toCHW(b.leakyRelu(b.fromCHW(x, C, H, W))));
      expect(Array.from(lg)).toEqual(Array.from(lc));
      for (const g of [Math.fround(0.1), Math.fround(0.45), 1, Math.fround(3.7)]) {
        const [sc, sg] = await both(async (b) => b.toCHW(b.scaleBy(b.fromCHW(x, C, H, W), g)));
        expect(Array.from(sg), `scale ${g}`).toEqual(Array.from(sc));
      }
      const [qc, qg] = await both(async (b) => b.toCHWInt(b.quantizeAround(b.fromCHW(x, C, H, W), b.fromCHW(means, C, H, W))));
      expect(Array.from(qg)).toEqual(Array.from(qc));
      const [dc, dg] = await both(async (b) => b.toCHW(b.dequantizeAround(b.fromCHWInt(sym, C, H, W), b.fromCHW(means, C, H, W))));
      expect(Array.from(dg)).toEqual(Array.from(dc));
      const net = mlp(r, 12);
      for (const [g, withMeans] of [[Math.fround(0.2687), false], [Math.fround(1), true], [Math.fround(0.1), true]] as const) {
        const [vc, vg] = await both(async (b) => {
          const h = b.prepareOffsetMlp(net);
          const y = b.dequantizeVbr(b.fromCHWInt(sym, C, H, W), b.fromCHW(scales, C, H, W), withMeans ? (b.fromCHW(means, C, H, W)) : null, g, Math.fround(1 / g), Math.fround(0.11), h);
          return b.toCHW(y);
        });
        expectClose(vg, vc, 1e-5, 1e-5, `vbr gain ${g}`);
        for (let i = 0; i < n; i += 7) expect(vc[i]).toBe(withMeans ? means[i] : 0); // q = 0: no offset
      }
    });
    // the portable LeakyReLU requantization: exact, the same on both, at every shift regime (0, ≤ 16, ≥ 17)
    const hiLo = (v: number): [number, number] => { const h = Math.floor(v / 65536); return [h, v - h * 65536]; };
    const vals = [0, 1, -1, -65536, -65537, 65535, -(2 ** 40) - 12345, 2 ** 40, -(2 ** 46) + 1, -123456789, 987654321, -50, -51, -2047, -2048];
    for (let i = 0; vals.length < 105; i++) vals.push(Math.round((r() * 2 - 1) * 2 ** (10 + (i % 36))));
    const hi = Int32Array.from(vals, (v) => hiLo(v)[0]), lo = Int32Array.from(vals, (v) => hiLo(v)[1]);
    await checked(ctx, 'leaky requant', async () => {
      for (const shift of [0, 3, 16, 17, 30]) {
        const mk = (b: CodecOps<Tensor>) => ({ hi: b.fromCHWInt(hi, 3, 5, 7), lo: b.fromCHWInt(lo, 3, 5, 7) });
        const oc = await cpu.toCHWInt(cpu.intRequant(mk(cpu as unknown as CodecOps<Tensor>) as never, shift, true));
        const og = await gpu.toCHWInt(gpu.intRequant(mk(gpu as unknown as CodecOps<Tensor>) as never, shift, true));
        expect(Array.from(og), `shift ${shift}`).toEqual(Array.from(oc));
        vals.forEach((v, i) => expect(oc[i], `${v} >> ${shift}`).toBe(leakyRequantValue(v, shift)));
      }
    });
    expect([leakyRequantValue(-100, 0), leakyRequantValue(-50, 0), leakyRequantValue(-1e12, 0), leakyRequantValue(70000, 1)]).toEqual([-1, -1, -32762, 32767]);
    // the reference offset itself: a hand-computed one-unit MLP
    const one: OffsetMlp = { hidden: 1, w: [Float32Array.of(2, 3), Float32Array.of(0.5), Float32Array.of(-1)], b: [Float32Array.of(-1), Float32Array.of(0.25), Float32Array.of(0.125)] };
    // h0 = relu(2·0.5 + 3·0.25 − 1) = 0.75; h1 = relu(0.5·0.75 + 0.25) = 0.625; o = −0.625 + 0.125 = −0.5; offset = 0.5
    expect(offsetRef(one, 0.5, 0.25)).toBe(0.5);
  });
});
