/**
 * HyperpriorCodec: CompressAI's ScaleHyperprior `compress` / `decompress` over any `CodecOps` backend, with the
 * rANS coder of src/coder. Two modes:
 * - 'compat': h_s and build_indexes in float32 exactly as CompressAI (strings byte-identical to CompressAI's on
 *   inputs away from float32 decision boundaries; decodes CompressAI's strings);
 * - 'portable': h_s → indexes in exact integer arithmetic (src/model/codec/portable.ts), identical on every device.
 */
import type { Tensor, WarmupReport } from '../backend.ts';
import { RansEncodeError, decodeWithIndexes, encodeWithIndexes, fingerprint as sha16 } from '../../coder/index.ts';
import { gA, gS, hA, hS, hSPortableIndexes, prepareLayers, type CodecLayers, type PortableTrace } from './graph.ts';
import type { ChannelVec, CodecOps, ScaleTableHandle } from './ops.ts';
import { hyperpriorParams, paramsDigestInput, type HyperpriorParams, type NamedTensor } from './params.ts';
import { portableInput } from './portable.ts';
import { VcmError } from '../../util/errors.ts';

export type CodecMode = 'compat' | 'portable';

export class CodecInputError extends VcmError {
  override name = 'CodecInputError';
  constructor(message: string, options?: ErrorOptions) {
    super('input', message, options);
  }
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

/**
 * Entropy-code one latent; a symbol the coder cannot represent (|symbol| ≥ 2^27: an input far outside what the codec
 * was trained on, e.g. 1e30, or non-finite values computed on the GPU) becomes a CodecInputError that says so.
 */
function entropyCode(f: () => Uint8Array, which: 'y' | 'z'): Uint8Array {
  try {
    return f();
  } catch (e) {
    if (e instanceof RansEncodeError) {
      throw new CodecInputError(`the input is out of the codec's range: a quantized ${which} latent is too large for the entropy coder (${(e as Error).message}). Codec inputs are features in the range the model was trained on (8-bit features map to [0, 1]); check for huge or non-finite values`, { cause: e });
    }
    throw e;
  }
}

/** Anything that carries the checkpoint's tensors (the weight loader's CodecWeights, a raw checkpoint, a Map). */
export type CodecWeightsLike = { tensors: ReadonlyMap<string, NamedTensor> } | ReadonlyMap<string, NamedTensor> | HyperpriorParams;

export interface CompressResult {
  /** [y string, z string], as CompressAI's `compress()["strings"]` (one batch element). */
  strings: [Uint8Array, Uint8Array];
  /** z spatial shape (CompressAI's `compress()["shape"]`). */
  zShape: [number, number];
  mode: CodecMode;
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

export interface StageTimer { (stage: string, ms: number): void }

/** The EntropyBottleneck codes z (C, H, W order) with CDF row = channel. */
function zChannelIndexes(n: number, h: number, w: number): Int32Array {
  const idx = new Int32Array(n * h * w);
  for (let c = 0; c < n; c++) idx.fill(c, c * h * w, (c + 1) * h * w);
  return idx;
}

function isParams(w: CodecWeightsLike): w is HyperpriorParams {
  return typeof (w as HyperpriorParams).gA === 'object' && typeof (w as HyperpriorParams).N === 'number';
}

export class HyperpriorCodec<T extends Tensor> {
  private constructor(
    readonly ops: CodecOps<T>,
    readonly params: HyperpriorParams,
    readonly layers: CodecLayers,
    private readonly medians: ChannelVec,
    private readonly table: ScaleTableHandle,
    /** 16-byte fingerprint of every parameter the codec uses (docs/codec.md). */
    readonly fingerprint: Uint8Array,
  ) {}

  get C(): number { return this.params.C; }
  get N(): number { return this.params.N; }
  get M(): number { return this.params.M; }

  static async create<T extends Tensor>(weights: CodecWeightsLike, backend: CodecOps<T>): Promise<HyperpriorCodec<T>> {
    const params = isParams(weights) ? weights : hyperpriorParams(weights instanceof Map ? weights : (weights as { tensors: ReadonlyMap<string, NamedTensor> }).tensors);
    const fp = await sha16(paramsDigestInput(params));
    const layers = prepareLayers(backend, params);
    return new HyperpriorCodec(backend, params, layers, backend.prepareChannelVec(params.medians), backend.prepareScaleTable(params.scaleTable, params.scaleBound), fp);
  }

