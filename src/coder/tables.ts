/**
 * Validated, flattened CDF tables for the rANS coder (CompressAI layout: one quantized CDF row per table,
 * zero-padded to a common width, a valid length per row and an offset per row).
 */
import { CdfTableError, RansArgumentError } from './errors.ts';

export const PRECISION = 16;
export const PROB_SCALE = 1 << PRECISION; // 65536

/** CDF rows as CompressAI stores them (`_quantized_cdf.tolist()` or an `Int32Array[]`). */
export type CdfRows = readonly ArrayLike<number>[];
/** A `[rows, stride]` row-major table (e.g. the data of `gc_quantized_cdf.npy`) with its row stride. */
export interface FlatCdfs {
  data: ArrayLike<number>;
  stride: number;
}
export type CdfInput = CdfRows | FlatCdfs | CdfTables;

/** log2 of the number of buckets of the decoder lookup table per row. */
const LUT_BITS = 12;
const LUT_SHIFT = PRECISION - LUT_BITS;

function isFlat(c: CdfInput): c is FlatCdfs {
  return !(c instanceof CdfTables) && !Array.isArray(c) && typeof (c as FlatCdfs).stride === 'number';
}

function int32At(a: ArrayLike<number>, i: number, what: string): number {
  const v = a[i];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
    throw new RansArgumentError(`${what}[${i}] = ${String(v)} is not an int32`);
  }
  return v;
}

/**
 * Immutable, validated copy of a set of CDF tables. Build it once with {@link CdfTables.from} and pass it to the
 * coder in place of raw rows to skip re-validation (and the decoder's lookup-table build) on every call.
 *
 * Validation (matches CompressAI's `assert_cdfs`, plus bounds checks the C++ does not do):
 * - `cdfLengths[r] >= 3` (one regular symbol plus the escape bin; with 2 CompressAI would store the frequency
 *   65536 in a uint16 and divide by zero) and `cdfLengths[r] <= row width`;
 * - `cdf[0] == 0`, strictly increasing (every bin has frequency >= 1), `cdf[len-1] == 65536`;
 * - offsets are int32. Entries after `cdfLengths[r]` are ignored (CompressAI's zero padding).
 */
export class CdfTables {
  /** Number of tables (rows). */
  readonly count: number;
  /** All valid CDF entries, rows concatenated. */
  readonly cdf: Int32Array;
  /** Start of row r in {@link cdf}. */
  readonly rowStart: Int32Array;
  /** Escape bin of row r (= cdfLength - 2); values >= maxValue or < 0 escape. */
  readonly maxValue: Int32Array;
  readonly offsets: Int32Array;
  private lutCache: Uint16Array | null = null;

  private constructor(count: number, cdf: Int32Array, rowStart: Int32Array, maxValue: Int32Array, offsets: Int32Array) {
    this.count = count;
    this.cdf = cdf;
    this.rowStart = rowStart;
    this.maxValue = maxValue;
    this.offsets = offsets;
  }

  static from(cdfs: CdfInput, cdfLengths?: ArrayLike<number>, offsets?: ArrayLike<number>): CdfTables {
    if (cdfs instanceof CdfTables) {
      if (cdfLengths !== undefined || offsets !== undefined) {
        // Allow passing them again for API symmetry, but they must agree with the prepared tables.
        if (cdfLengths !== undefined) {
          if (cdfLengths.length !== cdfs.count) throw new RansArgumentError('cdfLengths does not match the prepared CdfTables');
          for (let r = 0; r < cdfs.count; r++) {
            if (cdfLengths[r] !== cdfs.maxValue[r]! + 2)
              throw new RansArgumentError(`cdfLengths[${r}] does not match the prepared CdfTables`);
          }
        }
        if (offsets !== undefined) {
          if (offsets.length !== cdfs.count) throw new RansArgumentError('offsets does not match the prepared CdfTables');
          for (let r = 0; r < cdfs.count; r++) {
            if (offsets[r] !== cdfs.offsets[r]) throw new RansArgumentError(`offsets[${r}] does not match the prepared CdfTables`);
          }
        }
      }
      return cdfs;
    }
    if (cdfLengths === undefined || offsets === undefined) {
      throw new RansArgumentError('cdfLengths and offsets are required with raw CDF rows');
    }
    const built = CdfTables.build(cdfs, cdfLengths, offsets);
    // Reuse the previous tables built from the same array object when their content is identical, so repeated
    // calls with the same raw rows keep the decoder lookup table (content is compared in full: no stale reuse).
    const key = isFlat(cdfs) ? cdfs.data : cdfs;
    if (typeof key === 'object' && key !== null) {
      const prev = TABLE_CACHE.get(key);
      if (prev && prev.sameAs(built)) return prev;
      TABLE_CACHE.set(key, built);
    }
    return built;
  }

  private sameAs(o: CdfTables): boolean {
    return this.count === o.count && eq(this.cdf, o.cdf) && eq(this.rowStart, o.rowStart) && eq(this.offsets, o.offsets);
  }

