/**
 * CPU reference implementation of the codec op set (src/model/codec/ops.ts): plain TypeScript over NCHW arrays.
 * The float ops accumulate in float64 and round to float32 once; the integer ops are exact; the feature quantizer
 * follows the contract to the bit (float32 subtraction, correctly rounded float32 division, round half to even).
 */
import { OFFSET_MLP_MAX_HIDDEN, type ChannelVec, type CodecOps, type GdnHandle, type IntAcc, type IntConvHandle, type OffsetMlp, type OffsetMlpHandle, type ScaleTableHandle } from '../model/codec/ops.ts';
import { rne, ACT_MAX, MAX_TERMS, leakyRequantValue } from '../model/codec/portable.ts';
import { CpuBackend, CpuTensor } from './backend.ts';

interface CpuGdn extends GdnHandle { beta: Float32Array; gamma: Float32Array }
interface CpuVec extends ChannelVec { data: Float32Array }
interface CpuTable extends ScaleTableHandle { table: Float32Array; bound: number }
interface CpuIntConv extends IntConvHandle { wq: Int32Array; shape: readonly number[] }
interface CpuMlp extends OffsetMlpHandle { mlp: OffsetMlp }

const LEAKY_SLOPE = Math.fround(0.01);

/**
 * QuantABCD's offset for one element: −(W2·relu(W1·relu(W0·[s, g] + b0) + b1) + b2), each dot product summed in
 * float64 and rounded to float32 once (the reference; the GPU sums in float32, within the stated tolerance).
 */
export function offsetRef(m: OffsetMlp, s: number, g: number): number {
  const H = m.hidden;
  const h0 = new Float32Array(H), h1 = new Float32Array(H);
  for (let j = 0; j < H; j++) h0[j] = Math.max(0, Math.fround(m.w[0][2 * j]! * s + m.w[0][2 * j + 1]! * g + m.b[0][j]!));
  for (let j = 0; j < H; j++) {
    let a = m.b[1][j]!;
    for (let k = 0; k < H; k++) a += m.w[1][j * H + k]! * h0[k]!;
    h1[j] = Math.max(0, Math.fround(a));
  }
  let o = m.b[2][0]!;
  for (let k = 0; k < H; k++) o += m.w[2][k]! * h1[k]!;
  return -Math.fround(o);
}

export class CodecShapeError extends Error {
  override name = 'CodecShapeError';
}

const noop = (): void => {};

function i32(t: CpuTensor): Int32Array {
  if (!(t.data instanceof Int32Array)) throw new CodecShapeError('expected an int32 tensor');
  return t.data;
}

/** GDN reference: out = x·rsqrt(norm) (or x·sqrt(norm)), norm_i = beta_i + Σ_j gamma[i, j]·x_j². */
export function gdnRef(x: Float32Array, c: number, hw: number, beta: Float32Array, gamma: Float32Array, inverse: boolean): Float32Array {
  const out = new Float32Array(x.length);
  const sq = new Float64Array(c);
  for (let p = 0; p < hw; p++) {
    for (let j = 0; j < c; j++) { const v = x[j * hw + p]!; sq[j] = v * v; }
    for (let i = 0; i < c; i++) {
      let n = beta[i]!;
      for (let j = 0; j < c; j++) n += gamma[i * c + j]! * sq[j]!;
      const v = x[i * hw + p]!;
      out[i * hw + p] = inverse ? v * Math.sqrt(n) : v / Math.sqrt(n);
    }
  }
  return out;
}

/** Correctly rounded float32 division (double division then one rounding to float32 is exact for f32 operands). */
export function divF32(a: number, b: number): number {
  return Math.fround(a / b);
}

export class CpuCodecBackend extends CpuBackend implements CodecOps<CpuTensor> {
  fromCHWInt(data: Int32Array, c: number, h: number, w: number): CpuTensor {
    if (data.length !== c * h * w) throw new CodecShapeError(`fromCHWInt: ${data.length} values for [${c},${h},${w}]`);
    return new CpuTensor(data.slice(), [c, h, w]);
  }
  async toCHWInt(t: CpuTensor): Promise<Int32Array> { return i32(t).slice(); }

