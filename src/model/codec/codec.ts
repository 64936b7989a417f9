/**
 * HyperpriorCodec: CompressAI's hyperprior family (registry.ts: bmshj2018-hyperprior, mbt2018-mean and their
 * variable-rate versions) — `compress` / `decompress` over any `CodecOps` backend, with the entropy-model objects of
 * entropy.ts and the rANS coder of src/coder. Two modes:
 * - 'compat': h_s and build_indexes in float32 exactly as CompressAI (strings byte-identical to CompressAI's on
 *   inputs away from float32 decision boundaries; decodes CompressAI's strings);
 * - 'portable': h_s → indexes in exact integer arithmetic (src/model/codec/portable.ts), identical on every device
 *   (mean-scale models: with the portable LeakyReLU; their means come from the float h_s and only move x̂).
 * A variable-rate model codes at a gain: `|Gain[level]|` or any positive scale (CompressAI's `s` / `inputscale`).
 */
import type { Tensor, WarmupReport } from '../backend.ts';
import { fingerprint as sha16 } from '../../coder/index.ts';
import { CodecInputError, EntropyBottleneck, GaussianConditional, type CodecMode } from './entropy.ts';
import { gA, gS, hA, hSPortableIndexes, hyperSynthesis, prepareLayers, type CodecLayers, type PortableTrace } from './graph.ts';
import type { CodecOps, OffsetMlpHandle } from './ops.ts';
import { architectureOf, hyperpriorParams, paramsDigestInput, type HyperpriorParams, type NamedTensor } from './params.ts';
import { portableInput } from './portable.ts';
import { CODEC_MODELS, VBR_ARCHITECTURES, type CodecArchitecture, type CodecModelSpec } from './registry.ts';

export { CodecInputError, type CodecMode } from './entropy.ts';

/** The rate of a variable-rate model: a level s (gain |Gain[s]|) or a continuous gain. */
export interface RateOptions {
  level?: number;
  scale?: number;
}

/**
 * Where a CHW tensor first holds a non-finite value, as "value at [c, y, x] is NaN; …", or null (pure). Shared by the
 * codec (its Float32Array inputs) and `codec compress` (which reports it in the file's own coordinates).
 */
export function nonFiniteProblem(x: Float32Array, h: number, w: number, prefix: readonly number[] = []): string | null {
  const i = x.findIndex((v) => !Number.isFinite(v));
  if (i < 0) return null;
  const at = [...prefix, Math.floor(i / (h * w)), Math.floor(i / w) % h, i % w];
  return `value at [${at.join(', ')}] is ${x[i]}; the codec codes finite values only`;
}

/** Anything that carries the checkpoint's tensors (the weight loader's CodecWeights, a raw checkpoint, a Map). */
export type CodecWeightsLike = { tensors: ReadonlyMap<string, NamedTensor> } | ReadonlyMap<string, NamedTensor> | HyperpriorParams;

export interface CompressResult {
  /** [y string, z string], as CompressAI's `compress()["strings"]` (one batch element). */
  strings: [Uint8Array, Uint8Array];
  /** z spatial shape (CompressAI's `compress()["shape"]`). */
  zShape: [number, number];
  mode: CodecMode;
  /** The model, and the gain y was coded at (1 for a fixed-rate model). */
  architecture: CodecArchitecture;
  gain: number;
  /** y shape [M, h, w] and the coded data (CHW order), for tests and diagnostics. */
  yShape: [number, number, number];
  ySymbols: Int32Array;
  yIndexes: Int32Array;
  zSymbols: Int32Array;
}

export interface DecompressResult<T> {
  /** g_s(y_hat), not clamped (CompressAI clamps RGB output to [0, 1]; see `clamp` of decompress). Null when
   * decompress ran with `synthesis: false`. */
  xHat: T;
  ySymbols: Int32Array;
  yIndexes: Int32Array;
  zSymbols: Int32Array;
}

