import { describe, expect, it } from 'vitest';
import {
  BufferedRansEncoder,
  CdfTableError,
  CdfTables,
  MAX_ESCAPE_RAW,
  RansArgumentError,
  RansDecodeError,
  RansDecoder,
  RansEncodeError,
  RansError,
  decodeWithIndexes,
  encodeWithIndexes,
} from '../../src/coder/index.ts';
import { caseStreams, haveGolden, loadNpy, loadI32 } from './golden.ts';
import { randomCdf, refFlush, refOps, rng, type Op } from './ref.ts';
import { itGolden } from '../helpers/golden.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const T = [[0, 16384, 49152, 65535, 65536]];
const L = [5];
const O = [-1];

function expectThrow(fn: () => unknown, cls: new (...a: never[]) => Error, msg: RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(RansError);
  expect((err as Error).message).toMatch(msg);
}

describe('rANS basics', () => {
  it('reproduces the two reference vectors of the spec', () => {
    expect(hex(encodeWithIndexes([-1, 0, 1, 0, 0, 1, -1], new Int32Array(7), T, L, O))).toBe('2d046e2000040000');
    expect(hex(encodeWithIndexes([0, 2, -2, 5, -40, 1000, 70000, 0], new Int32Array(8), T, L, O))).toBe(
      'ffbf9f0000020000f0ff1ff1ffff61ffd2f4ff0fc37cffffc52d2200',
    );
  });

  it('empty symbol list: encodes to the 8-byte state 2^31 and decodes back to nothing', () => {
    const e = encodeWithIndexes(new Int32Array(0), new Int32Array(0), T, L, O);
    expect(hex(e)).toBe('0000008000000000');
    const d = decodeWithIndexes(e, new Int32Array(0), T, L, O);
    expect(d).toBeInstanceOf(Int32Array);
    expect(d.length).toBe(0);
    // an empty index list against a non-empty stream is a length error, not a silent success
    const full = encodeWithIndexes([1, 2], [0, 0], T, L, O);
    expectThrow(() => decodeWithIndexes(full, [], T, L, O), RansDecodeError, /trailing bytes|final rANS state is not 2\^31/);
    // and asking for symbols from the empty stream is a truncation
    expectThrow(() => decodeWithIndexes(e, [0], T, L, O), RansDecodeError, /ended while decoding symbol 0/);
  });

  it('single symbols: in range, escapes of both signs, value == max_value, the largest escapes', () => {
    const r = 0;
    const maxV = 3; // table T: escape bin 3, offset -1 => values -1..1 are regular
    const cases = [-1, 0, 1, 2, -2, -1 - 2 ** 27 + 1, 2 + 2 ** 27 - 1, -5, 1000];
    for (const s of cases) {
      const e = encodeWithIndexes([s], [r], T, L, O);
      expect(e.length % 4).toBe(0);
      expect(hex(e)).toBe(hex(refFlush(refOps([s], [r], T, L, O))));
      expect(Array.from(decodeWithIndexes(e, [r], T, L, O))).toEqual([s]);
    }
    void maxV;
  });

  it('rejects values whose escape would reach 2^28 (CompressAI hangs) with a clear error', () => {
    // value = symbol - offset; negative: raw = -2v-1; positive beyond escape bin 3: raw = 2(v-3)
    const okNeg = -(2 ** 27) - 1; // v = -2^27 -> raw = 2^28 - 1
    const badNeg = okNeg - 1; // raw = 2^28 + 1
    const okPos = 3 + 2 ** 27 - 1 - 1; // v = 3 + 2^27 - 1 -> raw = 2^28 - 2
    const badPos = okPos + 1; // raw = 2^28
    for (const s of [okNeg, okPos]) expect(Array.from(decodeWithIndexes(encodeWithIndexes([s], [0], T, L, O), [0], T, L, O))).toEqual([s]);
    for (const s of [badNeg, badPos, 2147483647, -2147483648]) {
      expectThrow(() => encodeWithIndexes([0, s], [0, 0], T, L, O), RansEncodeError, /symbols\[1\].*2\^28/);
    }
    expect(MAX_ESCAPE_RAW).toBe(2 ** 28);
    // a failed call leaves a buffered encoder untouched
    const enc = new BufferedRansEncoder();
    enc.encodeWithIndexes([0, 1], [0, 0], T, L, O);
    expect(() => enc.encodeWithIndexes([0, badPos], [0, 0], T, L, O)).toThrow(RansEncodeError);
    expect(hex(enc.flush())).toBe(hex(encodeWithIndexes([0, 1], [0, 0], T, L, O)));
  });

  it("the symbol search equals CompressAI's linear scan for every cf of every table", () => {
    const r = rng(7);
    const rows = [randomCdf(r, 3), randomCdf(r, 40), randomCdf(r, 600), randomCdf(r, 5000)];
    const lens = rows.map((x) => x.length);
    const all: { rows: ArrayLike<number>[]; lens: number[] }[] = [{ rows, lens }];
    if (haveGolden) {
      const gc = loadNpy('A/gc_quantized_cdf.npy');
      const st = gc.shape[1]!;
      const g = gc.data as Int32Array;
      all.push({
        rows: Array.from({ length: 64 }, (_, i) => g.subarray(i * st, (i + 1) * st)),
        lens: Array.from(loadI32('A/gc_cdf_length.npy')),
      });
    }
    let checked = 0;
    for (const { rows: rs, lens: ls } of all) {
      const t = CdfTables.from(rs, ls, new Int32Array(rs.length));
      for (let row = 0; row < rs.length; row++) {
        const cdf = rs[row]!;
        let lin = 0;
        for (let cf = 0; cf < 65536; cf++) {
          while (cdf[lin + 1]! <= cf) lin++; // linear scan (incremental over increasing cf)
          if (t.symbolFor(row, cf) !== lin) throw new Error(`row ${row} cf ${cf}: ${t.symbolFor(row, cf)} != ${lin}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4 * 65536);
  });
});

describe('CdfTables reuse', () => {
  it('reuses tables built from the same unchanged rows, never stale ones after a change', () => {
    const rows = [Int32Array.from([0, 16384, 49152, 65535, 65536]), Int32Array.from([0, 1000, 65536])];
    const a = CdfTables.from(rows, [5, 3], [-1, 0]);
    expect(CdfTables.from(rows, [5, 3], [-1, 0])).toBe(a);
    expect(CdfTables.from(rows, [5, 3], [-2, 0])).not.toBe(a); // different offsets
    const sym = [0, 1, -1, 0, 2];
    const idx = [0, 0, 0, 1, 0];
    const e1 = encodeWithIndexes(sym, idx, rows, [5, 3], [-1, 0]);
    rows[0]!.set([0, 30000, 40000, 65535, 65536]); // caller mutates a row in place
    const b = CdfTables.from(rows, [5, 3], [-1, 0]);
    expect(b).not.toBe(a);
    expect(b.cdf[1]).toBe(30000);
    const e2 = encodeWithIndexes(sym, idx, rows, [5, 3], [-1, 0]);
    expect(hex(e2)).toBe(hex(refFlush(refOps(sym, idx, rows, [5, 3], [-1, 0]))));
    expect(hex(e2)).not.toBe(hex(e1));
    expect(Array.from(decodeWithIndexes(e2, idx, rows, [5, 3], [-1, 0]))).toEqual(sym);
    rows[0]![2] = 10; // now invalid: validation still runs on every call with raw rows
    expect(() => CdfTables.from(rows, [5, 3], [-1, 0])).toThrow(CdfTableError);
  });
});

describe('rANS property tests', () => {
  it('random round trips with random tables and escapes match the BigInt reference', () => {
    const r = rng(12345);
    for (let trial = 0; trial < 300; trial++) {
      const nt = r.int(1, 8);
      const width = r.int(3, 70);
      const rows = Array.from({ length: nt }, () => randomCdf(r, r.int(3, width), width));
      const lens = rows.map((row) => {
        let l = row.length;
        while (row[l - 1] === 0) l--;
        return l;
      });
      const offs = Array.from({ length: nt }, () => r.int(-40, 10));
      const n = r.int(0, 400);
      const idx = new Int32Array(n);
      const sym = new Int32Array(n);
      const escRate = r.next() * 0.2;
      for (let i = 0; i < n; i++) {
        const k = r.int(0, nt - 1);
        idx[i] = k;
        if (r.next() < escRate) {
          const mag = 2 ** r.int(0, 26);
          sym[i] = offs[k]! + (r.next() < 0.5 ? -r.int(1, mag) : lens[k]! - 2 + r.int(0, mag));
        } else sym[i] = offs[k]! + r.int(0, lens[k]! - 3);
      }
      const e = encodeWithIndexes(sym, idx, rows, lens, offs);
      expect(hex(e)).toBe(hex(refFlush(refOps(sym, idx, rows, lens, offs))));
      expect(decodeWithIndexes(e, idx, rows, lens, offs)).toEqual(sym);
    }
  });

  it('a chunked nibble count (15 + n, never produced by CompressAI) is rejected', () => {
    // Not reachable through CompressAI's encoder (raw < 2^28 needs <= 7 nibbles); the decoder rejects counts > 7.
    const ops: Op[] = [
      { kind: 'sym', start: 65535, freq: 1 },
      { kind: 'bypass', v: 15 },
      { kind: 'bypass', v: 0 },
    ];
    for (let j = 0; j < 15; j++) ops.push({ kind: 'bypass', v: 1 });
    expectThrow(() => decodeWithIndexes(refFlush(ops), [0], T, L, O), RansDecodeError, /raw nibbles/);
  });

  itGolden('one million symbols with Gaussian tables round-trip', () => {
    const gc = loadNpy('A/gc_quantized_cdf.npy');
    const tables = CdfTables.from(
      { data: gc.data as Int32Array, stride: gc.shape[1]! },
      loadI32('A/gc_cdf_length.npy'),
      loadI32('A/gc_offset.npy'),
    );
    const scale = loadNpy('A/gc_scale_table.npy').data as Float32Array;
    const r = rng(99);
    const n = 1_000_000;
    const idx = new Int32Array(n);
    const sym = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const k = (i >> 9) % 64;
      idx[i] = k;
      sym[i] = Math.round(r.normal() * scale[k]! * (i % 97 === 0 ? 12 : 1)); // some symbols far in the tails -> escapes
    }
    const e = encodeWithIndexes(sym, idx, tables);
    const d = decodeWithIndexes(e, idx, tables);
    expect(d.length).toBe(n);
    let mism = 0;
    for (let i = 0; i < n; i++) if (d[i] !== sym[i]) mism++;
    expect(mism).toBe(0);
    expect(e.length).toBeGreaterThan(n / 8);
  });

  it('decodes a prefix with checkEnd: false and reports the rest with checkEnd on', () => {
    const sym = [0, 1, -1, 7, 0, 0, -9];
    const idx = sym.map(() => 0);
    const e = encodeWithIndexes(sym, idx, T, L, O);
    expect(Array.from(decodeWithIndexes(e, idx.slice(0, 3), T, L, O, { checkEnd: false }))).toEqual(sym.slice(0, 3));
    expect(() => decodeWithIndexes(e, idx.slice(0, 3), T, L, O)).toThrow(RansDecodeError);
  });
});

describe('rANS hostile input', () => {
  const sym = [0, 1, -1, 7, 0, 0, -9, 300, 0, 1];
  const idx = sym.map(() => 0);
  const good = encodeWithIndexes(sym, idx, T, L, O);

  it('CDF tables: not starting at 0, not monotone, zero-frequency bins, not ending at 65536, bad lengths', () => {
    const bad: [number[][], number[], RegExp][] = [
      [[[1, 16384, 49152, 65535, 65536]], [5], /first entry is 1/],
      [[[0, 49152, 16384, 65535, 65536]], [5], /not strictly increasing at entry 2/],
      [[[0, 16384, 16384, 65535, 65536]], [5], /not strictly increasing.*frequency >= 1/],
      [[[0, 16384, 49152, 65000, 65535]], [5], /last entry \(index 4\) is 65535, expected 65536/],
      [[[0, 16384, 49152, 65535, 70000]], [5], /exceeds 65536/],
      [[[0, 16384, 49152, 65536, 0]], [5], /not strictly increasing|last entry/],
      [[[0, 65536]], [2], /cdf length 2 < 3/],
      [[[0, 16384, 65536]], [4], /exceeds the row width 3/],
      [[[0, 16384.5, 65536]], [3], /not an integer/],
      [[[0, NaN, 65536]], [3], /not an integer/],
    ];
    for (const [rows, lens, msg] of bad) {
      expectThrow(() => encodeWithIndexes([0], [0], rows, lens, [0]), CdfTableError, msg);
      expectThrow(() => decodeWithIndexes(good, [0], rows, lens, [0]), CdfTableError, msg);
    }
    // the zero padding after the valid length is ignored, as in CompressAI
    expect(Array.from(decodeWithIndexes(good, idx, [[0, 16384, 49152, 65535, 65536, 0, 0]], L, O))).toEqual(sym);
  });

  it('argument errors: lengths, index range, non-int32 values, flat stride', () => {
    expectThrow(() => encodeWithIndexes([0, 1], [0], T, L, O), RansArgumentError, /symbols has 2 entries but indexes has 1/);
    expectThrow(() => encodeWithIndexes([0], [1], T, L, O), RansArgumentError, /indexes\[0\] = 1 is outside 0\.\.0/);
    expectThrow(() => encodeWithIndexes([0], [-1], T, L, O), RansArgumentError, /outside/);
    expectThrow(() => encodeWithIndexes([0.5], [0], T, L, O), RansArgumentError, /symbols\[0\] = 0.5 is not an int32/);
    expectThrow(() => encodeWithIndexes([2 ** 31], [0], T, L, O), RansArgumentError, /not an int32/);
    expectThrow(() => encodeWithIndexes([0], [0], T, [5, 5], O), RansArgumentError, /cdfLengths has 2 entries for 1/);
    expectThrow(() => encodeWithIndexes([0], [0], T, L, []), RansArgumentError, /offsets has 0 entries/);
    expectThrow(
      () => encodeWithIndexes([0], [0], { data: new Int32Array(7), stride: 5 }, L, O),
      RansArgumentError,
      /not a multiple of the stride/,
    );
    expectThrow(() => decodeWithIndexes(good, [0, 0, 5], T, L, O), RansArgumentError, /indexes\[2\] = 5/);
    expectThrow(() => decodeWithIndexes(good, [0], T), RansArgumentError, /required/);
    const t = CdfTables.from(T, L, O);
    expectThrow(() => decodeWithIndexes(good, idx, t, L, [0]), RansArgumentError, /offsets\[0\] does not match/);
  });

  it('streams: too short, not word-aligned, invalid initial state, truncated, trailing data', () => {
    expectThrow(() => decodeWithIndexes(new Uint8Array(4), [], T, L, O), RansDecodeError, /shorter than its 8-byte state/);
    expectThrow(() => decodeWithIndexes(new Uint8Array(10), [], T, L, O), RansDecodeError, /not a multiple of 4/);
    expectThrow(
      () => decodeWithIndexes(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0]), [], T, L, O),
      RansDecodeError,
      /invalid initial rANS state/,
    );
    expectThrow(() => decodeWithIndexes(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0x80]), [], T, L, O), RansDecodeError, /invalid initial/);
    // every truncation of a real stream fails with a typed error
    if (haveGolden) {
      for (const s of caseStreams('A')) {
        for (let cut = 4; cut <= s.encoded.length; cut += s.encoded.length > 400 ? 92 : 4) {
          const tr = s.encoded.subarray(0, s.encoded.length - cut);
          let err: unknown;
          try {
            decodeWithIndexes(tr, s.indexes, s.rows, s.cdfLengths, s.offsets);
          } catch (e) {
            err = e;
          }
          expect(err, `${s.name} cut ${cut}`).toBeInstanceOf(RansDecodeError);
        }
        const ext = new Uint8Array(s.encoded.length + 4);
        ext.set(s.encoded);
        expectThrow(() => decodeWithIndexes(ext, s.indexes, s.rows, s.cdfLengths, s.offsets), RansDecodeError, /4 trailing bytes/);
      }
    }
  });

  itGolden('wrong index arrays or tables are detected instead of returning garbage', () => {
    const [y, z] = caseStreams('A') as [ReturnType<typeof caseStreams>[0], ReturnType<typeof caseStreams>[0]];
    const shifted = new Int32Array(y.indexes.length);
    for (let i = 0; i < shifted.length; i++) shifted[i] = y.indexes[(i + 1) % shifted.length]!;
    expect(() => decodeWithIndexes(y.encoded, shifted, y.rows, y.cdfLengths, y.offsets)).toThrow(RansDecodeError);
    const plusOne = y.indexes.map((v) => Math.min(63, v + 1));
    expect(() => decodeWithIndexes(y.encoded, plusOne, y.rows, y.cdfLengths, y.offsets)).toThrow(RansDecodeError);
    expect(() => decodeWithIndexes(y.encoded, y.indexes.subarray(1), y.rows, y.cdfLengths, y.offsets)).toThrow(RansDecodeError);
    // z string decoded with the C case's EB tables
    const zC = caseStreams('C')[1]!;
    expect(() => decodeWithIndexes(z.encoded, z.indexes, zC.rows, zC.cdfLengths, zC.offsets)).toThrow(RansError);
  });

  it('escapes CompressAI cannot write are rejected: > 7 nibbles, zero top nibble', () => {
    const esc: Op = { kind: 'sym', start: 65535, freq: 1 }; // escape bin of T
    const eight: Op[] = [esc, { kind: 'bypass', v: 8 }, ...Array.from({ length: 8 }, () => ({ kind: 'bypass' as const, v: 1 }))];
    expectThrow(() => decodeWithIndexes(refFlush(eight), [0], T, L, O), RansDecodeError, /8 raw nibbles/);
    const nonCanon: Op[] = [esc, { kind: 'bypass', v: 2 }, { kind: 'bypass', v: 3 }, { kind: 'bypass', v: 0 }];
    expectThrow(() => decodeWithIndexes(refFlush(nonCanon), [0], T, L, O), RansDecodeError, /non-canonical/);
    const canon: Op[] = [esc, { kind: 'bypass', v: 1 }, { kind: 'bypass', v: 3 }];
    expect(Array.from(decodeWithIndexes(refFlush(canon), [0], T, L, O))).toEqual([-3]); // raw 3 (odd) -> value -2, plus offset -1
  });

  it('the streaming decoder refuses use without a valid stream and after an error', () => {
    const d = new RansDecoder();
    expect(() => d.decodeStream([0], T, L, O)).toThrow(RansArgumentError);
    expect(() => d.setStream(new Uint8Array(3))).toThrow(RansDecodeError);
    expect(() => d.decodeStream([0], T, L, O)).toThrow(RansArgumentError);
    d.setStream(good);
    expect(d.remainingBytes).toBe(good.length - 8);
    expect(Array.from(d.decodeStream(idx, T, L, O))).toEqual(sym);
    d.finish();
    expect(() => d.finish()).toThrow(RansArgumentError);
  });
});