  prepareGdn(beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean): GdnHandle {
    if (beta.length !== C || gamma.length !== C * C) throw new CodecShapeError(`GDN parameters do not match C = ${C}`);
    const h: CpuGdn = { C, inverse, beta, gamma, release: noop };
    return h;
  }
  gdn(x: CpuTensor, g: GdnHandle): CpuTensor {
    const [c, h, w] = x.chw;
    const gd = g as CpuGdn;
    if (c !== gd.C) throw new CodecShapeError(`GDN over ${c} channels, parameters for ${gd.C}`);
    return new CpuTensor(gdnRef(x.f32, c, h * w, gd.beta, gd.gamma, gd.inverse), x.shape);
  }

  prepareChannelVec(v: Float32Array): ChannelVec { const r: CpuVec = { length: v.length, data: v.slice(), release: noop }; return r; }
  quantize(x: CpuTensor, means: ChannelVec | null): CpuTensor {
    const [c, h, w] = x.chw;
    const m = (means as CpuVec | null)?.data;
    if (m && m.length !== c) throw new CodecShapeError(`quantize: ${m.length} means for ${c} channels`);
    const d = x.f32, hw = h * w, out = new Int32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = rne(m ? Math.fround(d[i]! - m[Math.floor(i / hw)]!) : d[i]!);
    return new CpuTensor(out, x.shape);
  }
  dequantize(sym: CpuTensor, means: ChannelVec | null): CpuTensor {
    const [c, h, w] = sym.chw;
    const m = (means as CpuVec | null)?.data;
    if (m && m.length !== c) throw new CodecShapeError(`dequantize: ${m.length} means for ${c} channels`);
    const s = i32(sym), hw = h * w, out = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = m ? Math.fround(Math.fround(s[i]!) + m[Math.floor(i / hw)]!) : s[i]!;
    return new CpuTensor(out, sym.shape);
  }

  leakyRelu(x: CpuTensor): CpuTensor {
    return new CpuTensor(x.f32.map((v) => (v > 0 ? v : Math.fround(v * LEAKY_SLOPE))), x.shape);
  }
  scaleBy(x: CpuTensor, g: number): CpuTensor {
    const gf = Math.fround(g);
    return new CpuTensor(x.f32.map((v) => Math.fround(v * gf)), x.shape);
  }
  private sameSize(a: CpuTensor, b: CpuTensor, what: string): void {
    if (a.data.length !== b.data.length) throw new CodecShapeError(`${what}: [${a.shape.join(',')}] and means [${b.shape.join(',')}] differ`);
  }
  quantizeAround(x: CpuTensor, means: CpuTensor): CpuTensor {
    this.sameSize(x, means, 'quantizeAround');
    const d = x.f32, m = means.f32, out = new Int32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = rne(Math.fround(d[i]! - m[i]!));
    return new CpuTensor(out, x.shape);
  }
  dequantizeAround(sym: CpuTensor, means: CpuTensor): CpuTensor {
    this.sameSize(sym, means, 'dequantizeAround');
    const s = i32(sym), m = means.f32, out = new Float32Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = Math.fround(s[i]! + m[i]!);
    return new CpuTensor(out, sym.shape);
  }
  prepareOffsetMlp(mlp: OffsetMlp): OffsetMlpHandle {
    if (mlp.hidden < 1 || mlp.hidden > OFFSET_MLP_MAX_HIDDEN) throw new CodecShapeError(`QuantABCD with ${mlp.hidden} hidden units (1..${OFFSET_MLP_MAX_HIDDEN})`);
    const h: CpuMlp = { hidden: mlp.hidden, mlp, release: noop };
    return h;
  }
  dequantizeVbr(sym: CpuTensor, scalesG: CpuTensor, means: CpuTensor | null, gain: number, rescale: number, bound: number, mlp: OffsetMlpHandle): CpuTensor {
    this.sameSize(sym, scalesG, 'dequantizeVbr');
    if (means) this.sameSize(sym, means, 'dequantizeVbr');
    const s = i32(sym), sc = scalesG.f32, m = means?.f32, out = new Float32Array(s.length);
    const g = Math.fround(gain), r = Math.fround(rescale), b = Math.fround(bound), net = (mlp as CpuMlp).mlp;
    for (let i = 0; i < s.length; i++) {
      const q = s[i]!;
      const a = Math.abs(q);
      const off = a < 1e-4 ? 0 : offsetRef(net, Math.max(sc[i]!, b), g);
      const v = Math.fround(Math.fround(Math.sign(q) * Math.fround(a + off)) * r);
      out[i] = m ? Math.fround(v + m[i]!) : v;
    }
    return new CpuTensor(out, sym.shape);
  }

