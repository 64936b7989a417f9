/**
 * Lossless F16 storage in .safetensors: a float32 tensor whose values are all exactly float16 is written as F16
 * (half the bytes) and reads back as the same float32 values with the same fingerprint; any other float tensor stays
 * F32. This is what keeps the bundled VBR codec (weights rounded to f16 before export) within the size budget.
 */
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/model/weights/index.ts';
import { fingerprintTensors } from '../../src/model/weights/hash.ts';
import { halfBitsIfExact, toHostArray } from '../../src/model/weights/tensor.ts';
import type { HostTensor } from '../../src/model/weights/types.ts';

describe('lossless float16 storage', () => {
  it('every finite float16 is recognised as exact and gives back its own bits', () => {
    const bits = new Uint16Array(1);
    for (let h = 0; h < 0x10000; h++) {
      if (((h >> 10) & 0x1f) === 31) continue; // Inf / NaN are never stored as F16
      bits[0] = h;
      const v = toHostArray('t', new Uint8Array(bits.buffer), 'float16', 1)[0]!;
      expect(halfBitsIfExact(v), `0x${h.toString(16)}`).toBe(h);
    }
  });

  it('values between float16s, beyond its range, or non-finite are not exact', () => {
    for (const v of [0.1, 1 + 2 ** -11, 65520, 2 ** -25, -3.0000005, Math.fround(1 / 3), Infinity, -Infinity, NaN])
      expect(halfBitsIfExact(Math.fround(v)), String(v)).toBe(-1);
    expect(halfBitsIfExact(65504)).toBe(0x7bff);
    expect(halfBitsIfExact(-(2 ** -24))).toBe(0x8001);
  });

  it('an f16-exact tensor is stored as F16, another as F32; values and fingerprint survive the round trip', () => {
    const exact = new Float32Array(1000).map((_, i) => Math.fround((i - 500) / 64));
    const inexact = new Float32Array(1000).map((_, i) => Math.fround(Math.sin(i)));
    const ints = new Int32Array([1, 2, 3]);
    const tensors = new Map<string, HostTensor>([
      ['a.bias', { dtype: 'float32', shape: [3], data: new Float32Array([0.5, -1, 2]) }], // 6 bytes: what follows is unaligned
      ['a.weight', { dtype: 'float32', shape: [10, 100], data: exact }],
      ['b.weight', { dtype: 'float32', shape: [1000], data: inexact }],
      ['c.cdf', { dtype: 'int32', shape: [3], data: ints }],
    ] as [string, HostTensor][]);
    const st = writeSafetensors(tensors, { format: 'pt' });
    const headerLen = new DataView(st.buffer, st.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + headerLen)));
    expect(header['a.weight'].dtype).toBe('F16');
    expect(header['a.weight'].data_offsets[1] - header['a.weight'].data_offsets[0]).toBe(2000);
    expect(header['b.weight'].dtype).toBe('F32');
    expect(header['c.cdf'].dtype).toBe('I32');
    const back = readSafetensors(st).tensors;
    expect(header['a.bias'].dtype).toBe('F16');
    expect(Array.from(back.get('a.bias')!.data)).toEqual([0.5, -1, 2]);
    expect(Array.from(back.get('a.weight')!.data)).toEqual(Array.from(exact));
    expect(Array.from(back.get('b.weight')!.data)).toEqual(Array.from(inexact));
    expect(Array.from(back.get('c.cdf')!.data)).toEqual([1, 2, 3]);
    expect(Buffer.from(fingerprintTensors(back)).toString('hex')).toBe(Buffer.from(fingerprintTensors(tensors)).toString('hex'));
  });
});
