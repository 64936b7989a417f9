/**
 * The WebAssembly backend: the CPU backends' op sets (src/cpu) with their heavy ops — convolution, transposed
 * convolution, the box head's fully connected layers (1×1 convs) and GDN — on the SIMD128 kernels of wasm/kernels.c.
 *
 * Tensors are the CPU backend's (host Float32Array / Int32Array, NCHW). A conv copies its input into the kernels'
 * linear memory, runs there and copies the result out: O(C·H·W) copies against O(C·H·W·OC·K²) arithmetic. Weights are
 * packed once, at prepare time, into the micro-kernel's row-block layout and stay in wasm memory until released.
 * The exact-integer ops of the portable h_s path, the quantizers, pooling and the detector heads' sorting and NMS are
 * the CPU reference's own code, so portable mode gives the same bits here as on the CPU and the GPU.
 */
import type { ConvHandle, ConvOpts } from '../model/backend.ts';
import type { GdnHandle } from '../model/codec/ops.ts';
import { CpuBackend, CpuTensor } from '../cpu/backend.ts';
import { CpuCodecBackend, CodecShapeError } from '../cpu/codec-backend.ts';
import { CpuDetectorBackend } from '../cpu/detector-backend.ts';
import { roundToF16, type Precision } from '../util/f16.ts';
import { EPI, JOB, WasmKernels, type Job } from './kernels.ts';

/** Wrong shapes or a released handle given to a wasm op. */
export class WasmShapeError extends Error {
  override name = 'WasmShapeError';
}

interface WasmConv extends ConvHandle {
  readonly engine: WasmEngine;
  /** Packed A (byte offset) and its size in bytes; bias offset (0: none). */
  apk: number;
  apkBytes: number;
  bias: number;
  f16: boolean;
  released: boolean;
}

interface WasmGdn extends GdnHandle {
  readonly conv: WasmConv;
}

export interface WasmEngineOptions {
  /**
   * Threads for the kernels (the caller + workers on a shared memory). Default 1; more only where maxWasmThreads()
   * allows (Node, or a cross-origin-isolated page). Results do not depend on it.
   */
  threads?: number;
}

/** The kernels' instance plus the per-thread scratch; shared by every backend object made from it. */
export class WasmEngine {
  private scratches: [number, number][] = [];
  constructor(readonly k: WasmKernels) {}

  static async create(opts: WasmEngineOptions = {}): Promise<WasmEngine> { return new WasmEngine(await WasmKernels.create(opts)); }

  get threads(): number { return this.k.threads; }

  /** Thread t's scratch for one call (grown when a call needs more; never shrinks). */
  scratch(floats: number, t = 0): number {
    const bytes = floats * 4;
    const cur = this.scratches[t];
    if (!cur || bytes > cur[1]) {
      if (cur) this.k.dealloc(cur[0], cur[1]);
      this.scratches[t] = [this.k.alloc(bytes), bytes];
    }
    return this.scratches[t]![0];
  }

  /** Stop the worker threads (the backend objects of this engine must not be used afterwards). */
  dispose(): void { this.k.dispose(); }

