/**
 * Minimal NumPy `.npy` reader and writer (format versions 1.0, 2.0 and 3.0).
 *
 * Supported dtypes (little-endian or byte-order-free only): `<f4`, `<f8`, `<i4`, `<u4`, `<i2`, `<u2`, `|u1`, `|i1`,
 * `|b1`, and `<i8`/`<u8` which are narrowed to Int32Array/Uint32Array when every value fits (otherwise an error).
 * Only C-order arrays are accepted. Every malformed input raises an {@link NpyError}.
 */
import { VcmError } from '../util/errors.ts';

export class NpyError extends VcmError {
  override name = 'NpyError';
  constructor(message: string) {
    super('input', message);
  }
}

export type NpyData = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

export interface NpyArray {
  /** numpy dtype descriptor as stored, e.g. `<f4`; for narrowed 64-bit integers the original (`<i8`). */
  dtype: string;
  shape: number[];
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface DtypeInfo {
  size: number;
  read: (view: DataView, byteOffset: number, count: number) => NpyData;
}

function reader<T extends NpyData>(size: number, Ctor: { new (n: number): T }, get: (v: DataView, o: number) => number): DtypeInfo {
  return {
    size,
    read(view, off, count) {
      const out = new Ctor(count);
      for (let i = 0; i < count; i++) out[i] = get(view, off + i * size);
      return out;
    },
  };
}

const DTYPES: Record<string, DtypeInfo> = {
  '<f4': reader(4, Float32Array, (v, o) => v.getFloat32(o, true)),
  '<f8': reader(8, Float64Array, (v, o) => v.getFloat64(o, true)),
  '<i4': reader(4, Int32Array, (v, o) => v.getInt32(o, true)),
  '<u4': reader(4, Uint32Array, (v, o) => v.getUint32(o, true)),
  '<i2': reader(2, Int16Array, (v, o) => v.getInt16(o, true)),
  '<u2': reader(2, Uint16Array, (v, o) => v.getUint16(o, true)),
  '|u1': reader(1, Uint8Array, (v, o) => v.getUint8(o)),
  '|i1': reader(1, Int8Array, (v, o) => v.getInt8(o)),
  '|b1': reader(1, Uint8Array, (v, o) => (v.getUint8(o) !== 0 ? 1 : 0)),
  '<i8': {
    size: 8,
    read(view, off, count) {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(off + i * 8, true);
        if (v < -2147483648n || v > 2147483647n) {
          throw new NpyError(`int64 value ${v} at element ${i} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return out;
    },
  },
  '<u8': {
    size: 8,
    read(view, off, count) {
      const out = new Uint32Array(count);
      for (let i = 0; i < count; i++) {
        const v = view.getBigUint64(off + i * 8, true);
        if (v > 4294967295n) throw new NpyError(`uint64 value ${v} at element ${i} does not fit in uint32`);
        out[i] = Number(v);
      }
      return out;
    },
  },
};
// single-byte types may also be written with '<' or '=' by some writers
for (const t of ['u1', 'i1', 'b1']) {
  DTYPES[`<${t}`] = DTYPES[`|${t}`]!;
  DTYPES[`=${t}`] = DTYPES[`|${t}`]!;
}

/** Parse the Python-literal header dict of an .npy file. */
function parseHeader(text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new NpyError(`malformed .npy header: ${JSON.stringify(text.slice(0, 200))}`);
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new NpyError(`malformed shape entry '${s}' in .npy header`);
      const n = Number(s);
      if (!Number.isSafeInteger(n)) throw new NpyError(`shape entry ${s} is too large`);
      return n;
    });
  return { descr: descr[1]!, fortran: fortran[1] === 'True', shape: dims };
}

export function readNpy(bytes: Uint8Array): NpyArray {
  if (!(bytes instanceof Uint8Array)) throw new NpyError('readNpy expects a Uint8Array');
  if (bytes.length < 10) throw new NpyError(`file too short for an .npy header (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new NpyError('not an .npy file (bad magic)');
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError('file too short for an .npy v2/v3 header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(`unsupported .npy format version ${major}.${bytes[7]}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new NpyError(`.npy header length ${headerLen} runs past the end of the file`);
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const text = major === 3 ? new TextDecoder('utf-8').decode(headerBytes) : latin1(headerBytes);
  const { descr, fortran, shape } = parseHeader(text);
  if (fortran && shape.length > 1) throw new NpyError('Fortran-order .npy arrays are not supported');
  const info = DTYPES[descr];
  if (!info) throw new NpyError(`unsupported .npy dtype '${descr}' (supported: ${Object.keys(DTYPES).join(', ')})`);
  let count = 1;
  for (const d of shape) count *= d;
  if (!Number.isSafeInteger(count)) throw new NpyError(`element count of shape [${shape}] is too large`);
  const need = count * info.size;
  if (bytes.length - dataStart !== need) {
    throw new NpyError(
      `.npy data size mismatch: shape [${shape.join(', ')}] of ${descr} needs ${need} bytes, file has ${bytes.length - dataStart}`,
    );
  }
  return { dtype: descr, shape, data: info.read(view, dataStart, count) };
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export type NpyWriteDtype = '<f4' | '<f8' | '<i4' | '<u4' | '<i2' | '<u2' | '|u1' | '|i1' | '<i8';

/**
 * Serialize a C-order array as an .npy file (version 1.0, or 2.0 when the header does not fit). `dtype` may be left
 * out for typed arrays: Float32Array -> <f4, Float64Array -> <f8, Int32Array -> <i4, Uint8Array -> |u1, etc.
 */
export function writeNpy(data: ArrayLike<number>, shape: readonly number[], dtype?: NpyWriteDtype): Uint8Array {
  dtype ??= inferWriteDtype(data);
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new NpyError(`invalid shape entry ${d}`);
    count *= d;
  }
  if (count !== data.length) throw new NpyError(`shape [${shape.join(', ')}] has ${count} elements, data has ${data.length}`);
  const size = dtype === '<f8' || dtype === '<i8' ? 8 : dtype === '<i2' || dtype === '<u2' ? 2 : dtype.endsWith('1') ? 1 : 4;
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let pre = 10;
  if (dict.length + 1 + pre > 65535) {
    major = 2;
    pre = 12;
  }
  const total = pre + dict.length + 1;
  const pad = (64 - (total % 64)) % 64;
  dict = dict + ' '.repeat(pad) + '\n';
  const out = new Uint8Array(pre + dict.length + count * size);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  let o = pre + dict.length;
  for (let i = 0; i < count; i++, o += size) {
    const v = data[i]!;
    switch (dtype) {
      case '<f4':
        view.setFloat32(o, v, true);
        break;
      case '<f8':
        view.setFloat64(o, v, true);
        break;
      case '<i4':
        checkInt(v, -2147483648, 2147483647, dtype);
        view.setInt32(o, v, true);
        break;
      case '<u4':
        checkInt(v, 0, 4294967295, dtype);
        view.setUint32(o, v, true);
        break;
      case '<i2':
        checkInt(v, -32768, 32767, dtype);
        view.setInt16(o, v, true);
        break;
      case '<u2':
        checkInt(v, 0, 65535, dtype);
        view.setUint16(o, v, true);
        break;
      case '|u1':
        checkInt(v, 0, 255, dtype);
        view.setUint8(o, v);
        break;
      case '|i1':
        checkInt(v, -128, 127, dtype);
        view.setInt8(o, v);
        break;
      case '<i8':
        checkInt(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, dtype);
        view.setBigInt64(o, BigInt(v), true);
        break;
    }
  }
  return out;
}

function inferWriteDtype(data: ArrayLike<number>): NpyWriteDtype {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof Uint32Array) return '<u4';
  if (data instanceof Int16Array) return '<i2';
  if (data instanceof Uint16Array) return '<u2';
  if (data instanceof Uint8Array) return '|u1';
  if (data instanceof Int8Array) return '|i1';
  throw new NpyError('writeNpy needs an explicit dtype for plain arrays');
}

function checkInt(v: number, lo: number, hi: number, dtype: string): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new NpyError(`value ${v} is not representable as ${dtype}`);
}
