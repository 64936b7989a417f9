/**
 * rANS entropy coder, byte-compatible with CompressAI's `RansEncoder` / `BufferedRansEncoder` / `RansDecoder`
 * (`cpp_exts/rans/rans_interface.cpp` over ryg's `rans64.h`).
 *
 * - 64-bit state kept in [2^31, 2^63), precision 16, output in 32-bit little-endian words;
 * - out-of-table values are coded with the escape bin (`cdfLength - 2`) followed by 4-bit bypass nibbles;
 * - the 64-bit state is emulated exactly with two uint32 halves held in JS numbers (no BigInt): every
 *   intermediate stays below 2^53, and the divisions are exact (see `flushQueue`).
 *
 * Stream layout: [state_lo, state_hi, w_k, ..., w_1] where w_1 is the first word the encoder emitted while
 * processing the queue backwards. A stream is at least 8 bytes and a multiple of 4.
 *
 * Beyond CompressAI: every read is bounds-checked, and the decoder checks that the stream is consumed exactly
 * and ends in the encoder's initial state 2^31 (a property of every stream CompressAI writes), so a stream
 * decoded with wrong indexes/tables, truncated or with trailing data is reported instead of returning garbage.
 * The decoder also rejects escapes CompressAI's encoder can never write (more than 7 raw nibbles, a zero most
 * significant nibble), so any stream that decodes re-encodes to the identical bytes.
 */
import { CdfTables, type CdfInput, DECODER_LUT_BITS, DECODER_LUT_SHIFT } from './tables.ts';
import { RansArgumentError, RansDecodeError, RansEncodeError } from './errors.ts';

const RANS_L = 0x80000000; // 2^31, lower bound of the normalized state
const TWO32 = 4294967296;
const BYPASS_PRECISION = 4;
const MAX_BYPASS_VAL = (1 << BYPASS_PRECISION) - 1; // 15
/** Raw escape values must stay below 2^28: CompressAI's encoder shifts by 32 (UB) and hangs beyond. */
export const MAX_ESCAPE_RAW = 1 << 28;
/** Largest number of raw nibbles an escape can have (raw < 2^28). */
const MAX_RAW_NIBBLES = 7;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function toInt32Array(a: ArrayLike<number>, what: string): Int32Array {
  if (a instanceof Int32Array) return a;
  if (a === null || typeof a !== 'object' || typeof a.length !== 'number') {
    throw new RansArgumentError(`${what} must be an Int32Array or an array of int32 numbers`);
  }
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new RansArgumentError(`${what}[${i}] = ${String(v)} is not an int32`);
    }
    out[i] = v;
  }
  return out;
}

/** Number of 4-bit nibbles needed for raw (0 for raw = 0). raw < 2^28. */
function nibbleCount(raw: number): number {
  let n = 0;
  while (raw >= 1) {
    raw = Math.floor(raw / 16);
    n++;
  }
  return n;
}

/**
 * Streaming encoder mirroring CompressAI's `BufferedRansEncoder`: call {@link encodeWithIndexes} any number of
 * times (each call may use different tables), then {@link flush} to get the bytes. Symbols are queued as
 * (start, freq) pairs and coded in reverse at flush time, exactly as CompressAI does.
 */
export class BufferedRansEncoder {
  /** Queue entries: regular symbol = (freq << 16 | start), freq in 1..65535; bypass nibble = value (freq 0). */
  private queue: Uint32Array;
  private size = 0;

  constructor(initialCapacity = 1024) {
    this.queue = new Uint32Array(Math.max(16, initialCapacity | 0));
  }

  /** Number of queued coding operations (symbols plus bypass nibbles). */
  get queued(): number {
    return this.size;
  }

  private ensure(extra: number): void {
    const need = this.size + extra;
    if (need <= this.queue.length) return;
    let cap = this.queue.length * 2;
    while (cap < need) cap *= 2;
    const q = new Uint32Array(cap);
    q.set(this.queue.subarray(0, this.size));
    this.queue = q;
  }