  /** Pack [M][K] (conv: [OC][C·KH·KW]) or, transposed, [C][OC][KH][KW] weights; upload the bias. */
  prepare(weight: Float32Array, shape: readonly number[], bias: Float32Array | null, transposed: boolean, f16: boolean): WasmConv {
    if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d <= 0)) throw new WasmShapeError(`conv weights must be 4-D, got [${shape.join(',')}]`);
    const [d0, d1, KH, KW] = shape as [number, number, number, number];
    if (weight.length !== d0 * d1 * KH * KW) throw new WasmShapeError(`conv weights: ${weight.length} values for [${shape.join(',')}]`);
    const C = transposed ? d0 : d1, OC = transposed ? d1 : d0;
    if (bias && bias.length !== OC) throw new WasmShapeError(`conv bias: ${bias.length} values for ${OC} output channels`);
    const M = transposed ? OC * KH * KW : OC, K = transposed ? C : C * KH * KW;
    const k = this.k;
    const w = k.put(f16 ? roundToF16(weight) : weight);
    const MR = k.x.block_rows();
    const apkBytes = Math.ceil(M / MR) * MR * K * 4;
    const apk = k.alloc(apkBytes);
    if (transposed) k.x.pack_a_deconv(w, C, OC, KH * KW, apk);
    else k.x.pack_a(w, M, K, K, apk);
    k.dealloc(w, weight.length * 4);
    const b = bias ? k.put(bias) : 0;
    const h: WasmConv = {
      engine: this, C, OC, KH, KW, transposed, apk, apkBytes, bias: b, f16, released: false,
      release: () => {
        if (h.released) return;
        h.released = true;
        k.dealloc(apk, apkBytes);
        if (bias) k.dealloc(b, bias.length * 4);
      },
    };
    return h;
  }

  /** conv2d / conv_transpose2d / GDN on host data: copy in, run, copy out. */
  run(cw: WasmConv, x: Float32Array, c: number, h: number, w: number, opts: ConvOpts & { gdn?: 'gdn' | 'igdn' } = {}): CpuTensor {
    if (cw.released) throw new WasmShapeError(`conv ${opts.label ?? ''}: the prepared weights were released`);
    if (cw.engine !== this) throw new WasmShapeError(`conv ${opts.label ?? ''}: weights prepared on another wasm backend`);
    if (c !== cw.C) throw new WasmShapeError(`conv2d ${opts.label ?? ''}: input has ${c} channels, weights expect ${cw.C}`);
    const s = opts.stride ?? 1, p = opts.pad ?? 0, op = opts.outputPadding ?? 0;
    if (!(Number.isInteger(s) && s >= 1 && Number.isInteger(p) && p >= 0 && Number.isInteger(op) && op >= 0)) {
      throw new WasmShapeError(`conv2d ${opts.label ?? ''}: bad stride/pad/outputPadding ${s}/${p}/${op}`);
    }
    const { KH, KW, OC } = cw;
    const OH = cw.transposed ? (h - 1) * s - 2 * p + KH + op : Math.floor((h + 2 * p - KH) / s) + 1;
    const OW = cw.transposed ? (w - 1) * s - 2 * p + KW + op : Math.floor((w + 2 * p - KW) / s) + 1;
    if (OH <= 0 || OW <= 0) throw new WasmShapeError(`conv2d ${opts.label ?? ''}: empty output for input [${c},${h},${w}]`);
    const n = OC * OH * OW;
    const res = opts.residual as CpuTensor | undefined;
    if (res !== undefined && (!(res instanceof CpuTensor) || res.data.length !== n)) {
      throw new WasmShapeError(`conv2d ${opts.label ?? ''}: residual does not match the output [${OC},${OH},${OW}]`);
    }
    const k = this.k, X = k.x;
    const xi = k.put(cw.f16 ? roundToF16(x) : x);
    const out = k.alloc(n * 4);
    const aux = opts.gdn ? xi : res ? k.put(res.f32) : 0;
    const relu = opts.relu ? 1 : 0;
    try {
      const jobs: Job[] = [];
      // below ~4 MFLOP a worker's wake-up costs more than it saves (h_s on small maps): one thread
      const threads = 2 * OC * KH * KW * c * (cw.transposed ? h * w : OH * OW) < MIN_PARALLEL_FLOP ? 1 : this.threads;
      if (!cw.transposed) {
        // threads take contiguous runs of output column tiles, or output channels when there are fewer tiles
        const epi = opts.gdn === 'gdn' ? EPI.gdn : opts.gdn === 'igdn' ? EPI.igdn : relu ? EPI.relu : EPI.none;
        const tiles = Math.ceil((OH * OW) / X.tile_cols());
        const byTiles = tiles >= threads;
        for (const [a, b] of byTiles ? split(tiles, threads, 1) : split(OC, threads, X.block_rows())) {
          const [t0, t1, oc0, oc1] = byTiles ? [a, b, 0, OC] : [0, tiles, a, b];
          jobs.push([JOB.conv2d, [xi, c, h, w, cw.apk, cw.bias, OC, KH, KW, s, p, out, OH, OW, aux, epi, t0, t1, oc0, oc1, this.scratch(X.conv_scratch(), jobs.length)]]);
        }
      } else {
        // threads take output channels (in multiples of the row block), since tiles scatter into shared pixels
        X.fill_bias(out, cw.bias, OC, OH * OW);
        for (const [oc0, oc1] of split(OC, threads, X.block_rows())) {
          jobs.push([JOB.deconv2d, [xi, c, h, w, cw.apk, OC, KH, KW, s, p, out, OH, OW, oc0, oc1, this.scratch(X.deconv_scratch((oc1 - oc0) * KH * KW), jobs.length)]]);
        }
      }
      k.parallel(jobs);
      if (cw.transposed && (relu || aux)) X.epilogue(out, aux, n, relu);
      return new CpuTensor(k.f32(out, n).slice(), [OC, OH, OW]);
    } finally {
      k.dealloc(xi, x.length * 4);
      k.dealloc(out, n * 4);
      if (aux && aux !== xi) k.dealloc(aux, n * 4);
    }
  }
}

const MIN_PARALLEL_FLOP = 4e6;