  release(): void {
    this.layers.release();
    this.medians.release();
    this.table.release();
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
   * Gaussian indexes of y from z's symbols (CHW; `zSymT` is their tensor when the caller already has it). compat:
   * z_hat = symbol + median → h_s → build_indexes in float; portable: exact integer h_s from the symbols alone.
   */
  private async indexes(zSym: Int32Array, zSymT: T | null, zShape: [number, number], mode: CodecMode, time?: StageTimer, trace?: PortableTrace): Promise<Int32Array> {
    const t0 = performance.now();
    let idx: T;
    if (mode === 'compat') {
      const symT = zSymT ?? this.ops.fromCHWInt(zSym, this.N, zShape[0], zShape[1]);
      const zHat = this.ops.dequantize(symT, this.medians);
      if (symT !== zSymT) this.ops.release(symT);
      const scales = hS(this.ops, this.layers, zHat);
      this.ops.release(zHat);
      idx = this.ops.buildIndexes(scales, this.table);
      this.ops.release(scales);
    } else {
      const { a, F } = portableInput(zSym, this.params.medians, zShape[0] * zShape[1]);
      const at = this.ops.fromCHWInt(a, this.N, zShape[0], zShape[1]);
      idx = await hSPortableIndexes(this.ops, this.layers, at, F, this.params.scaleTable, trace);
      this.ops.release(at);
    }
    const out = await this.ops.toCHWInt(idx);
    this.ops.release(idx);
    time?.(`h_s+indexes (${mode})`, performance.now() - t0);
    return out;
  }

  /**
   * The decoder-side index path alone: z symbols (CHW, [N, h, w]) → z_hat → h_s → Gaussian indexes ([M, 4h, 4w],
   * CHW). `trace` receives the fixed-point exponents of the portable path.
   */
  async indexesFromZSymbols(zSymbols: Int32Array, zShape: readonly [number, number], mode: CodecMode = 'compat', trace?: PortableTrace): Promise<Int32Array> {
    const [zh, zw] = zShape;
    if (zSymbols.length !== this.N * zh * zw) throw new CodecInputError(`${zSymbols.length} z symbols for [${this.N},${zh},${zw}]`);
    return this.indexes(zSymbols, null, [zh, zw], mode, undefined, trace);
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
        const d = await this.decompress(r.strings, r.zShape, { mode: opts.mode });
        ops.release(d.xHat);
      }
    });
  }

  async compress(x: T | Float32Array, opts: { mode?: CodecMode; shape?: readonly number[]; time?: StageTimer } = {}): Promise<CompressResult> {
    const mode = opts.mode ?? 'compat';
    if (mode !== 'compat' && mode !== 'portable') throw new CodecInputError(`unknown mode '${String(mode)}' (compat | portable)`);
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
    const zSymT = this.ops.quantize(z, this.medians);
    this.ops.release(z);
    const zSymbols = await this.ops.toCHWInt(zSymT);
    await lap('quantize z');
    const zString = entropyCode(() => encodeWithIndexes(zSymbols, zChannelIndexes(this.N, zh, zw), this.params.ebTables), 'z');
    await lap('rANS z');
    t0 = performance.now();
    const yIndexes = await this.indexes(zSymbols, zSymT, [zh, zw], mode, time);
    this.ops.release(zSymT);
    t0 = performance.now();
    const ySymT = this.ops.quantize(y, null);
    const yShape = y.shape.slice() as [number, number, number];
    this.ops.release(y);
    const ySymbols = await this.ops.toCHWInt(ySymT);
    this.ops.release(ySymT);
    await lap('quantize y');
    const yString = entropyCode(() => encodeWithIndexes(ySymbols, yIndexes, this.params.gcTables), 'y');
    await lap('rANS y');
    return { strings: [yString, zString], zShape: [zh, zw], mode, yShape, ySymbols, yIndexes, zSymbols };
  }

  /**
   * Decode [y, z] strings. `synthesis: false` stops after entropy decoding (symbols and indexes only; xHat is then
   * null as unknown as T — for diagnostics and tests).
   */
  async decompress(strings: readonly [Uint8Array, Uint8Array], zShape: readonly [number, number], opts: { mode?: CodecMode; time?: StageTimer; synthesis?: boolean } = {}): Promise<DecompressResult<T>> {
    const mode = opts.mode ?? 'compat';
    if (mode !== 'compat' && mode !== 'portable') throw new CodecInputError(`unknown mode '${String(mode)}' (compat | portable)`);
    const [zh, zw] = zShape;
    if (!Number.isInteger(zh) || !Number.isInteger(zw) || zh <= 0 || zw <= 0 || zh * zw * this.N > 1 << 26) {
      throw new CodecInputError(`invalid z shape [${zShape.join(',')}]`);
    }
    const time = opts.time;
    let t0 = performance.now();
    const lap = async (stage: string) => { if (time) { await this.ops.sync(); const t = performance.now(); time(stage, t - t0); t0 = t; } };
    const zSymbols = decodeWithIndexes(strings[1], zChannelIndexes(this.N, zh, zw), this.params.ebTables);
    await lap('rANS z');
    t0 = performance.now();
    const yIndexes = await this.indexes(zSymbols, null, [zh, zw], mode, time);
    t0 = performance.now();
    const ySymbols = decodeWithIndexes(strings[0], yIndexes, this.params.gcTables);
    await lap('rANS y');
    if (opts.synthesis === false) return { xHat: null as unknown as T, ySymbols, yIndexes, zSymbols };
    const ySymT = this.ops.fromCHWInt(ySymbols, this.M, zh * 4, zw * 4);
    const yHat = this.ops.dequantize(ySymT, null);
    this.ops.release(ySymT);
    const xHat = gS(this.ops, this.layers, yHat);
    this.ops.release(yHat);
    await lap('g_s');
    return { xHat, ySymbols, yIndexes, zSymbols };
  }
}