/** What compress keeps between the analysis and the coding, so a rate search re-runs only quantization and rANS. */
export interface Analysed<T> {
  /** y = g_a(x) [M, h, w] and z's symbols, z string and spatial shape (z does not depend on the gain). */
  y: T;
  zSymT: T;
  zSymbols: Int32Array;
  zString: Uint8Array;
  zShape: [number, number];
  mode: CodecMode;
  /** h_s outputs by gain-independent need: the scales (compat: always) and the means (mean-scale models). */
  scales: T | null;
  means: T | null;
  release(): void;
}

export interface StageTimer { (stage: string, ms: number): void }

function isParams(w: CodecWeightsLike): w is HyperpriorParams {
  return typeof (w as HyperpriorParams).gA === 'object' && typeof (w as HyperpriorParams).N === 'number';
}

function checkMode(mode: unknown): CodecMode {
  if (mode !== 'compat' && mode !== 'portable') throw new CodecInputError(`unknown mode '${String(mode)}' (compat | portable)`);
  return mode;
}

export class HyperpriorCodec<T extends Tensor> {
  readonly eb: EntropyBottleneck<T>;
  readonly gc: GaussianConditional<T>;
  private readonly mlp: OffsetMlpHandle | null;
  readonly spec: CodecModelSpec;

  private constructor(
    readonly ops: CodecOps<T>,
    readonly params: HyperpriorParams,
    readonly layers: CodecLayers,
    /** 16-byte fingerprint of every parameter the codec uses (docs/codec.md). */
    readonly fingerprint: Uint8Array,
  ) {
    this.spec = CODEC_MODELS[architectureOf(params)];
    this.eb = new EntropyBottleneck(ops, params.medians, params.ebTables);
    this.gc = new GaussianConditional(ops, params.scaleTable, params.scaleBound, params.gcTables);
    this.mlp = params.vbr ? ops.prepareOffsetMlp(params.vbr.quantABCD) : null;
  }

  get C(): number { return this.params.C; }
  get N(): number { return this.params.N; }
  get M(): number { return this.params.M; }
  /** CompressAI's model name (registry.ts). */
  get architecture(): CodecArchitecture { return this.spec.name; }
  /** The levels of a variable-rate model: |Gain[s]| for s = 0 … levels − 1 (empty for a fixed-rate model). */
  get gains(): number[] { return this.params.vbr ? Array.from(this.params.vbr.gain, (g) => Math.abs(g)) : []; }

  static async create<T extends Tensor>(weights: CodecWeightsLike, backend: CodecOps<T>): Promise<HyperpriorCodec<T>> {
    const params = isParams(weights) ? weights : hyperpriorParams(weights instanceof Map ? weights : (weights as { tensors: ReadonlyMap<string, NamedTensor> }).tensors);
    const fp = await sha16(paramsDigestInput(params));
    const layers = prepareLayers(backend, params);
    return new HyperpriorCodec(backend, params, layers, fp);
  }

  release(): void {
    this.layers.release();
    this.eb.release();
    this.gc.release();
    this.mlp?.release();
  }