/** [0, n) in at most `parts` contiguous ranges whose starts are multiples of `unit` (none empty). */
export function split(n: number, parts: number, unit: number): [number, number][] {
  const units = Math.ceil(n / unit), k = Math.max(1, Math.min(parts, units));
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const a = Math.floor((units * i) / k) * unit, b = Math.min(n, Math.floor((units * (i + 1)) / k) * unit);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** Max pooling on the kernels (the CPU reference's semantics, bit for bit). */
function maxPool(k: WasmKernels, x: CpuTensor, size: number, stride: number, pad: number): CpuTensor {
  const [c, h, w] = x.chw;
  if (!(Number.isInteger(size) && size >= 1 && Number.isInteger(stride) && stride >= 1 && Number.isInteger(pad) && pad >= 0 && pad < size)) {
    throw new WasmShapeError(`maxPool2d: bad kernel/stride/pad ${size}/${stride}/${pad}`);
  }
  const OH = Math.floor((h + 2 * pad - size) / stride) + 1, OW = Math.floor((w + 2 * pad - size) / stride) + 1;
  if (OH <= 0 || OW <= 0) throw new WasmShapeError(`maxPool2d: empty output for input [${c},${h},${w}]`);
  const xi = k.put(x.f32), n = c * OH * OW, out = k.alloc(n * 4);
  try {
    k.x.maxpool2d(xi, c, h, w, size, stride, pad, out, OH, OW);
    return new CpuTensor(k.f32(out, n).slice(), [c, OH, OW]);
  } finally {
    k.dealloc(xi, x.data.length * 4);
    k.dealloc(out, n * 4);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CpuCtor = abstract new (...args: any[]) => CpuBackend;

/** A CPU backend class with its convolutions on the wasm kernels. */
function withWasmConv<B extends CpuCtor>(Base: B) {
  abstract class WasmConvBackend extends Base {
    abstract readonly engine: WasmEngine;
    override prepareConv(weight: Float32Array, shape: readonly number[], bias: Float32Array | null, opts: { transposed?: boolean; label?: string; precision?: Precision } = {}): ConvHandle {
      const transposed = !!opts.transposed;
      return this.engine.prepare(weight, shape, bias, transposed, !transposed && (opts.precision ?? this.precision) === 'f16');
    }
    override conv2d(x: CpuTensor, w: ConvHandle, opts: ConvOpts = {}): CpuTensor {
      if (!('engine' in w)) throw new WasmShapeError(`conv2d ${opts.label ?? ''}: weights were not prepared by a wasm backend`);
      const [c, h, wd] = x.chw;
      return this.engine.run(w as WasmConv, x.f32, c, h, wd, opts);
    }
    override maxPool2d(x: CpuTensor, k: number, stride: number, pad: number): CpuTensor { return maxPool(this.engine.k, x, k, stride, pad); }
  }
  return WasmConvBackend;
}

export interface WasmBackendOptions {
  /** Detector conv precision: 'f16' rounds weights and inputs to binary16 (as the CPU reference emulates it). */
  precision?: Precision;
}

/** The core op set on wasm. */
export class WasmBackend extends withWasmConv(CpuBackend) {
  override readonly kind = 'wasm' as const;
  constructor(readonly engine: WasmEngine, opts: WasmBackendOptions = {}) { super(opts); }
}

/** The codec's op set on wasm: convs and GDN in the kernels, the rest (integer h_s, quantizers) the CPU reference's. */
export class WasmCodecBackend extends withWasmConv(CpuCodecBackend) {
  override readonly kind = 'wasm' as const;
  constructor(readonly engine: WasmEngine) { super({ precision: 'f32' }); }

  override prepareGdn(beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean): GdnHandle {
    if (beta.length !== C || gamma.length !== C * C) throw new CodecShapeError(`GDN parameters do not match C = ${C}`);
    const conv = this.engine.prepare(gamma, [C, C, 1, 1], beta, false, false);
    const h: WasmGdn = { C, inverse, conv, release: () => conv.release() };
    return h;
  }
  override gdn(x: CpuTensor, g: GdnHandle): CpuTensor {
    if (!('conv' in g)) throw new CodecShapeError('gdn: parameters were not prepared by a wasm backend');
    const [c, h, w] = x.chw;
    const gd = g as WasmGdn;
    if (c !== gd.C) throw new CodecShapeError(`GDN over ${c} channels, parameters for ${gd.C}`);
    return this.engine.run(gd.conv, x.f32, c, h, w, { gdn: gd.inverse ? 'igdn' : 'gdn', label: 'gdn' });
  }
}

/** The detector's op set (dense + heads) on wasm. */
export class WasmDetectorBackend extends withWasmConv(CpuDetectorBackend) {
  override readonly kind = 'wasm' as const;
  constructor(readonly engine: WasmEngine, opts: WasmBackendOptions = {}) { super(opts); }
}
