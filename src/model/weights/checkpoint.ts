// Format detection and the flat tensor view of any supported checkpoint file.
import { LegacyTorchFormatError, TensorFormatError, TruncatedCheckpointError, UnknownFormatError } from './errors.ts';
import { readNumpyPickle } from './npickle.ts';
import { looksLikePickle, pyStr } from './pickle.ts';
import { looksLikeSafetensors, readSafetensors } from './safetensors.ts';
import { TENSORS, isLegacyTorch, readTorchZip } from './torch.ts';
import type { CheckpointFormat, HostTensor, RawCheckpoint } from './types.ts';
import { isZip } from './zip.ts';

export function detectFormat(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length === 0) throw new TruncatedCheckpointError('checkpoint file is empty');
  if (isZip(bytes)) return 'torch-zip';
  if (isLegacyTorch(bytes)) throw new LegacyTorchFormatError();
  if (looksLikePickle(bytes)) return 'pickle';
  if (looksLikeSafetensors(bytes)) return 'safetensors';
  if (bytes.length < 10) throw new TruncatedCheckpointError(`checkpoint file is only ${bytes.length} bytes`);
  throw new UnknownFormatError(
    'not a supported checkpoint: expected a torch.save zip (.pth/.pth.tar), a pickle of numpy arrays (.pkl, protocol 2-5) or a .safetensors file',
  );
}

/**
 * Read any supported checkpoint into a flat map of tensors (no model-specific conversion). Tensors may be views into
 * `bytes`. float64/int64 are narrowed to float32/int32 with range checks.
 */
export function readCheckpoint(bytes: Uint8Array): RawCheckpoint {
  const format = detectFormat(bytes);
  if (format === 'safetensors') {
    const { tensors, metadata } = readSafetensors(bytes);
    return { format, tensors, metadata };
  }
  const root = format === 'torch-zip' ? readTorchZip(bytes) : readNumpyPickle(bytes);
  return { format, ...collect(root) };
}

/**
 * A top-level scalar entry of a pickle as a metadata string: str, number and bool as text; a list/tuple of strs (e.g.
 * Detectron2-style `"class_names": [...]`) as a JSON array, the way a converted .safetensors stores it.
 */
function metadataValue(v: unknown): string | undefined {
  const s = pyStr(v) ?? (typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);
  if (s !== undefined) return s;
  if (Array.isArray(v) && v.length > 0) {
    const strs = v.map(pyStr);
    if (strs.every((x) => x !== undefined)) return JSON.stringify(strs);
  }
  return undefined;
}

function isTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && TENSORS.has(v);
}

/**
 * Find the tensors in an unpickled root:
 *  - torch state dict (Map name -> tensor), optionally wrapped as {"state_dict": ...} (CompressAI training checkpoint)
 *    and optionally with a DataParallel "module." prefix;
 *  - Detectron2 {"model": {name: ndarray}, "__author__": ...}.
 * Scalar top-level entries become metadata.
 */
function collect(root: unknown): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  if (!(root instanceof Map)) throw new TensorFormatError('checkpoint root object is not a dict');
  const metadata: Record<string, string> = {};
  let dict: Map<unknown, unknown> = root;
  for (const wrapper of ['state_dict', 'model']) {
    const inner = root.get(wrapper);
    if (inner instanceof Map) {
      dict = inner;
      for (const [k, v] of root) {
        if (typeof k !== 'string' || k === wrapper) continue;
        const s = metadataValue(v);
        if (s !== undefined) metadata[k] = s;
      }
      break;
    }
  }
  const tensors = new Map<string, HostTensor>();
  const walk = (m: Map<unknown, unknown>, prefix: string, depth: number): void => {
    for (const [k, v] of m) {
      const name = prefix + String(k);
      if (isTensor(v)) tensors.set(name, v);
      else if (v instanceof Map && depth < 4) walk(v, `${name}.`, depth + 1);
      else if (prefix === '' && dict === root) {
        const s = metadataValue(v);
        if (s !== undefined) metadata[name] = s;
      }
    }
  };
  walk(dict, '', 0);
  if (tensors.size === 0) throw new TensorFormatError('checkpoint contains no tensors');
  const names = [...tensors.keys()];
  if (names.every((n) => n.startsWith('module.'))) {
    const stripped = new Map<string, HostTensor>();
    for (const [n, t] of tensors) stripped.set(n.slice('module.'.length), t);
    return { tensors: stripped, metadata };
  }
  return { tensors, metadata };
}