  /**
   * Queue `symbols[i]` coded with CDF row `indexes[i]`. Validates everything before queuing anything, so a
   * failed call leaves the encoder unchanged.
   */
  encodeWithIndexes(
    symbols: ArrayLike<number>,
    indexes: ArrayLike<number>,
    cdfs: CdfInput,
    cdfLengths?: ArrayLike<number>,
    offsets?: ArrayLike<number>,
  ): void {
    const t = CdfTables.from(cdfs, cdfLengths, offsets);
    const sym = toInt32Array(symbols, 'symbols');
    const idx = toInt32Array(indexes, 'indexes');
    if (sym.length !== idx.length) {
      throw new RansArgumentError(`symbols has ${sym.length} entries but indexes has ${idx.length}`);
    }
    const n = sym.length;
    const { cdf, rowStart, maxValue, offsets: offs, count } = t;
    // Validation pass (also counts escapes so the queue is sized once).
    let extra = n;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      if (r < 0 || r >= count) throw new RansArgumentError(`indexes[${i}] = ${r} is outside 0..${count - 1}`);
      const value = sym[i]! - offs[r]!;
      const maxV = maxValue[r]!;
      if (value < 0 || value >= maxV) {
        const raw = value < 0 ? -2 * value - 1 : 2 * (value - maxV);
        if (raw >= MAX_ESCAPE_RAW) {
          throw new RansEncodeError(
            `symbols[${i}] = ${sym[i]} (table ${r}, offset ${offs[r]}, escape bin ${maxV}) needs escape value ${raw} >= 2^28; ` +
              `CompressAI's coder cannot represent it (its encoder hangs)`,
          );
        }
        extra += 1 + nibbleCount(raw);
      }
    }
    this.ensure(extra);
    const q = this.queue;
    let k = this.size;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      const maxV = maxValue[r]!;
      let value = sym[i]! - offs[r]!;
      let raw = -1;
      if (value < 0) {
        raw = -2 * value - 1;
        value = maxV;
      } else if (value >= maxV) {
        raw = 2 * (value - maxV);
        value = maxV;
      }
      const b = rowStart[r]! + value;
      const start = cdf[b]!;
      q[k++] = (((cdf[b + 1]! - start) << 16) | start) >>> 0;
      if (raw >= 0) {
        const nb = nibbleCount(raw);
        let c = nb;
        while (c >= MAX_BYPASS_VAL) {
          q[k++] = MAX_BYPASS_VAL;
          c -= MAX_BYPASS_VAL;
        }
        q[k++] = c;
        for (let j = 0; j < nb; j++) q[k++] = (raw >>> (j * BYPASS_PRECISION)) & MAX_BYPASS_VAL;
      }
    }
    this.size = k;
  }

  /** Code everything queued so far and reset the encoder. Empty queue: the 8-byte stream of state 2^31. */
  flush(): Uint8Array {
    const out = flushQueue(this.queue, this.size);
    this.size = 0;
    return out;
  }
}

/**
 * Code queue[0..n) in reverse. State x = hi * 2^32 + lo, both uint32 numbers.
 * Regular symbol (start, freq): renormalize if x >= freq * 2^47 (<=> hi >= freq * 2^15), then
 * x = floor(x / freq) * 2^16 + x % freq + start, computed as q = qh * 2^32 + ql with qh = floor(hi / freq) < 2^15,
 * ql = floor((rh * 2^32 + lo) / freq) < 2^32 where the dividend is < 2^48: a double division whose floor is exact
 * (the fractional part is >= 1/freq >= 2^-16 away from the next integer, far above the rounding error).
 */
function flushQueue(q: Uint32Array, n: number): Uint8Array {
  // Each queued operation emits at most one word; +2 for the final state.
  const out = new Uint32Array(n + 2);
  let p = out.length;
  let hi = 0;
  let lo = RANS_L;
  for (let i = n - 1; i >= 0; i--) {
    const e = q[i]!;
    const freq = e >>> 16;
    if (freq !== 0) {
      const start = e & 0xffff;
      if (hi >= freq * 32768) {
        out[--p] = lo;
        lo = hi;
        hi = 0;
      }
      const qh = (hi / freq) | 0;
      const rh = hi - qh * freq;
      const n2 = rh * TWO32 + lo;
      const ql = Math.floor(n2 / freq);
      const t = ql * 65536 + (n2 - ql * freq) + start; // < 2^48 + 2^17
      lo = t >>> 0;
      hi = qh * 65536 + Math.floor(t / TWO32);
    } else {
      // bypass nibble: renormalize if x >= 2^59 (<=> hi >= 2^27), then x = (x << 4) | v
      if (hi >= 0x8000000) {
        out[--p] = lo;
        lo = hi;
        hi = 0;
      }
      hi = hi * 16 + (lo >>> 28);
      lo = ((lo << 4) | e) >>> 0;
    }
  }
  out[--p] = hi;
  out[--p] = lo;
  return wordsToBytes(out.subarray(p));
}

