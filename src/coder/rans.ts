/**
 * rANS entropy coder, byte-compatible with CompressAI's `RansEncoder` / `BufferedRansEncoder` / `RansDecoder`
 * (`cpp_exts/rans/rans_interface.cpp` over ryg's `rans64.h`).
 *
 * - 64-bit state kept in [2^31, 2^63), precision 16, output in 32-bit little-endian words;
 * - out-of-table values are coded with the escape bin (`cdfLength - 2`) followed by 4-bit bypass nibbles;
 * - the 64-bit state is emulated exactly with two uint32 halves held in JS numbers (no BigInt): every
 *   intermediate stays below 2^53, and the divisions are exact (see `encodeSegments`).
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
const INV32 = 1 / TWO32;
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

/** Number of 4-bit nibbles needed for raw (0 for raw = 0); 0 <= raw < 2^28. */
function nibbleCount(raw: number): number {
  return raw === 0 ? 0 : (35 - Math.clz32(raw)) >> 2;
}

interface Segment {
  sym: Int32Array;
  idx: Int32Array;
  tables: CdfTables;
}

/**
 * Validate one `encodeWithIndexes` call and return an upper bound of the words it can emit (one per coding
 * operation: the symbol, the nibble-count nibbles and the raw nibbles of every escape).
 */
function validateSegment(seg: Segment): number {
  const { sym, idx, tables } = seg;
  if (sym.length !== idx.length) {
    throw new RansArgumentError(`symbols has ${sym.length} entries but indexes has ${idx.length}`);
  }
  const { maxValue, offsets, count } = tables;
  let ops = sym.length;
  for (let i = 0; i < sym.length; i++) {
    const r = idx[i]!;
    if (r < 0 || r >= count) throw new RansArgumentError(`indexes[${i}] = ${r} is outside 0..${count - 1}`);
    const value = sym[i]! - offsets[r]!;
    const maxV = maxValue[r]!;
    if (value < 0 || value >= maxV) {
      const raw = value < 0 ? -2 * value - 1 : 2 * (value - maxV);
      if (raw >= MAX_ESCAPE_RAW) {
        throw new RansEncodeError(
          `symbols[${i}] = ${sym[i]} (table ${r}, offset ${offsets[r]}, escape bin ${maxV}) needs escape value ${raw} >= 2^28; ` +
            `CompressAI's coder cannot represent it (its encoder hangs)`,
        );
      }
      const nb = nibbleCount(raw);
      ops += 1 + Math.floor(nb / MAX_BYPASS_VAL) + nb;
    }
  }
  return ops;
}

/**
 * Code validated segments, last symbol first, writing words backwards into a buffer of `maxWords + 2` words.
 * This is CompressAI's BufferedRansEncoder::flush applied to the queue it would have built, without building it.
 *
 * State x = hi * 2^32 + lo, both uint32 held in doubles.
 * Regular symbol (start, freq): renormalize if x >= freq * 2^47 (<=> hi >= freq * 2^15), then
 * x = floor(x / freq) * 2^16 + x % freq + start, computed as q = qh * 2^32 + ql with qh = floor(hi / freq) < 2^15,
 * ql = floor((rh * 2^32 + lo) / freq) < 2^32 where the dividend is < 2^48: a double division whose floor is exact
 * (the fractional part is >= 1/freq >= 2^-16 away from the next integer, far above the rounding error).
 * Bypass nibble v: renormalize if x >= 2^59 (<=> hi >= 2^27), then x = (x << 4) | v.
 */
