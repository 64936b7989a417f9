// Building HostTensors from raw little-endian bytes: zero-copy views when aligned float32/int32, conversion with range
// checks otherwise (float64 -> float32, int64 -> int32, float16/bfloat16 -> float32, small ints -> int32).
import { NonFiniteWeightError, TensorFormatError, ValueRangeError } from './errors.ts';
import type { HostTensor } from './types.ts';

export type SourceDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'int16' | 'int8' | 'uint8' | 'bool';

export const ITEMSIZE: Record<SourceDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const FLT_MAX = 3.4028234663852886e38;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** The float16 bits of `v` when `v` (a float32) is exactly a float16, else -1 (NaN and ±Infinity: -1). */
export function halfBitsIfExact(v: number): number {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  if (!Number.isFinite(v)) return -1;
  const sign = v < 0 ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a < 2 ** -14) {
    const m = a * 2 ** 24; // subnormal: m · 2^-24, m < 1024
    return Number.isInteger(m) ? sign | m : -1;
  }
  const e = Math.floor(Math.log2(a));
  const ex = 2 ** e > a ? e - 1 : 2 ** (e + 1) <= a ? e + 1 : e; // guard log2 rounding
  if (ex > 15) return -1;
  const m = (a / 2 ** ex - 1) * 1024;
  return Number.isInteger(m) ? sign | ((ex + 15) << 10) | m : -1;
}

/** A float32 tensor as float16 bits when every value is exactly a float16 (lossless), else null. */
export function halvesIfExact(x: Float32Array): Uint16Array | null {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const h = halfBitsIfExact(x[i]!);
    if (h < 0) return null;
    out[i] = h;
  }
  return out;
}

/**
 * Convert `count` elements of `dtype` starting at `bytes[0]` (little-endian unless `bigEndian`) to a flat
 * Float32Array/Int32Array. Aligned little-endian float32/int32 input gives a view (no copy).
 */
export function toHostArray(
  name: string,
  bytes: Uint8Array,
  dtype: SourceDtype,
  count: number,
  bigEndian = false,
): Float32Array | Int32Array {
  const size = ITEMSIZE[dtype];
  if (bytes.byteLength < count * size) {
    throw new TensorFormatError(`${name}: storage holds ${bytes.byteLength} bytes, ${count * size} needed`);
  }
  const le = !bigEndian;
  if ((dtype === 'float32' || dtype === 'int32') && le && bytes.byteOffset % 4 === 0) {
    return dtype === 'float32'
      ? new Float32Array(bytes.buffer, bytes.byteOffset, count)
      : new Int32Array(bytes.buffer, bytes.byteOffset, count);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, count * size);
  switch (dtype) {
    case 'float32': {
      const out = new Float32Array(count);
      if (le) new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      else for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      if (le) new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
      else for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, false);
      return out;
    }
    case 'float64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = dv.getFloat64(i * 8, le);
        if (Math.abs(v) > FLT_MAX && Number.isFinite(v)) {
          throw new ValueRangeError(`${name}: float64 value ${v} at index ${i} overflows float32`);
        }
        out[i] = v;
      }
      return out;
    }
    case 'float16':
    case 'bfloat16': {
      const out = new Float32Array(count);
      const u = new Uint32Array(1);
      const f = new Float32Array(u.buffer);
      for (let i = 0; i < count; i++) {
        const h = dv.getUint16(i * 2, le);
        if (dtype === 'float16') out[i] = halfToFloat(h);
        else {
          u[0] = h << 16;
          out[i] = f[0]!;
        }
      }
      return out;
    }
    case 'int64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = dv.getUint32(i * 8 + (le ? 0 : 4), le);
        const hi = dv.getInt32(i * 8 + (le ? 4 : 0), le);
        if (!((hi === 0 && lo < 0x80000000) || (hi === -1 && lo >= 0x80000000))) {
          throw new ValueRangeError(`${name}: int64 value ${hi * 2 ** 32 + lo} at index ${i} does not fit int32`);
        }
        out[i] = lo | 0;
      }
      return out;
    }
    case 'int16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(i * 2, le);
      return out;
    }
    case 'int8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    }
    case 'uint8':
    case 'bool': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes[i]!;
      return out;
    }
  }
}

export function hostDtype(dtype: SourceDtype): 'float32' | 'int32' {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : 'int32';
}

/**
 * A tensor `shape` with element `stride`s at element `offset` into a storage of `storageCount` elements. Contiguous
 * tensors become views; other layouts are gathered into a new C-order array.
 */
export function stridedTensor(
  name: string,
  storage: Uint8Array,
  dtype: SourceDtype,
  storageCount: number,
  offset: number,
  shape: number[],
  stride: number[],
): HostTensor {
  if (shape.length !== stride.length) throw new TensorFormatError(`${name}: size and stride ranks differ`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new TensorFormatError(`${name}: bad dimension ${d}`);
  }
  const count = numel(shape);
  let maxIndex = offset;
  for (let i = 0; i < shape.length; i++) if (shape[i]! > 0) maxIndex += (shape[i]! - 1) * stride[i]!;
  if (count > 0 && (offset < 0 || maxIndex >= storageCount)) {
    throw new TensorFormatError(`${name}: view [offset ${offset}, shape ${fmtShape(shape)}] outside its storage of ${storageCount} elements`);
  }
  let contiguous = true;
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expect) contiguous = false;
    expect *= shape[i]!;
  }
  const size = ITEMSIZE[dtype];
  if (contiguous || count === 0) {
    const data = toHostArray(name, storage.subarray(offset * size), dtype, count);
    return { dtype: hostDtype(dtype), shape, data };
  }
  const flat = toHostArray(name, storage.subarray(offset * size), dtype, maxIndex - offset + 1);
  const out = flat instanceof Float32Array ? new Float32Array(count) : new Int32Array(count);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < count; o++) {
    let src = 0;
    for (let d = 0; d < shape.length; d++) src += idx[d]! * stride[d]!;
    out[o] = flat[src]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return { dtype: hostDtype(dtype), shape, data: out };
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throw NonFiniteWeightError listing every float tensor that holds NaN or Inf. */
export function checkFinite(tensors: Map<string, HostTensor>): void {
  const bad: { name: string; nan: number; inf: number; firstIndex: number }[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32') continue;
    const d = t.data as Float32Array;
    let nan = 0;
    let inf = 0;
    let first = -1;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v - v !== 0) {
        if (v !== v) nan++;
        else inf++;
        if (first < 0) first = i;
      }
    }
    if (first >= 0) bad.push({ name, nan, inf, firstIndex: first });
  }
  if (bad.length) throw new NonFiniteWeightError(bad);
}
