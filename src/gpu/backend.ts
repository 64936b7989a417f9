/** The GPU implementation of the graph op set (src/model/backend.ts), over a GpuContext. */
import type { Backend, ConvHandle, ConvOpts, WarmupReport } from '../model/backend.ts';
import type { GpuContext, PlanSkip } from './context.ts';
import { GpuShapeError } from './errors.ts';
import { checkPrecision, conv2d, prepareConv, type ConvWeights } from './ops/conv.ts';
import { abs, add, relu } from './ops/eltwise.ts';
import { maxPool2d } from './ops/pool.ts';
import { GpuTensor } from './tensor.ts';
import type { Precision } from '../util/f16.ts';

export interface GpuBackendOptions {
  /**
   * Precision of this backend's ordinary convolutions (transposed ones stay f32): 'f16' stores the weights as binary16
   * and rounds the operands to f16 with f32 accumulation; needs the 'shader-f16' feature. Default 'f32'.
   */
  precision?: Precision;
}

export class GpuBackend implements Backend<GpuTensor> {
  readonly kind = 'gpu' as const;
  readonly precision: Precision;
  constructor(
    readonly ctx: GpuContext,
    opts: GpuBackendOptions = {},
  ) {
    this.precision = opts.precision ?? 'f32';
    checkPrecision(ctx, this.precision);
  }

  fromCHW(data: Float32Array, c: number, h: number, w: number): GpuTensor {
    return this.ctx.uploadCHW(data, c, h, w);
  }
  toCHW(t: GpuTensor): Promise<Float32Array> {
    return this.ctx.readCHW(t);
  }
  fromFlat(data: Float32Array | Int32Array, shape: readonly number[]): GpuTensor {
    return this.ctx.upload(data, shape);
  }
  async readFlat(t: GpuTensor): Promise<Float32Array | Int32Array> {
    const d = await this.ctx.read(t);
    return d instanceof Uint32Array ? new Int32Array(d.buffer) : d;
  }
  release(...ts: (GpuTensor | undefined | null)[]): void {
    for (const t of ts) t?.release();
  }

  prepareConv(
    weight: Float32Array,
    shape: readonly number[],
    bias: Float32Array | null,
    opts: { transposed?: boolean; label?: string; precision?: Precision } = {},
  ): ConvHandle {
    return prepareConv(this.ctx, weight, shape, bias, { ...opts, precision: opts.transposed ? 'f32' : (opts.precision ?? this.precision) });
  }
  conv2d(x: GpuTensor, w: ConvHandle, opts: ConvOpts = {}): GpuTensor {
    const residual = opts.residual;
    if (residual !== undefined && !(residual instanceof GpuTensor)) throw new GpuShapeError('residual must be a GPU tensor');
    return conv2d(this.ctx, x, w as ConvWeights, { ...opts, residual });
  }
  maxPool2d(x: GpuTensor, k: number, stride: number, pad: number): GpuTensor {
    return maxPool2d(this.ctx, x, k, stride, pad);
  }
  add(a: GpuTensor, b: GpuTensor, opts: { relu?: boolean } = {}): GpuTensor {
    return add(this.ctx, a, b, opts);
  }
  relu(a: GpuTensor): GpuTensor {
    return relu(this.ctx, a);
  }
  abs(a: GpuTensor): GpuTensor {
    return abs(this.ctx, a);
  }
  sync(): Promise<void> {
    return this.ctx.sync();
  }
  warmup(fn: (unrecorded: PlanSkip) => Promise<unknown>): Promise<WarmupReport> {
    return warmupContext(this.ctx, fn);
  }
}

/** Plan `fn` on `ctx`, then compile (async, all at once) and prime every pipeline it needs. */
export async function warmupContext(ctx: GpuContext, fn: (unrecorded: PlanSkip) => Promise<unknown>): Promise<WarmupReport> {
  const t0 = performance.now();
  const specs = await ctx.plan(fn);
  const planMs = performance.now() - t0;
  const w = await ctx.warm(specs);
  return {
    planned: specs.length,
    compiled: w.compiled,
    primed: w.primed,
    failed: w.failed,
    planMs,
    compileMs: w.compileMs,
    primeMs: w.primeMs,
    totalMs: performance.now() - t0,
    perPipelineMs: w.perPipelineMs,
  };
}
