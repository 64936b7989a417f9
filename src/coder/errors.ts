/** Typed errors of the entropy-coding layer. Every failure of the coder is a {@link RansError} subclass. */
import { VcmError } from '../util/errors.ts';

export type RansErrorCode =
  | 'bad-table' // CDF table not usable (not starting at 0, not strictly increasing, not ending at 65536, ...)
  | 'bad-argument' // wrong argument types / lengths / index out of range
  | 'unencodable' // symbol whose escape would overflow CompressAI's bypass coding
  | 'bad-stream' // corrupt stream (bad initial state, invalid escape, wrong final state, trailing words)
  | 'truncated'; // the stream ends before all symbols are decoded

/** `kind` input (a bad table, an unencodable value, a corrupt stream), internal for 'bad-argument' (a caller's bug). */
export class RansError extends VcmError {
  override name = 'RansError';
  readonly code: RansErrorCode;
  constructor(code: RansErrorCode, message: string) {
    super(code === 'bad-argument' ? 'internal' : 'input', message);
    this.code = code;
  }
}

/** A CDF table (or its lengths/offsets) is malformed. */
export class CdfTableError extends RansError {
  override name = 'CdfTableError';
  constructor(message: string) {
    super('bad-table', message);
  }
}

/** Arguments are inconsistent: array lengths differ, an index is outside the table list, a value is not an int32. */
export class RansArgumentError extends RansError {
  override name = 'RansArgumentError';
  constructor(message: string) {
    super('bad-argument', message);
  }
}

/** The encoder was asked for a value CompressAI cannot code (escape raw value >= 2^28). */
export class RansEncodeError extends RansError {
  override name = 'RansEncodeError';
  constructor(message: string) {
    super('unencodable', message);
  }
}

/** The byte stream is corrupt, truncated, or does not match the indexes/tables it is decoded with. */
export class RansDecodeError extends RansError {
  override name = 'RansDecodeError';
  constructor(code: 'bad-stream' | 'truncated', message: string) {
    super(code, message);
  }
}