  private static build(cdfs: CdfRows | FlatCdfs, cdfLengths: ArrayLike<number>, offsets: ArrayLike<number>): CdfTables {
    if (cdfs === null || typeof cdfs !== 'object') throw new RansArgumentError('cdfs must be an array of rows or {data, stride}');
    let count: number;
    let rowOf: (r: number) => { data: ArrayLike<number>; base: number; width: number };
    if (isFlat(cdfs)) {
      const { data, stride } = cdfs;
      if (!Number.isInteger(stride) || stride <= 0) throw new RansArgumentError(`flat cdfs: invalid stride ${stride}`);
      if (data.length % stride !== 0) {
        throw new RansArgumentError(`flat cdfs: data length ${data.length} is not a multiple of the stride ${stride}`);
      }
      count = data.length / stride;
      rowOf = (r) => ({ data, base: r * stride, width: stride });
    } else {
      if (!Array.isArray(cdfs)) throw new RansArgumentError('cdfs must be an array of rows or {data, stride}');
      count = cdfs.length;
      rowOf = (r) => {
        const row = cdfs[r];
        if (row === null || typeof row !== 'object' || typeof (row as ArrayLike<number>).length !== 'number') {
          throw new RansArgumentError(`cdfs[${r}] is not an array`);
        }
        return { data: row, base: 0, width: row.length };
      };
    }
    if (cdfLengths.length !== count) {
      throw new RansArgumentError(`cdfLengths has ${cdfLengths.length} entries for ${count} CDF rows`);
    }
    if (offsets.length !== count) throw new RansArgumentError(`offsets has ${offsets.length} entries for ${count} CDF rows`);

    const rowStart = new Int32Array(count + 1);
    const maxValue = new Int32Array(count);
    const offs = new Int32Array(count);
    let total = 0;
    for (let r = 0; r < count; r++) {
      const len = int32At(cdfLengths, r, 'cdfLengths');
      const { width } = rowOf(r);
      if (len < 3) {
        throw new CdfTableError(`CDF row ${r}: cdf length ${len} < 3 (a table needs at least one symbol and the escape bin)`);
      }
      if (len > width) throw new CdfTableError(`CDF row ${r}: cdf length ${len} exceeds the row width ${width}`);
      rowStart[r] = total;
      maxValue[r] = len - 2;
      offs[r] = int32At(offsets, r, 'offsets');
      total += len;
    }
    rowStart[count] = total;
    const cdf = new Int32Array(total);
    for (let r = 0; r < count; r++) {
      const { data, base } = rowOf(r);
      const start = rowStart[r]!;
      const len = rowStart[r + 1]! - start;
      let prev = -1;
      for (let j = 0; j < len; j++) {
        const v = data[base + j];
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          throw new CdfTableError(`CDF row ${r}: entry ${j} = ${String(v)} is not an integer`);
        }
        if (j === 0 && v !== 0) throw new CdfTableError(`CDF row ${r}: first entry is ${v}, expected 0`);
        if (j > 0 && v <= prev) {
          throw new CdfTableError(
            `CDF row ${r}: not strictly increasing at entry ${j} (${prev} then ${v}); every bin needs frequency >= 1`,
          );
        }
        if (v > PROB_SCALE) throw new CdfTableError(`CDF row ${r}: entry ${j} = ${v} exceeds ${PROB_SCALE}`);
        cdf[start + j] = v;
        prev = v;
      }
      if (prev !== PROB_SCALE) {
        throw new CdfTableError(`CDF row ${r}: last entry (index ${len - 1}) is ${prev}, expected ${PROB_SCALE}`);
      }
    }
    return new CdfTables(count, cdf, rowStart, maxValue, offs);
  }

  /**
   * Decoder lookup table: for row r and bucket b = cf >> 4, `lut[r * 4096 + b]` is the largest symbol s with
   * cdf[s] <= b << 4. The decoder then steps forward at most 15 bins (each bin is >= 1 wide), so the search
   * costs O(1) independent of the table length and gives the same symbol as CompressAI's linear scan.
   */
  get lut(): Uint16Array {
    if (this.lutCache) return this.lutCache;
    const nb = 1 << LUT_BITS;
    const lut = new Uint16Array(this.count * nb);
    const cdf = this.cdf;
    for (let r = 0; r < this.count; r++) {
      const base = this.rowStart[r]!;
      const last = this.maxValue[r]!; // largest decodable symbol index
      let s = 0;
      for (let b = 0; b < nb; b++) {
        const cf = b << LUT_SHIFT;
        while (s < last && cdf[base + s + 1]! <= cf) s++;
        lut[r * nb + b] = s;
      }
    }
    this.lutCache = lut;
    return lut;
  }

  /**
   * Symbol of row r for cumulative frequency cf (0 <= cf < 65536): the largest s with cdf[s] <= cf, found with the
   * same lookup-table search the decoder inlines (exposed for tests and tools).
   */
  symbolFor(r: number, cf: number): number {
    if (!Number.isInteger(r) || r < 0 || r >= this.count) throw new RansArgumentError(`row ${r} is outside 0..${this.count - 1}`);
    if (!Number.isInteger(cf) || cf < 0 || cf >= PROB_SCALE) throw new RansArgumentError(`cf ${cf} is outside 0..65535`);
    const base = this.rowStart[r]!;
    let s = this.lut[(r << LUT_BITS) + (cf >>> LUT_SHIFT)]!;
    while (this.cdf[base + s + 1]! <= cf) s++;
    return s;
  }
}

function eq(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const TABLE_CACHE = new WeakMap<object, CdfTables>();

export const DECODER_LUT_BITS = LUT_BITS;
export const DECODER_LUT_SHIFT = LUT_SHIFT;