  /**
   * The gain for a rate choice: a fixed-rate model codes at gain 1 and refuses a level or scale (naming the
   * variable-rate models); a variable-rate model takes `level` (|Gain[level]|), `scale` (any finite gain > 0), or
   * neither (its highest level, the best quality).
   */
  gainFor(rate: RateOptions = {}): number {
    const { level, scale } = rate;
    if (level !== undefined && scale !== undefined) throw new CodecInputError('give a level or a scale, not both');
    const gains = this.gains;
    if (!this.spec.vbr) {
      if (level !== undefined || scale !== undefined) {
        throw new CodecInputError(`${this.architecture} is a fixed-rate model: --level/--scale need a variable-rate model (${VBR_ARCHITECTURES.join(', ')})`);
      }
      return 1;
    }
    if (level !== undefined) {
      if (!Number.isInteger(level) || level < 0 || level >= gains.length) throw new CodecInputError(`level ${level} is outside 0..${gains.length - 1} (this model has ${gains.length} levels)`);
      return gains[level]!;
    }
    if (scale !== undefined) {
      if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) throw new CodecInputError(`scale ${String(scale)} is not a finite positive gain`);
      const g = Math.fround(scale);
      if (!(g > 0) || !Number.isFinite(g)) throw new CodecInputError(`scale ${scale} is not representable as a float32 gain`);
      return g;
    }
    return gains[gains.length - 1]!;
  }

  /** A gain read from a stream (float32), checked against the model. */
  private checkGain(gain: number | undefined): number {
    if (!this.spec.vbr) {
      if (gain !== undefined && gain !== 1) throw new CodecInputError(`${this.architecture} is a fixed-rate model; a gain of ${gain} needs a variable-rate model (${VBR_ARCHITECTURES.join(', ')})`);
      return 1;
    }
    if (gain === undefined) return this.gainFor();
    return this.gainFor({ scale: gain });
  }

  private input(x: T | Float32Array, shape?: readonly number[]): T {
    if (x instanceof Float32Array) {
      if (!shape) throw new CodecInputError('an NCHW Float32Array input needs its shape');
      const s = shape.length === 4 ? shape.slice(1) : shape;
      if (shape.length === 4 && shape[0] !== 1) throw new CodecInputError(`batch size ${shape[0]} is not supported (use 1)`);
      if (s.length !== 3) throw new CodecInputError(`input shape [${shape.join(',')}] is not [1,C,H,W] or [C,H,W]`);
      const [c, h, w] = s as [number, number, number];
      if (x.length !== c * h * w) throw new CodecInputError(`input has ${x.length} values, shape [${s.join(',')}] needs ${c * h * w}`);
      const bad = nonFiniteProblem(x, h, w);
      if (bad) throw new CodecInputError(`input ${bad}`);
      return this.ops.fromCHW(x, c, h, w);
    }
    return x;
  }

  private check(shape: readonly number[]): [number, number, number] {
    if (shape.length !== 3) throw new CodecInputError(`codec input must be [C,H,W], got [${shape.join(',')}]`);
    const [c, h, w] = shape as [number, number, number];
    if (c !== this.C) throw new CodecInputError(`codec input has ${c} channels, this model codes ${this.C}`);
    if (h % 64 !== 0 || w % 64 !== 0 || h === 0 || w === 0) {
      throw new CodecInputError(`codec input ${h}x${w} is not a multiple of 64 in both dimensions (pad it with computePadding first)`);
    }
    return [c, h, w];
  }

  /**
   * h_s from z's symbols (CHW; `zSymT` is their tensor when the caller already has it): the float scales (when
   * `float`) and means (mean-scale models), and in portable mode nothing else (indexes come from `portableIndexes`).
   */
  private hyper(zSym: Int32Array, zSymT: T | null, zShape: readonly [number, number], float: boolean): { scales: T | null; means: T | null } {
    if (!float && !this.spec.meanScale) return { scales: null, means: null };
    const zHat = zSymT ? this.eb.dequantize(zSymT) : this.eb.dequantize(zSym, zShape);
    const r = hyperSynthesis(this.ops, this.layers, zHat);
    this.ops.release(zHat);
    if (!float) { this.ops.release(r.scales); return { scales: null, means: r.means }; }
    return r;
  }

  /** Gaussian indexes of y: compat from the float scales·gain, portable from the exact integer h_s. */
  private async indexes(zSym: Int32Array, zShape: readonly [number, number], scales: T | null, mode: CodecMode, gain: number, trace?: PortableTrace): Promise<{ indexes: Int32Array; scalesG: T | null }> {
    let scalesG: T | null = null;
    if (scales) scalesG = gain === 1 ? scales : this.ops.scaleBy(scales, gain);
    let idx: T;
    if (mode === 'compat') idx = this.gc.buildIndexes(scalesG!);
    else {
      const { a, F } = portableInput(zSym, this.params.medians, zShape[0] * zShape[1]);
      const at = this.ops.fromCHWInt(a, this.N, zShape[0], zShape[1]);
      idx = await hSPortableIndexes(this.ops, this.layers, at, F, this.params.scaleTable, trace, gain);
      this.ops.release(at);
    }
    const indexes = await this.ops.toCHWInt(idx);
    this.ops.release(idx);
    return { indexes, scalesG };
  }

  /**
   * The decoder-side index path alone: z symbols (CHW, [N, h, w]) → z_hat → h_s → Gaussian indexes ([M, 4h, 4w],
   * CHW). `trace` receives the fixed-point exponents of the portable path.
   */
  async indexesFromZSymbols(zSymbols: Int32Array, zShape: readonly [number, number], mode: CodecMode = 'compat', trace?: PortableTrace, rate: RateOptions = {}): Promise<Int32Array> {
    const [zh, zw] = zShape;
    if (zSymbols.length !== this.N * zh * zw) throw new CodecInputError(`${zSymbols.length} z symbols for [${this.N},${zh},${zw}]`);
    const gain = this.gainFor(rate);
    const h = this.hyper(zSymbols, null, zShape, mode === 'compat');
    const r = await this.indexes(zSymbols, zShape, h.scales, mode, gain, trace);
    this.ops.release(h.means, h.scales, r.scalesG === h.scales ? null : r.scalesG);
    return r.indexes;
  }

  /**
   * Compile every pipeline compress and/or decompress need for a C×`h`×`w` input (planned, no GPU work; then
   * compiled asynchronously and primed). Null on a backend without warm-up (CPU).
   */
  async warmup(h: number, w: number, opts: { mode?: CodecMode; compress?: boolean; decompress?: boolean } = {}): Promise<WarmupReport | null> {
    const ops = this.ops;
    if (!ops.warmup) return null;
    return ops.warmup(async (unrecorded) => {
      const compress = () => this.compress(new Float32Array(this.C * h * w), { mode: opts.mode, shape: [this.C, h, w] });
      // a decoder only needs strings to plan with: make them without compiling the analysis transforms
      const r = opts.compress === false ? await unrecorded(compress) : await compress();
      if (opts.decompress !== false) {
        const d = await this.decompress(r.strings, r.zShape, { mode: opts.mode, gain: r.gain });
        ops.release(d.xHat);
      }
    });
  }

  /**
   * The gain-independent part of compress: g_a, h_a, z's quantization and rANS, and (compat, or a mean-scale model)
   * h_s. Code it at any gain with `code`; release it when done.
   */
  async analyse(x: T | Float32Array, opts: { mode?: CodecMode; shape?: readonly number[]; time?: StageTimer } = {}): Promise<Analysed<T>> {
    const mode = checkMode(opts.mode ?? 'compat');
    const xt = this.input(x, opts.shape);
    this.check(xt.shape);
    const time = opts.time;
    let t0 = performance.now();
    const lap = async (stage: string) => { if (time) { await this.ops.sync(); const t = performance.now(); time(stage, t - t0); t0 = t; } };
    const y = gA(this.ops, this.layers, xt);
    if (xt !== x) this.ops.release(xt);
    await lap('g_a');
    const z = hA(this.ops, this.layers, y);
    await lap('h_a');
    const [, zh, zw] = z.shape as [number, number, number];
    const zShape: [number, number] = [zh, zw];
    const { symT: zSymT, symbols: zSymbols } = await this.eb.quantize(z);
    this.ops.release(z);
    await lap('quantize z');
    const zString = this.eb.compress(zSymbols, zShape);
    await lap('rANS z');
    const h = this.hyper(zSymbols, zSymT, zShape, mode === 'compat');
    await lap('h_s');
    const ops = this.ops;
    return { y, zSymT, zSymbols, zString, zShape, mode, scales: h.scales, means: h.means, release() { ops.release(y, zSymT, h.scales, h.means); } };
  }

  /** Quantize and entropy-code y of an analysed input at `gain` (1 for a fixed-rate model). */
  async code(a: Analysed<T>, gain: number, time?: StageTimer): Promise<CompressResult> {
    let t0 = performance.now();
    const lap = async (stage: string) => { if (time) { await this.ops.sync(); const t = performance.now(); time(stage, t - t0); t0 = t; } };
    const { indexes: yIndexes, scalesG } = await this.indexes(a.zSymbols, a.zShape, a.scales, a.mode, gain);
    if (scalesG && scalesG !== a.scales) this.ops.release(scalesG);
    await lap(`h_s+indexes (${a.mode})`);
    const scaled = gain !== 1;
    const yG = scaled ? this.ops.scaleBy(a.y, gain) : a.y;
    const meansG = a.means && scaled ? this.ops.scaleBy(a.means, gain) : a.means;
    const ySymT = this.gc.quantize(yG, meansG);
    if (yG !== a.y) this.ops.release(yG);
    if (meansG !== a.means) this.ops.release(meansG);
    const yShape = a.y.shape.slice() as [number, number, number];
    const ySymbols = await this.ops.toCHWInt(ySymT);
    this.ops.release(ySymT);
    await lap('quantize y');
    const yString = this.gc.compress(ySymbols, yIndexes);
    await lap('rANS y');
    return { strings: [yString, a.zString], zShape: a.zShape, mode: a.mode, architecture: this.architecture, gain, yShape, ySymbols, yIndexes, zSymbols: a.zSymbols };
  }

  async compress(x: T | Float32Array, opts: { mode?: CodecMode; shape?: readonly number[]; time?: StageTimer } & RateOptions = {}): Promise<CompressResult> {
    const gain = this.gainFor(opts);
    const a = await this.analyse(x, opts);
    try {
      return await this.code(a, gain, opts.time);
    } finally {
      a.release();
    }
  }

  /**
   * Decode [y, z] strings (`gain`: the one the stream was coded at; a variable-rate model without it uses its highest
   * level). `synthesis: false` stops after entropy decoding (symbols and indexes only; xHat is then null as unknown
   * as T — for diagnostics and tests).
   */
  async decompress(strings: readonly [Uint8Array, Uint8Array], zShape: readonly [number, number], opts: { mode?: CodecMode; time?: StageTimer; synthesis?: boolean; gain?: number } & RateOptions = {}): Promise<DecompressResult<T>> {
    const mode = checkMode(opts.mode ?? 'compat');
    const gain = opts.gain !== undefined ? this.checkGain(opts.gain) : this.gainFor(opts);
    const [zh, zw] = zShape;
    if (!Number.isInteger(zh) || !Number.isInteger(zw) || zh <= 0 || zw <= 0 || zh * zw * this.N > 1 << 26) {
      throw new CodecInputError(`invalid z shape [${zShape.join(',')}]`);
    }
    const time = opts.time;
    let t0 = performance.now();
    const lap = async (stage: string) => { if (time) { await this.ops.sync(); const t = performance.now(); time(stage, t - t0); t0 = t; } };
    const zSymbols = this.eb.decompress(strings[1], zShape);
    await lap('rANS z');
    // the variable-rate reconstruction needs the float scales in either mode
    const h = this.hyper(zSymbols, null, zShape, mode === 'compat' || this.spec.vbr);
    const { indexes: yIndexes, scalesG } = await this.indexes(zSymbols, zShape, h.scales, mode, gain);
    await lap(`h_s+indexes (${mode})`);
    const release = () => this.ops.release(h.scales, h.means, scalesG === h.scales ? null : scalesG);
    let ySymbols: Int32Array;
    try {
      ySymbols = this.gc.decompress(strings[0], yIndexes);
    } catch (e) {
      release();
      throw e;
    }
    await lap('rANS y');
    if (opts.synthesis === false) { release(); return { xHat: null as unknown as T, ySymbols, yIndexes, zSymbols }; }
    const ySymT = this.ops.fromCHWInt(ySymbols, this.M, zh * 4, zw * 4);
    const yHat = this.spec.vbr
      ? this.ops.dequantizeVbr(ySymT, scalesG!, h.means, gain, Math.fround(1 / gain), this.params.scaleBound, this.mlp!)
      : this.gc.dequantize(ySymT, h.means);
    this.ops.release(ySymT);
    release();
    const xHat = gS(this.ops, this.layers, yHat);
    this.ops.release(yHat);
    await lap('g_s');
    return { xHat, ySymbols, yIndexes, zSymbols };
  }
}