function wordsToBytes(words: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(words.slice().buffer);
  const bytes = new Uint8Array(words.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < words.length; i++) dv.setUint32(i * 4, words[i]!, true);
  return bytes;
}

function bytesToWords(bytes: Uint8Array): Uint32Array {
  const n = bytes.length >>> 2;
  if (LITTLE_ENDIAN) {
    const copy = new Uint8Array(n * 4);
    copy.set(bytes.subarray(0, n * 4));
    return new Uint32Array(copy.buffer);
  }
  const words = new Uint32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) words[i] = dv.getUint32(i * 4, true);
  return words;
}

/** Encode `symbols[i]` with CDF row `indexes[i]`; same bytes as CompressAI's `RansEncoder.encode_with_indexes`. */
export function encodeWithIndexes(
  symbols: ArrayLike<number>,
  indexes: ArrayLike<number>,
  cdfs: CdfInput,
  cdfLengths?: ArrayLike<number>,
  offsets?: ArrayLike<number>,
): Uint8Array {
  const enc = new BufferedRansEncoder(symbols.length + 16);
  enc.encodeWithIndexes(symbols, indexes, cdfs, cdfLengths, offsets);
  return enc.flush();
}

export interface DecodeOptions {
  /**
   * Require the stream to be consumed exactly and to end in state 2^31 (default true). Every stream CompressAI
   * or this encoder writes satisfies it; turning it off only helps when decoding a prefix of a stream.
   */
  checkEnd?: boolean;
}

/**
 * Incremental decoder mirroring CompressAI's `RansDecoder.set_stream` / `decode_stream`, with an explicit
 * {@link finish} that verifies the end of the stream.
 */
export class RansDecoder {
  private words: Uint32Array = new Uint32Array(0);
  private pos = 0;
  private hi = 0;
  private lo = 0;
  private active = false;

  setStream(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new RansArgumentError('the stream must be a Uint8Array');
    this.active = false;
    if (bytes.length < 8) throw new RansDecodeError('truncated', `rANS stream of ${bytes.length} bytes is shorter than its 8-byte state`);
    if (bytes.length % 4 !== 0) {
      throw new RansDecodeError('bad-stream', `rANS stream length ${bytes.length} is not a multiple of 4 bytes`);
    }
    const words = bytesToWords(bytes);
    const lo = words[0]!;
    const hi = words[1]!;
    if (hi >= 0x80000000 || (hi === 0 && lo < RANS_L)) {
      throw new RansDecodeError(
        'bad-stream',
        `invalid initial rANS state 0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')} (must lie in [2^31, 2^63))`,
      );
    }
    this.words = words;
    this.pos = 2;
    this.hi = hi;
    this.lo = lo;
    this.active = true;
  }

