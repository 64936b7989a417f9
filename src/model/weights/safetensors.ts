// safetensors (https://github.com/huggingface/safetensors): u64 LE header length, JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw little-endian data.
// Offsets are relative to the start of the data section. We pad the header with spaces to a multiple of 8 bytes so
// every tensor of a file we write is 8-byte aligned (what the reference implementation does as well).
import { SafetensorsFormatError, TruncatedCheckpointError } from './errors.ts';
import { type SourceDtype, ITEMSIZE, halvesIfExact, hostDtype, numel, toHostArray } from './tensor.ts';
import type { HostTensor } from './types.ts';

const ST_DTYPES: Record<string, SourceDtype> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I32: 'int32',
  I64: 'int64',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

const MAX_HEADER = 100 * 1024 * 1024;

/** Cheap format sniff: a plausible header length followed by '{'. */
export function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.length < 10) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  return hi === 0 && lo > 1 && lo < MAX_HEADER && b[8] === 0x7b;
}

export function readSafetensors(b: Uint8Array): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  if (b.length < 8) throw new TruncatedCheckpointError(`safetensors file is ${b.length} bytes, shorter than its 8-byte header length`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > MAX_HEADER) throw new SafetensorsFormatError(`safetensors header length ${n} is implausible`);
  if (8 + n > b.length) throw new TruncatedCheckpointError(`safetensors header (${n} bytes) runs past the end of the file (${b.length} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsFormatError(`safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsFormatError('safetensors header is not an object');
  const data = b.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, HostTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object') throw new SafetensorsFormatError('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new SafetensorsFormatError(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof t.dtype === 'string' ? ST_DTYPES[t.dtype] : undefined;
    if (!dtype) throw new SafetensorsFormatError(`${name}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    const shape = t.shape;
    const offs = t.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsFormatError(`${name}: bad shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0) || offs[1] < offs[0]) {
      throw new SafetensorsFormatError(`${name}: bad data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const count = numel(shape as number[]);
    if (end - begin !== count * ITEMSIZE[dtype]) {
      throw new SafetensorsFormatError(`${name}: data_offsets span ${end - begin} bytes, shape needs ${count * ITEMSIZE[dtype]}`);
    }
    if (end > data.length) throw new TruncatedCheckpointError(`${name}: data (${begin}..${end}) beyond the end of the file`);
    tensors.set(name, { dtype: hostDtype(dtype), shape: shape as number[], data: toHostArray(name, data.subarray(begin, end), dtype, count) });
  }
  return { tensors, metadata };
}

export function writeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  // a float tensor whose every value is exactly a float16 (e.g. weights rounded to f16 before export) is stored as F16:
  // lossless, half the bytes; readers upcast it to the same float32 values (and the same fingerprint)
  const data = new Map<string, ArrayBufferView>();
  let off = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const half = t.dtype === 'float32' ? halvesIfExact(t.data as Float32Array) : null;
    const d = half ?? t.data;
    data.set(name, d);
    const dtype = half ? 'F16' : t.dtype === 'float32' ? 'F32' : 'I32';
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + d.byteLength] };
    off += d.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + off);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  json = new Uint8Array(0);
  let p = 8 + padded;
  for (const name of names) {
    const d = data.get(name)!;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p);
    p += d.byteLength;
  }
  return out;
}
