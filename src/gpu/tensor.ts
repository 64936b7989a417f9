import { GpuShapeError } from './errors.ts';

export type DType = 'f32' | 'i32' | 'u32';
/**
 * Storage layouts. 'hwc': a [C, H, W] feature map stored channels-last (batch 1), the layout of every conv kernel.
 * 'flat': any shape stored row-major in the order of `shape`.
 */
export type Layout = 'hwc' | 'flat';

export interface TensorOwner {
  releaseBuffer(buf: GPUBuffer): void;
}

/** A tensor on the GPU: logical shape, dtype and layout over a (pooled) GPUBuffer. */
export class GpuTensor {
  private _buffer: GPUBuffer | null;
  constructor(
    private readonly owner: TensorOwner,
    buffer: GPUBuffer,
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
    readonly layout: Layout = 'flat',
    /** Weights and other long-lived tensors are not returned to the pool. */
    readonly persistent = false,
  ) {
    this._buffer = buffer;
  }
  get buffer(): GPUBuffer {
    if (!this._buffer) throw new GpuShapeError(`use of a released tensor [${this.shape.join('x')}]`);
    return this._buffer;
  }
  get released(): boolean {
    return this._buffer === null;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get byteLength(): number {
    return this.size * 4;
  }
  /** [C, H, W] of a feature map. */
  get chw(): [number, number, number] {
    if (this.shape.length !== 3) throw new GpuShapeError(`expected a [C,H,W] feature map, got [${this.shape.join(',')}]`);
    return this.shape as [number, number, number];
  }
  release(): void {
    if (!this._buffer) return;
    if (this.persistent) this._buffer.destroy();
    else this.owner.releaseBuffer(this._buffer);
    this._buffer = null;
  }
}

/** NCHW (batch 1) host data → HWC. */
export function chwToHwc(src: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let ci = 0; ci < c; ci++) {
    const base = ci * h * w;
    for (let i = 0; i < h * w; i++) out[i * c + ci] = src[base + i]!;
  }
  return out;
}

/** HWC → NCHW (batch 1). */
export function hwcToChw(src: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(c * h * w);
  for (let i = 0; i < h * w; i++) {
    const o = i * c;
    for (let ci = 0; ci < c; ci++) out[ci * h * w + i] = src[o + ci]!;
  }
  return out;
}
