import { expect, it } from 'vitest';
import { BufferedRansEncoder, CdfTables, RansDecoder, RansEncoder, decodeWithIndexes, encodeWithIndexes } from '../../src/coder/index.ts';
import { caseStreams, haveGolden, ransStreams, type Stream } from './golden.ts';
import { describeGolden } from '../helpers/golden.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function checkStream(s: Stream) {
  // encode: rows form (Int32Array[]), number[][] form, flat+stride form, prepared tables
  const enc = encodeWithIndexes(s.symbols, s.indexes, s.rows, s.cdfLengths, s.offsets);
  expect(enc.length).toBe(s.encoded.length);
  expect(hex(enc)).toBe(hex(s.encoded));
  const numberRows = s.rows.map((r) => Array.from(r));
  expect(
    hex(encodeWithIndexes(Array.from(s.symbols), Array.from(s.indexes), numberRows, Array.from(s.cdfLengths), Array.from(s.offsets))),
  ).toBe(hex(s.encoded));
  expect(hex(encodeWithIndexes(s.symbols, s.indexes, { data: s.flat, stride: s.stride }, s.cdfLengths, s.offsets))).toBe(hex(s.encoded));
  const tables = CdfTables.from(s.rows, s.cdfLengths, s.offsets);
  expect(hex(encodeWithIndexes(s.symbols, s.indexes, tables))).toBe(hex(s.encoded));
  // decode CompressAI's bytes
  const dec = decodeWithIndexes(s.encoded, s.indexes, s.rows, s.cdfLengths, s.offsets);
  expect(dec).toBeInstanceOf(Int32Array);
  expect(dec.length).toBe(s.symbols.length);
  expect(dec).toEqual(s.symbols);
  expect(decodeWithIndexes(s.encoded, s.indexes, tables)).toEqual(s.symbols);
  // class forms, as in CompressAI
  expect(hex(new RansEncoder().encodeWithIndexes(s.symbols, s.indexes, s.rows, s.cdfLengths, s.offsets))).toBe(hex(s.encoded));
  expect(new RansDecoder().decodeWithIndexes(s.encoded, s.indexes, numberRows, s.cdfLengths, s.offsets)).toEqual(s.symbols);
}

describeGolden('rANS golden vectors (CompressAI RansEncoder)', () => {
  const streams = haveGolden ? ransStreams() : [];
  it('finds all 16 stored streams', () => {
    expect(streams.length).toBe(16);
  });
  for (const s of streams) {
    it(`${s.name}: ${s.symbols.length} symbols, byte-identical both directions`, () => checkStream(s));
  }

  it('the buffered encoder gives the same bytes when fed in chunks', () => {
    for (const s of streams) {
      const enc = new BufferedRansEncoder();
      const step = Math.max(1, Math.floor(s.symbols.length / 7));
      for (let i = 0; i < s.symbols.length; i += step) {
        enc.encodeWithIndexes(s.symbols.subarray(i, i + step), s.indexes.subarray(i, i + step), s.rows, s.cdfLengths, s.offsets);
      }
      expect(hex(enc.flush()), s.name).toBe(hex(s.encoded));
      // flush resets: empty stream afterwards
      expect(hex(enc.flush())).toBe('0000008000000000');
    }
  });

  it('the streaming decoder decodes in chunks and verifies the end', () => {
    for (const s of streams) {
      const dec = new RansDecoder();
      dec.setStream(s.encoded);
      const parts: number[] = [];
      const step = Math.max(1, Math.floor(s.symbols.length / 5));
      for (let i = 0; i < s.symbols.length; i += step)
        parts.push(...dec.decodeStream(s.indexes.subarray(i, i + step), s.rows, s.cdfLengths, s.offsets));
      dec.finish();
      expect(Int32Array.from(parts), s.name).toEqual(s.symbols);
    }
  });
});

describeGolden('codec case strings (y: GaussianConditional, z: EntropyBottleneck)', () => {
  for (const c of ['A', 'C']) {
    const streams = haveGolden ? caseStreams(c) : [];
    for (const s of streams) {
      it(`${s.name}_string.bin: ${s.symbols.length} symbols, byte-identical both directions`, () => {
        expect(s.encoded.length).toBeGreaterThan(8);
        checkStream(s);
      });
    }
  }
});