function encodeSegments(segs: readonly Segment[], maxWords: number): Uint8Array {
  const out = new Uint32Array(maxWords + 2);
  const nib = new Int32Array(16);
  let p = out.length;
  let hi = 0;
  let lo = RANS_L;
  for (let g = segs.length - 1; g >= 0; g--) {
    const { sym, idx, tables } = segs[g]!;
    const { cdf, rowStart, maxValue, offsets } = tables;
    for (let i = sym.length - 1; i >= 0; i--) {
      const r = idx[i]!;
      const maxV = maxValue[r]!;
      let value = sym[i]! - offsets[r]!;
      if (value < 0 || value >= maxV) {
        // Escape: CompressAI queues [symbol, count nibbles (15, ..., 15, rest), raw nibbles LSB first];
        // coding runs backwards, so emit raw nibbles MSB first, then the count, then the symbol.
        const raw = value < 0 ? -2 * value - 1 : 2 * (value - maxV);
        value = maxV;
        const nb = nibbleCount(raw);
        let m = 0;
        for (let j = nb - 1; j >= 0; j--) nib[m++] = (raw >>> (BYPASS_PRECISION * j)) & MAX_BYPASS_VAL;
        let chunks = Math.floor(nb / MAX_BYPASS_VAL); // always 0 for raw < 2^28, kept for the general rule
        nib[m++] = nb - chunks * MAX_BYPASS_VAL;
        while (chunks-- > 0) nib[m++] = MAX_BYPASS_VAL;
        for (let k = 0; k < m; k++) {
          if (hi >= 0x8000000) {
            out[--p] = lo;
            lo = hi;
            hi = 0;
          }
          hi = hi * 16 + (lo >>> 28);
          lo = ((lo << 4) | nib[k]!) >>> 0;
        }
      }
      const b = rowStart[r]! + value;
      const start = cdf[b]!;
      const freq = cdf[b + 1]! - start;
      if (hi >= freq * 32768) {
        out[--p] = lo;
        lo = hi;
        hi = 0;
      }
      const qh = (hi / freq) | 0;
      const n2 = (hi - qh * freq) * TWO32 + lo;
      const ql = (n2 / freq) >>> 0; // floor: 0 <= n2 / freq < 2^32
      const t = ql * 65536 + (n2 - ql * freq) + start; // < 2^48 + 2^17
      lo = t >>> 0; // t mod 2^32
      hi = qh * 65536 + ((t * INV32) | 0); // floor(t / 2^32) < 2^17, exact (power-of-two scaling)
    }
  }
  out[--p] = hi;
  out[--p] = lo;
  return wordsToBytes(out.subarray(p));
}

/**
 * Streaming encoder mirroring CompressAI's `BufferedRansEncoder`: call {@link encodeWithIndexes} any number of
 * times (each call may use different tables), then {@link flush} to get the bytes. Each call is validated
 * immediately (a failed call leaves the encoder unchanged) and its inputs are copied.
 */
export class BufferedRansEncoder {
  private segments: Segment[] = [];
  private maxWords = 0;

  /** Number of symbols queued since the last flush. */
  get queuedSymbols(): number {
    let n = 0;
    for (const s of this.segments) n += s.sym.length;
    return n;
  }

  /** Queue `symbols[i]` coded with CDF row `indexes[i]`. */
  encodeWithIndexes(
    symbols: ArrayLike<number>,
    indexes: ArrayLike<number>,
    cdfs: CdfInput,
    cdfLengths?: ArrayLike<number>,
    offsets?: ArrayLike<number>,
  ): void {
    const tables = CdfTables.from(cdfs, cdfLengths, offsets);
    const sym = toInt32Array(symbols, 'symbols');
    const idx = toInt32Array(indexes, 'indexes');
    const seg: Segment = {
      sym: sym === symbols ? sym.slice() : sym,
      idx: idx === indexes ? idx.slice() : idx,
      tables,
    };
    const words = validateSegment(seg);
    this.segments.push(seg);
    this.maxWords += words;
  }

  /** Code everything queued so far and reset the encoder. Empty queue: the 8-byte stream of state 2^31. */
  flush(): Uint8Array {
    const out = encodeSegments(this.segments, this.maxWords);
    this.segments = [];
    this.maxWords = 0;
    return out;
  }
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
  const seg: Segment = {
    tables: CdfTables.from(cdfs, cdfLengths, offsets),
    sym: toInt32Array(symbols, 'symbols'),
    idx: toInt32Array(indexes, 'indexes'),
  };
  return encodeSegments([seg], validateSegment(seg));
}

/** CompressAI's `RansEncoder`: one-shot encoding (same as the free function {@link encodeWithIndexes}). */
export class RansEncoder {
  encodeWithIndexes(
    symbols: ArrayLike<number>,
    indexes: ArrayLike<number>,
    cdfs: CdfInput,
    cdfLengths?: ArrayLike<number>,
    offsets?: ArrayLike<number>,
  ): Uint8Array {
    return encodeWithIndexes(symbols, indexes, cdfs, cdfLengths, offsets);
  }
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
      hi = freq * xh + ((pl * INV32) | 0);
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

  /** One-shot decoding, as CompressAI's `RansDecoder.decode_with_indexes` (plus the end checks of {@link finish}). */
  decodeWithIndexes(
    bytes: Uint8Array,
    indexes: ArrayLike<number>,
    cdfs: CdfInput,
    cdfLengths?: ArrayLike<number>,
    offsets?: ArrayLike<number>,
    options: DecodeOptions = {},
  ): Int32Array {
    this.setStream(bytes);
    const out = this.decodeStream(indexes, cdfs, cdfLengths, offsets);
    if (options.checkEnd !== false) this.finish();
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
  return new RansDecodeError('truncated', `rANS stream ended while decoding symbol ${i} of ${n}: truncated stream or wrong indexes/tables`);
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
  return new RansDecoder().decodeWithIndexes(bytes, indexes, cdfs, cdfLengths, offsets, options);
}
