/** The CPU reference implementation of the graph op set: plain TypeScript, NCHW, slow but exact enough to test against. */
import type { Backend, ConvHandle, ConvOpts } from '../model/backend.ts';
import { conv2dRef, convTranspose2dRef, maxPool2dRef } from './conv.ts';
import { roundToF16, type Precision } from '../util/f16.ts';

export class CpuTensor {
  constructor(readonly data: Float32Array | Int32Array, readonly shape: readonly number[]) {}
  get chw(): [number, number, number] {
    if (this.shape.length !== 3) throw new Error(`expected [C,H,W], got [${this.shape.join(',')}]`);
    return this.shape as [number, number, number];
  }
  get f32(): Float32Array {
    if (!(this.data instanceof Float32Array)) throw new Error('expected a float32 tensor');
    return this.data;
  }
}

interface CpuConv extends ConvHandle { weight: Float32Array; shape: readonly number[]; bias: Float32Array | null; f16: boolean }

export class CpuBackend implements Backend<CpuTensor> {
  readonly kind: 'cpu' | 'wasm' = 'cpu';
  /**
   * 'f16' emulates the GPU's f16 convolutions (the reference for them): weights and each conv's input rounded to
   * binary16, products and sums in float64/float32 as for f32.
   */
  readonly precision: Precision;
  constructor(opts: { precision?: Precision } = {}) { this.precision = opts.precision ?? 'f32'; }
  fromCHW(data: Float32Array, c: number, h: number, w: number): CpuTensor {
    if (data.length !== c * h * w) throw new Error(`fromCHW: ${data.length} values for [${c},${h},${w}]`);
    return new CpuTensor(data.slice(), [c, h, w]);
  }
  async toCHW(t: CpuTensor): Promise<Float32Array> { return t.f32.slice(); }
  fromFlat(data: Float32Array | Int32Array, shape: readonly number[]): CpuTensor { return new CpuTensor(data.slice(), shape); }
  async readFlat(t: CpuTensor): Promise<Float32Array | Int32Array> { return t.data.slice(); }
  release(): void {}

  prepareConv(weight: Float32Array, shape: readonly number[], bias: Float32Array | null, opts: { transposed?: boolean; precision?: Precision } = {}): ConvHandle {
    const transposed = !!opts.transposed;
    const f16 = !transposed && (opts.precision ?? this.precision) === 'f16';
    const [d0, d1, KH, KW] = shape as [number, number, number, number];
    const h: CpuConv = { C: transposed ? d0 : d1, OC: transposed ? d1 : d0, KH, KW, transposed, weight: f16 ? roundToF16(weight) : weight, shape, bias, f16, release() {} };
    return h;
  }
  conv2d(x: CpuTensor, w: ConvHandle, opts: ConvOpts = {}): CpuTensor {
    const cw = w as CpuConv;
    const [c, h, wd] = x.chw;
    if (c !== cw.C) throw new Error(`conv2d ${opts.label ?? ''}: input has ${c} channels, weights expect ${cw.C}`);
    const input = { data: cw.f16 ? roundToF16(x.f32) : x.f32, c, h, w: wd };
    const r = cw.transposed
      ? convTranspose2dRef(input, cw.weight, cw.shape, cw.bias, { stride: opts.stride ?? 1, pad: opts.pad ?? 0, outputPadding: opts.outputPadding ?? 0 })
      : conv2dRef(input, cw.weight, cw.shape, cw.bias, { stride: opts.stride, pad: opts.pad, relu: opts.relu, residual: (opts.residual as CpuTensor | undefined)?.f32 });
    if (cw.transposed && (opts.relu || opts.residual)) {
      const res = (opts.residual as CpuTensor | undefined)?.f32;
      for (let i = 0; i < r.data.length; i++) {
        let v = r.data[i]! + (res ? res[i]! : 0);
        if (opts.relu) v = Math.max(v, 0);
        r.data[i] = v;
      }
    }
    return new CpuTensor(r.data, [r.c, r.h, r.w]);
  }
  maxPool2d(x: CpuTensor, k: number, stride: number, pad: number): CpuTensor {
    const [c, h, w] = x.chw;
    const r = maxPool2dRef({ data: x.f32, c, h, w }, k, stride, pad);
    return new CpuTensor(r.data, [r.c, r.h, r.w]);
  }
  add(a: CpuTensor, b: CpuTensor, opts: { relu?: boolean } = {}): CpuTensor {
    const x = a.f32, y = b.f32;
    if (x.length !== y.length) throw new Error('add: shape mismatch');
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) { const v = Math.fround(x[i]! + y[i]!); out[i] = opts.relu ? Math.max(v, 0) : v; }
    return new CpuTensor(out, a.shape);
  }
  relu(a: CpuTensor): CpuTensor { return new CpuTensor(a.f32.map((v) => Math.max(v, 0)), a.shape); }
  abs(a: CpuTensor): CpuTensor { return new CpuTensor(a.f32.map((v) => Math.abs(v)), a.shape); }
  async sync(): Promise<void> {}
}
