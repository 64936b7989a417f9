// Typed errors of the weight loader. Every failure of reading, converting or validating a checkpoint is a
// CheckpointError (or a subclass) with a stable `code`, so callers and tests can branch on it. All are VcmErrors of kind 'input'.
import { VcmError } from '../../util/errors.ts';

export type CheckpointErrorCode =
  | 'TRUNCATED' // the file ends before a structure it announces
  | 'UNKNOWN_FORMAT' // not a torch zip, a pickle or a safetensors file
  | 'LEGACY_TORCH' // pre-1.6 torch.save format
  | 'BAD_ZIP' // malformed zip directory or entry
  | 'BAD_PICKLE' // malformed pickle stream or unsupported opcode
  | 'UNSAFE_PICKLE' // a global outside the allow-list (tensors and arrays only)
  | 'BAD_TENSOR' // a tensor whose storage, dtype or layout cannot be read
  | 'NON_FINITE' // NaN or Inf in a weight
  | 'OUT_OF_RANGE' // float64 / int64 value that does not fit float32 / int32
  | 'BAD_SAFETENSORS' // malformed safetensors header
  | 'ARCHITECTURE' // names, shapes or dtypes do not fit the architecture (lists every problem)
  | 'WRONG_KIND' // e.g. a detector checkpoint given to loadCodecWeights
  | 'CLASS_NAMES' // stored class names that are not a list of num_classes distinct strings
  | 'INPUT_SIZE' // stored input_min_size / input_max_size that are not two positive integers, min ≤ max
  | 'SOURCE'; // the weight source could not be read (HTTP error, missing file)

export class CheckpointError extends VcmError {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super('input', message);
    this.name = 'CheckpointError';
  }
}

export class TruncatedCheckpointError extends CheckpointError {
  constructor(message: string) {
    super('TRUNCATED', message);
    this.name = 'TruncatedCheckpointError';
  }
}

export class UnknownFormatError extends CheckpointError {
  constructor(message: string) {
    super('UNKNOWN_FORMAT', message);
    this.name = 'UnknownFormatError';
  }
}

export class LegacyTorchFormatError extends CheckpointError {
  constructor() {
    super(
      'LEGACY_TORCH',
      'this is a legacy (pre-1.6, non-zip) torch.save file; re-save it with a newer torch: ' +
        "python -c \"import torch; torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth')\"",
    );
    this.name = 'LegacyTorchFormatError';
  }
}

export class ZipFormatError extends CheckpointError {
  constructor(message: string) {
    super('BAD_ZIP', message);
    this.name = 'ZipFormatError';
  }
}

export class PickleError extends CheckpointError {
  constructor(message: string, readonly offset?: number) {
    super('BAD_PICKLE', offset === undefined ? message : `${message} (at pickle byte ${offset})`);
    this.name = 'PickleError';
  }
}

export class UnsafePickleError extends CheckpointError {
  constructor(readonly global: string) {
    super(
      'UNSAFE_PICKLE',
      `refusing to load pickle global '${global}': only tensors, numpy arrays and plain containers are allowed ` +
        '(the loader never executes code from a checkpoint)',
    );
    this.name = 'UnsafePickleError';
  }
}

export class TensorFormatError extends CheckpointError {
  constructor(message: string) {
    super('BAD_TENSOR', message);
    this.name = 'TensorFormatError';
  }
}

export class NonFiniteWeightError extends CheckpointError {
  constructor(readonly tensors: { name: string; nan: number; inf: number; firstIndex: number }[]) {
    super(
      'NON_FINITE',
      `non-finite weights in ${tensors.length} tensor(s): ` +
        tensors.map((t) => `${t.name} (${t.nan} NaN, ${t.inf} Inf, first at flat index ${t.firstIndex})`).join('; '),
    );
    this.name = 'NonFiniteWeightError';
  }
}

export class ValueRangeError extends CheckpointError {
  constructor(message: string) {
    super('OUT_OF_RANGE', message);
    this.name = 'ValueRangeError';
  }
}

export class SafetensorsFormatError extends CheckpointError {
  constructor(message: string) {
    super('BAD_SAFETENSORS', message);
    this.name = 'SafetensorsFormatError';
  }
}

/** Names, shapes or dtypes that do not fit the architecture. `problems` lists every one found. */
export class ArchitectureError extends CheckpointError {
  constructor(
    readonly model: string,
    readonly problems: string[],
  ) {
    super('ARCHITECTURE', `${model}: ${problems.length} problem(s) with the checkpoint:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ArchitectureError';
  }
}

export class WrongModelKindError extends CheckpointError {
  constructor(message: string) {
    super('WRONG_KIND', message);
    this.name = 'WrongModelKindError';
  }
}

export class WeightSourceError extends CheckpointError {
  constructor(message: string) {
    super('SOURCE', message);
    this.name = 'WeightSourceError';
  }
}
