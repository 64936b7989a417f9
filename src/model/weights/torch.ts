// torch.save zip format (torch >= 1.6): `<prefix>/data.pkl` (pickle whose tensors refer to storages by persistent id)
// plus `<prefix>/data/<key>` raw little-endian storages, optional `<prefix>/byteorder`.
import { LegacyTorchFormatError, TensorFormatError, UnsafePickleError, ZipFormatError } from './errors.ts';
import { PyCallable, pyStr, unpickle } from './pickle.ts';
import { type SourceDtype, ITEMSIZE, stridedTensor } from './tensor.ts';
import type { HostTensor } from './types.ts';
import { MAX_PICKLE_BYTES, ZipArchive } from './zip.ts';

const STORAGE_DTYPES: Record<string, SourceDtype> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  IntStorage: 'int32',
  LongStorage: 'int64',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

class StorageType {
  constructor(readonly dtype: SourceDtype) {}
}
class Storage {
  constructor(
    readonly key: string,
    readonly dtype: SourceDtype,
    readonly bytes: Uint8Array,
  ) {}
}
/** Marker for torch.Tensor / nn.Parameter in `_rebuild_from_type_v2`. */
class TensorType {}

/** Brand for HostTensors built by the unpicklers, so a container walk can find them. */
export const TENSORS = new WeakSet<object>();

function brand(t: HostTensor): HostTensor {
  TENSORS.add(t);
  return t;
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new TensorFormatError(`${what} is not a tuple of integers`);
  }
  return v as number[];
}

/** The legacy torch.save magic number pickled as a LONG1 at the very start (0x1950a86a20f9469cfc6c). */
export function isLegacyTorch(b: Uint8Array): boolean {
  const magic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  if (b.length < magic.length) return false;
  return magic.every((m, i) => b[i] === m);
}

export function readTorchZip(bytes: Uint8Array): unknown {
  const zip = new ZipArchive(bytes);
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length === 0) {
    if (zip.entries.size > 0 && [...zip.entries.keys()].some((n) => n.endsWith('data.pkl'))) {
      throw new ZipFormatError('zip has data.pkl but not at <prefix>/data.pkl');
    }
    throw new ZipFormatError('zip archive is not a torch checkpoint: no <prefix>/data.pkl entry');
  }
  if (pkls.length > 1) throw new ZipFormatError(`zip archive has ${pkls.length} data.pkl entries`);
  const prefix = pkls[0]!.slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little') throw new TensorFormatError(`checkpoint byteorder '${order}' is not supported (little-endian only)`);
  }
  const storages = new Map<string, Storage>();

  const resolveGlobal = (module: string, name: string): unknown => {
    const q = `${module}.${name}`;
    if (module === 'collections' && name === 'OrderedDict') return new PyCallable(q, () => new Map());
    if (module === 'torch' && STORAGE_DTYPES[name]) return new StorageType(STORAGE_DTYPES[name]!);
    if ((module === 'torch' && name === 'Tensor') || (module === 'torch.nn.parameter' && name === 'Parameter')) {
      return new TensorType();
    }
    if (module === 'torch._utils' && (name === '_rebuild_tensor_v2' || name === '_rebuild_tensor')) {
      return new PyCallable(q, (args) => {
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof Storage)) throw new TensorFormatError(`${q}: first argument is not a storage`);
        if (typeof offset !== 'number') throw new TensorFormatError(`${q}: bad storage offset`);
        const shape = intList(size, 'tensor size');
        const strides = intList(stride, 'tensor stride');
        const count = storage.bytes.byteLength / ITEMSIZE[storage.dtype];
        return brand(stridedTensor(`storage ${storage.key}`, storage.bytes, storage.dtype, count, offset, shape, strides));
      });
    }
    if (module === 'torch._utils' && (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state')) {
      return new PyCallable(q, (args) => args[0]);
    }
    if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
      return new PyCallable(q, (args) => {
        const [fn, type, inner] = args;
        if (!(fn instanceof PyCallable) || !(type instanceof TensorType) || !Array.isArray(inner)) {
          throw new UnsafePickleError(`${q} with a non-tensor type`);
        }
        return fn.call(inner);
      });
    }
    throw new UnsafePickleError(q);
  };

  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pyStr(pid[0]) !== 'storage') throw new TensorFormatError('unsupported persistent id in data.pkl');
    const [, type, keyV] = pid;
    const key = pyStr(keyV);
    if (!(type instanceof StorageType) || key === undefined) throw new TensorFormatError('bad storage reference in data.pkl');
    let s = storages.get(key);
    if (!s) {
      const entry = `${prefix}data/${key}`;
      if (!zip.entries.has(entry)) throw new ZipFormatError(`storage entry '${entry}' is missing from the archive`);
      // the storage's element count (pid[4]) fixes the entry's size: checked before anything is inflated
      const numel = typeof pid[4] === 'number' ? pid[4] : typeof pid[4] === 'bigint' ? Number(pid[4]) : undefined;
      const data = zip.read(entry, { expectBytes: numel !== undefined ? numel * ITEMSIZE[type.dtype] : undefined });
      if (data.byteLength % ITEMSIZE[type.dtype] !== 0) {
        throw new TensorFormatError(`storage '${entry}' has ${data.byteLength} bytes, not a multiple of ${ITEMSIZE[type.dtype]}`);
      }
      s = new Storage(key, type.dtype, data);
      storages.set(key, s);
    }
    return s;
  };

  return unpickle(zip.read(pkls[0]!, { maxBytes: MAX_PICKLE_BYTES }), { resolveGlobal, persistentLoad });
}

export { LegacyTorchFormatError };
