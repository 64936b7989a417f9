// Pickles of numpy arrays (Detectron2 model-zoo `.pkl`: {"model": {name: ndarray}, "__author__": ...}), protocols 2-5.
//  - protocols 2-4: numpy.core.multiarray._reconstruct(ndarray, (0,), b'b') + BUILD (1, shape, dtype, fortran, raw)
//    where raw is bytes (BINBYTES, protocol 3+) or `_codecs.encode(str, 'latin1')` (protocol 2) or a py2 str;
//  - protocol 5: numpy.core.numeric._frombuffer(buffer, dtype, shape, order) with an in-band buffer.
// numpy 2 spells the modules `numpy._core.*`; both are accepted.
import { TensorFormatError, UnsafePickleError } from './errors.ts';
import { LazyUnicode, Py2Str, PyCallable, type PyBuildable, latin1Encode, pyStr, unpickle } from './pickle.ts';
import { type SourceDtype, ITEMSIZE, hostDtype, numel, toHostArray } from './tensor.ts';
import { TENSORS } from './torch.ts';
import type { HostTensor } from './types.ts';

const DTYPE_CODES: Record<string, SourceDtype> = {
  f4: 'float32',
  f8: 'float64',
  f2: 'float16',
  i4: 'int32',
  i8: 'int64',
  i2: 'int16',
  i1: 'int8',
  u1: 'uint8',
  b1: 'bool',
};

class NpDtype implements PyBuildable {
  bigEndian = false;
  constructor(readonly code: string) {}
  get dtype(): SourceDtype {
    const d = DTYPE_CODES[this.code.replace(/^[<>=|]/, '')];
    if (!d) throw new TensorFormatError(`numpy dtype '${this.code}' is not supported (float/int arrays only)`);
    return d;
  }
  __setstate__(state: unknown): void {
    if (Array.isArray(state) && state.length >= 2) {
      const order = pyStr(state[1]);
      this.bigEndian = order === '>';
    }
  }
}

class NpArrayBuilder implements PyBuildable {
  tensor?: HostTensor;
  __setstate__(state: unknown): void {
    if (!Array.isArray(state) || state.length !== 5) throw new TensorFormatError('numpy array state is not a 5-tuple');
    const [, shapeV, dtype, fortran, raw] = state;
    if (!(dtype instanceof NpDtype)) throw new TensorFormatError('numpy array state has no dtype');
    const shape = toShape(shapeV);
    let bytes: Uint8Array;
    if (raw instanceof Uint8Array) bytes = raw;
    else if (typeof raw === 'string' || raw instanceof LazyUnicode || raw instanceof Py2Str) bytes = latin1Encode(raw);
    else throw new TensorFormatError('numpy array data is not a byte string (object arrays are not supported)');
    this.tensor = makeArray(bytes, dtype, shape, fortran === true);
    TENSORS.add(this.tensor);
  }
}

function toShape(v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw new TensorFormatError('numpy array shape is not a tuple of integers');
  }
  return v as number[];
}

function makeArray(bytes: Uint8Array, dt: NpDtype, shape: number[], fortran: boolean): HostTensor {
  const count = numel(shape);
  const dtype = dt.dtype;
  if (bytes.byteLength !== count * ITEMSIZE[dtype]) {
    throw new TensorFormatError(`numpy array ${JSON.stringify(shape)} ${dtype}: ${bytes.byteLength} data bytes, ${count * ITEMSIZE[dtype]} expected`);
  }
  let data = toHostArray(`array ${JSON.stringify(shape)}`, bytes, dtype, count, dt.bigEndian);
  if (fortran && shape.length > 1) {
    const out = data instanceof Float32Array ? new Float32Array(count) : new Int32Array(count);
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    const fstride = new Array<number>(rank);
    let s = 1;
    for (let d = 0; d < rank; d++) { fstride[d] = s; s *= shape[d]!; }
    for (let o = 0; o < count; o++) {
      let src = 0;
      for (let d = 0; d < rank; d++) src += idx[d]! * fstride[d]!;
      out[o] = data[src]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    data = out;
  }
  return { dtype: hostDtype(dtype), shape, data };
}

const NUMPY_MODULES = new Set(['numpy.core.multiarray', 'numpy._core.multiarray', 'numpy.core.numeric', 'numpy._core.numeric', 'numpy']);

export function resolveNumpyGlobal(module: string, name: string): unknown {
  const q = `${module}.${name}`;
  if (module === 'numpy' && name === 'ndarray') return new PyCallable(q, () => new NpArrayBuilder());
  if (module === 'numpy' && name === 'dtype') {
    return new PyCallable(q, (args) => {
      const code = pyStr(args[0]);
      if (code === undefined) throw new TensorFormatError('numpy.dtype with a non-string code');
      return new NpDtype(code);
    });
  }
  if (NUMPY_MODULES.has(module) && name === '_reconstruct') {
    return new PyCallable(q, () => new NpArrayBuilder());
  }
  if (NUMPY_MODULES.has(module) && name === '_frombuffer') {
    return new PyCallable(q, (args) => {
      const [buf, dtype, shapeV, order] = args;
      if (!(buf instanceof Uint8Array) || !(dtype instanceof NpDtype)) throw new TensorFormatError('bad numpy _frombuffer arguments');
      const t = makeArray(buf, dtype, toShape(shapeV), pyStr(order) === 'F');
      TENSORS.add(t);
      return t;
    });
  }
  if (NUMPY_MODULES.has(module) && name === 'scalar') {
    return new PyCallable(q, (args) => {
      const [dtype, raw] = args;
      if (!(dtype instanceof NpDtype)) throw new TensorFormatError('bad numpy scalar');
      const bytes = raw instanceof Uint8Array ? raw : latin1Encode(raw as string);
      const t = makeArray(bytes, dtype, [], false);
      return t.data[0];
    });
  }
  if (module === '_codecs' && name === 'encode') {
    return new PyCallable(q, (args) => {
      const enc = (pyStr(args[1]) ?? 'utf-8').toLowerCase().replace(/[-_]/g, '');
      if (enc !== 'latin1' && enc !== 'iso88591') throw new UnsafePickleError(`_codecs.encode with encoding ${enc}`);
      return latin1Encode(args[0] as string);
    });
  }
  if ((module === 'collections' && name === 'OrderedDict')) return new PyCallable(q, () => new Map());
  if ((module === 'builtins' || module === '__builtin__') && name === 'bytearray') {
    return new PyCallable(q, (args) => (args.length === 0 ? new Uint8Array(0) : args[0] instanceof Uint8Array ? args[0] : latin1Encode(args[0] as string)));
  }
  throw new UnsafePickleError(q);
}

/** Unpickle a numpy/Detectron2 pickle. Array builders are replaced by their HostTensor in the result. */
export function readNumpyPickle(bytes: Uint8Array): unknown {
  const root = unpickle(bytes, { resolveGlobal: resolveNumpyGlobal });
  return unwrapBuilders(root);
}

function unwrapBuilders(v: unknown, seen = new Set<object>()): unknown {
  if (v instanceof NpArrayBuilder) {
    if (!v.tensor) throw new TensorFormatError('numpy array without state');
    return v.tensor;
  }
  if (v === null || typeof v !== 'object' || seen.has(v)) return v; // memo can make cycles
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) v.set(k, unwrapBuilders(x, seen));
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = unwrapBuilders(v[i], seen);
  }
  return v;
}
