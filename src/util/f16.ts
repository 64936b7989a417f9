/**
 * Half precision on the host: rounding to IEEE binary16 (round to nearest, ties to even, as WGSL's f32 → f16
 * conversion) and packing into the bytes a WGSL `array<vec4<f16>>` binding reads. The conversion itself comes from
 * @petamoriken/float16 (Node 20 has no Float16Array).
 */
import { Float16Array, f16round } from '@petamoriken/float16';

/** Arithmetic precision of the convolutions: 'f16' = f16 weights and operands with f32 accumulation (docs/performance.md). */
export type Precision = 'f32' | 'f16';

export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

/** Largest finite binary16 value. */
export const F16_MAX = 65504;

/** Each value rounded to the nearest binary16 value, returned as float32 (a new array). */
export function roundToF16(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f16round(a[i]!);
  return out;
}

/**
 * binary16 bit patterns of `a`, two per u32 (element 2i in the low half, little-endian, as the GPU reads it).
 * `a.length` must be even. Throws RangeError naming the first value outside the f16 range (it would become ±Inf).
 */
export function packF16(a: Float32Array, what = 'tensor'): Uint32Array {
  if (a.length % 2 !== 0) throw new RangeError(`packF16: ${what} has an odd number of values (${a.length})`);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (!(Math.abs(v) <= F16_MAX))
      throw new RangeError(`${what}: value ${v} at index ${i} does not fit in f16 (|x| <= ${F16_MAX}); use precision 'f32'`);
  }
  const h = new Float16Array(a);
  return new Uint32Array(h.buffer, h.byteOffset, a.length / 2);
}

/** Parse a precision given as text (CLI, options): a clear error otherwise. */
export function parsePrecision(s: unknown, where = 'precision'): Precision {
  if (s === undefined) return 'f32';
  if (s === 'f32' || s === 'f16') return s;
  throw new RangeError(`${where} must be 'f32' or 'f16', got ${JSON.stringify(s)}`);
}

/**
 * Why `precision` cannot run on an adapter with these features, or null (pure; tested). f16 needs 'shader-f16'
 * (requested at device creation when the adapter has it).
 */
export function precisionProblem(precision: Precision, features: readonly string[], adapter = 'this adapter'): string | null {
  if (precision === 'f16' && !features.includes('shader-f16')) {
    return `precision 'f16' needs the WebGPU feature 'shader-f16', which ${adapter} does not offer (or the device was created without it); use precision 'f32'`;
  }
  return null;
}