  prepareScaleTable(table: Float32Array, bound: number): ScaleTableHandle {
    const r: CpuTable = { levels: table.length, table: table.slice(), bound: Math.fround(bound), release: noop };
    return r;
  }
  buildIndexes(scales: CpuTensor, table: ScaleTableHandle): CpuTensor {
    const t = table as CpuTable;
    const d = scales.f32, out = new Int32Array(d.length), L = t.levels;
    for (let i = 0; i < d.length; i++) {
      const s = Math.max(d[i]!, t.bound);
      let n = 0;
      for (let k = 0; k < L - 1; k++) if (s <= t.table[k]!) n++;
      out[i] = L - 1 - n;
    }
    return new CpuTensor(out, scales.shape);
  }

  prepareIntConv(wq: Int32Array, shape: readonly number[], transposed: boolean): IntConvHandle {
    const [d0, d1, K] = shape as [number, number, number, number];
    const C = transposed ? d0 : d1, OC = transposed ? d1 : d0;
    for (let i = 0; i < wq.length; i++) if (Math.abs(wq[i]!) > ACT_MAX) throw new CodecShapeError('int conv weights must satisfy |w| <= 32767');
    if (C * K * K > MAX_TERMS) throw new CodecShapeError(`int conv with ${C * K * K} terms per output exceeds ${MAX_TERMS}`);
    const h: CpuIntConv = { C, OC, K, transposed, wq: wq.slice(), shape, release: noop };
    return h;
  }
  intConv(x: CpuTensor, w: IntConvHandle, biasHi: Int32Array, biasLo: Int32Array, opts: { stride: number; pad: number; outputPadding?: number }): IntAcc<CpuTensor> {
    const cw = w as CpuIntConv;
    const [C, H, W] = x.chw;
    if (C !== cw.C) throw new CodecShapeError(`int conv: input has ${C} channels, weights expect ${cw.C}`);
    const a = i32(x), K = cw.K, s = opts.stride, p = opts.pad, op = opts.outputPadding ?? 0;
    const OH = cw.transposed ? (H - 1) * s - 2 * p + K + op : Math.floor((H + 2 * p - K) / s) + 1;
    const OW = cw.transposed ? (W - 1) * s - 2 * p + K + op : Math.floor((W + 2 * p - K) / s) + 1;
    const OC = cw.OC;
    const hi = new Int32Array(OC * OH * OW), lo = new Int32Array(OC * OH * OW);
    for (let oc = 0; oc < OC; oc++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let v = biasHi[oc]! * 65536 + biasLo[oc]!;
          for (let ky = 0; ky < K; ky++)
            for (let kx = 0; kx < K; kx++) {
              let iy: number, ix: number;
              if (cw.transposed) {
                const ty = oy + p - ky, tx = ox + p - kx;
                if (ty < 0 || tx < 0 || ty % s !== 0 || tx % s !== 0) continue;
                iy = ty / s; ix = tx / s;
              } else { iy = oy * s + ky - p; ix = ox * s + kx - p; }
              if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
              for (let ci = 0; ci < C; ci++) {
                const wi = cw.transposed ? ((ci * OC + oc) * K + ky) * K + kx : ((oc * C + ci) * K + ky) * K + kx;
                v += a[(ci * H + iy) * W + ix]! * cw.wq[wi]!;
              }
            }
          const o = (oc * OH + oy) * OW + ox;
          const h = Math.floor(v / 65536);
          hi[o] = h; lo[o] = v - h * 65536;
        }
    return { hi: new CpuTensor(hi, [OC, OH, OW]), lo: new CpuTensor(lo, [OC, OH, OW]) };
  }
  async intMaxHi(acc: IntAcc<CpuTensor>): Promise<number> {
    let m = 0;
    for (const v of i32(acc.hi)) if (v > m) m = v;
    return m;
  }
  intRequant(acc: IntAcc<CpuTensor>, shift: number, leaky = false): CpuTensor {
    const hi = i32(acc.hi), lo = i32(acc.lo), out = new Int32Array(hi.length);
    for (let i = 0; i < hi.length; i++) {
      const v = hi[i]! * 65536 + lo[i]!;
      if (leaky && v < 0) { out[i] = leakyRequantValue(v, shift); continue; }
      out[i] = v <= 0 ? 0 : Math.min(ACT_MAX, shift === 0 ? v : Math.floor((v + 2 ** (shift - 1)) / 2 ** shift));
    }
    return new CpuTensor(out, acc.hi.shape);
  }
  intIndexes(acc: IntAcc<CpuTensor>, thrHi: Int32Array, thrLo: Int32Array): CpuTensor {
    const hi = i32(acc.hi), lo = i32(acc.lo), out = new Int32Array(hi.length);
    const T = Array.from(thrHi, (h, k) => h * 65536 + thrLo[k]!);
    for (let i = 0; i < hi.length; i++) {
      const v = Math.max(0, hi[i]! * 65536 + lo[i]!);
      let n = 0;
      for (const t of T) if (v > t) n++;
      out[i] = n;
    }
    return new CpuTensor(out, acc.hi.shape);
  }