  /** Decode `indexes.length` symbols from the current stream. On error the decoder is left unusable. */
  decodeStream(indexes: ArrayLike<number>, cdfs: CdfInput, cdfLengths?: ArrayLike<number>, offsets?: ArrayLike<number>): Int32Array {
    if (!this.active) throw new RansArgumentError('decodeStream called without a valid stream (call setStream first)');
    const t = CdfTables.from(cdfs, cdfLengths, offsets);
    const idx = toInt32Array(indexes, 'indexes');
    const n = idx.length;
    const count = t.count;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      if (r < 0 || r >= count) throw new RansArgumentError(`indexes[${i}] = ${r} is outside 0..${count - 1}`);
    }
    this.active = false; // re-armed on success
    const out = new Int32Array(n);
    const { cdf, rowStart, maxValue, offsets: offs } = t;
    const lut = t.lut;
    const words = this.words;
    const nWords = words.length;
    let pos = this.pos;
    let hi = this.hi;
    let lo = this.lo;
    const LB = DECODER_LUT_BITS;
    const LS = DECODER_LUT_SHIFT;
    for (let i = 0; i < n; i++) {
      const r = idx[i]!;
      const base = rowStart[r]!;
      const cf = lo & 0xffff;
      let s = lut[(r << LB) + (cf >>> LS)]!;
      while (cdf[base + s + 1]! <= cf) s++;
      const start = cdf[base + s]!;
      const freq = cdf[base + s + 1]! - start;
      // x = freq * (x >> 16) + cf - start, with x >> 16 = xh * 2^32 + xl, xh < 2^15
      const xh = hi >>> 16;
      const xl = (((hi & 0xffff) << 16) | (lo >>> 16)) >>> 0;
      const pl = freq * xl + (cf - start); // < 2^48 + 2^16
      lo = pl >>> 0;
      hi = freq * xh + Math.floor(pl / TWO32);
      if (hi === 0 && lo < RANS_L) {
        if (pos >= nWords) throw truncated(i, n);
        hi = lo;
        lo = words[pos++]!;
      }
      const maxV = maxValue[r]!;
      if (s !== maxV) {
        out[i] = s + offs[r]!;
        continue;
      }
      // Escape: nibble count, then raw nibbles, least significant first.
      let v = lo & 15;
      lo = ((lo >>> 4) | ((hi & 15) << 28)) >>> 0;
      hi >>>= 4;
      if (hi === 0 && lo < RANS_L) {
        if (pos >= nWords) throw truncated(i, n);
        hi = lo;
        lo = words[pos++]!;
      }
      if (v > MAX_RAW_NIBBLES) {
        throw new RansDecodeError(
          'bad-stream',
          `symbol ${i}: escape with ${v === MAX_BYPASS_VAL ? '>= 15' : v} raw nibbles (at most ${MAX_RAW_NIBBLES} are valid): corrupt stream or wrong indexes/tables`,
        );
      }
      const nb = v;
      let raw = 0;
      let mul = 1;
      for (let j = 0; j < nb; j++) {
        v = lo & 15;
        lo = ((lo >>> 4) | ((hi & 15) << 28)) >>> 0;
        hi >>>= 4;
        if (hi === 0 && lo < RANS_L) {
          if (pos >= nWords) throw truncated(i, n);
          hi = lo;
          lo = words[pos++]!;
        }
        raw += v * mul;
        mul *= 16;
      }
      if (nb > 0 && v === 0) {
        throw new RansDecodeError(
          'bad-stream',
          `symbol ${i}: non-canonical escape (most significant raw nibble is 0): corrupt stream or wrong indexes/tables`,
        );
      }
      const value = raw & 1 ? -(raw >>> 1) - 1 : (raw >>> 1) + maxV;
      const outV = value + offs[r]!;
      if (outV < -2147483648 || outV > 2147483647) {
        throw new RansDecodeError('bad-stream', `symbol ${i}: escaped value ${outV} does not fit in int32`);
      }
      out[i] = outV;
    }
    this.pos = pos;
    this.hi = hi;
    this.lo = lo;
    this.active = true;
    return out;
  }

  /** Bytes of the stream not consumed yet. */
  get remainingBytes(): number {
    return (this.words.length - this.pos) * 4;
  }

  /** Check that the whole stream was consumed and the state is back at the encoder's initial 2^31. */
  finish(): void {
    if (!this.active) throw new RansArgumentError('finish called without a valid stream');
    this.active = false;
    if (this.pos !== this.words.length) {
      throw new RansDecodeError(
        'bad-stream',
        `${(this.words.length - this.pos) * 4} trailing bytes after the last symbol: wrong symbol count, wrong indexes/tables or appended data`,
      );
    }
    if (this.hi !== 0 || this.lo !== RANS_L) {
      throw new RansDecodeError(
        'bad-stream',
        'final rANS state is not 2^31: the stream is corrupt or was decoded with wrong indexes/tables',
      );
    }
  }
}

function truncated(i: number, n: number): RansDecodeError {
  return new RansDecodeError(
    'truncated',
    `rANS stream ended while decoding symbol ${i} of ${n}: truncated stream or wrong indexes/tables`,
  );
}

/**
 * Decode `indexes.length` symbols; same result as CompressAI's `RansDecoder.decode_with_indexes` on every stream
 * it writes. Throws {@link RansDecodeError} for truncated/corrupt/mismatched streams (see {@link DecodeOptions}).
 * Empty `indexes` decodes to an empty array and (with checkEnd) requires exactly the 8-byte empty stream.
 */
export function decodeWithIndexes(
  bytes: Uint8Array,
  indexes: ArrayLike<number>,
  cdfs: CdfInput,
  cdfLengths?: ArrayLike<number>,
  offsets?: ArrayLike<number>,
  options: DecodeOptions = {},
): Int32Array {
  const dec = new RansDecoder();
  dec.setStream(bytes);
  const out = dec.decodeStream(indexes, cdfs, cdfLengths, offsets);
  if (options.checkEnd !== false) dec.finish();
  return out;
}