  async minMax(x: CpuTensor): Promise<[number, number]> {
    let mn = Infinity, mx = -Infinity;
    for (const v of x.f32) { if (v < mn) mn = v; if (v > mx) mx = v; }
    return [mn, mx];
  }
  quantize8(x: CpuTensor, mn: number, scale: number, pad: readonly [number, number, number, number]): CpuTensor {
    const [c, h, w] = x.chw;
    const [pt, pl, pb, pr] = pad;
    const H = h + pt + pb, W = w + pl + pr;
    const out = new Float32Array(c * H * W), d = x.f32;
    for (let ci = 0; ci < c; ci++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const t = divF32(Math.fround(d[(ci * h + y) * w + xx]! - mn), scale);
          const q = Math.min(255, Math.max(0, rne(t)));
          out[(ci * H + y + pt) * W + xx + pl] = divF32(q, 255);
        }
    return new CpuTensor(out, [c, H, W]);
  }
  dequantize8(xHat: CpuTensor, mn: number, range: number, crop: readonly [number, number, number, number]): CpuTensor {
    const [c, H, W] = xHat.chw;
    const [top, left, h, w] = crop;
    if (top + h > H || left + w > W) throw new CodecShapeError(`crop [${crop.join(',')}] outside [${c},${H},${W}]`);
    const out = new Float32Array(c * h * w), d = xHat.f32;
    for (let ci = 0; ci < c; ci++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++) {
          const v = Math.min(1, Math.max(0, d[(ci * H + y + top) * W + xx + left]!));
          out[(ci * h + y) * w + xx] = Math.fround(Math.fround(v * range) + mn);
        }
    return new CpuTensor(out, [c, h, w]);
  }
}
