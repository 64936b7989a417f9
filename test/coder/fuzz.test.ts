import { describe, expect, it } from 'vitest';
import {
  CdfTables,
  ContainerError,
  RansDecodeError,
  RansError,
  decodeWithIndexes,
  encodeWithIndexes,
  readContainer,
  writeContainer,
} from '../../src/coder/index.ts';
import { haveGolden, loadI32, loadNpy } from './golden.ts';
import { randomCdf, rng } from './ref.ts';

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

describe('bounded fuzz', () => {
  it('100,000+ random and mutated rANS streams: typed error, or a decode that re-encodes to the same bytes', () => {
    const r = rng(2024);
    const configs: { tables: CdfTables; lens: number[]; offs: number[]; rows: ArrayLike<number>[] }[] = [];
    const addRows = (rows: ArrayLike<number>[], lens: number[], offs: number[]) =>
      configs.push({ tables: CdfTables.from(rows, lens, offs), rows, lens, offs });
    addRows([[0, 16384, 49152, 65535, 65536]], [5], [-1]);
    addRows([[0, 65535, 65536]], [3], [0]);
    addRows([[0, 65533, 65534, 65535, 65536]], [5], [0]);
    for (let k = 0; k < 4; k++) {
      const rows = Array.from({ length: 6 }, () => randomCdf(r, r.int(3, 30), 30));
      addRows(
        rows,
        rows.map((x) => {
          let l = x.length;
          while (x[l - 1] === 0) l--;
          return l;
        }),
        rows.map(() => r.int(-15, 5)),
      );
    }
    if (haveGolden) {
      const eb = loadNpy('A/eb_quantized_cdf.npy');
      const st = eb.shape[1]!;
      const ebRows = Array.from({ length: eb.shape[0]! }, (_, i) => (eb.data as Int32Array).subarray(i * st, (i + 1) * st));
      addRows(ebRows, Array.from(loadI32('A/eb_cdf_length.npy')), Array.from(loadI32('A/eb_offset.npy')));
    }
    // base streams with their symbols
    const bases = Array.from({ length: 200 }, () => {
      const c = configs[r.int(0, configs.length - 1)]!;
      const n = r.int(0, 80);
      const idx = new Int32Array(n);
      const sym = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const k = r.int(0, c.lens.length - 1);
        idx[i] = k;
        const u = r.next();
        sym[i] = c.offs[k]! + (u < 0.1 ? -r.int(1, 5000) : u < 0.2 ? c.lens[k]! - 2 + r.int(0, 70000) : r.int(0, c.lens[k]! - 3));
      }
      return { c, idx, sym, bytes: encodeWithIndexes(sym, idx, c.tables) };
    });
    const stats = { ok: 0, okMutated: 0, truncated: 0, badStream: 0, kinds: new Map<string, number>() };
    const N = 100_000;
    for (let it = 0; it < N; it++) {
      const b = bases[r.int(0, bases.length - 1)]!;
      let bytes: Uint8Array;
      let idx = b.idx;
      const kind = r.int(0, 8);
      if (kind === 0) {
        bytes = new Uint8Array(r.int(0, 12) * 4 + (r.next() < 0.1 ? r.int(1, 3) : 0));
        for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(0, 255);
        idx = new Int32Array(r.int(0, 40)).map(() => r.int(0, b.c.lens.length - 1));
      } else {
        bytes = b.bytes.slice();
        if (kind === 1)
          for (let f = r.int(1, 3); f > 0; f--) {
            const p = r.int(0, bytes.length * 8 - 1);
            bytes[p >> 3]! ^= 1 << (p & 7);
          }
        else if (kind === 2) bytes[r.int(0, bytes.length - 1)] = r.int(0, 255);
        else if (kind === 3) bytes = bytes.subarray(0, r.int(0, bytes.length));
        else if (kind === 4) {
          const e = new Uint8Array(bytes.length + 4 * r.int(1, 3));
          e.set(bytes);
          for (let i = bytes.length; i < e.length; i++) e[i] = r.int(0, 255);
          bytes = e;
        } else if (kind === 5 && bytes.length >= 8) {
          const w = bytes.length / 4;
          const i = r.int(0, w - 1),
            j = r.int(0, w - 1);
          const t = bytes.slice(i * 4, i * 4 + 4);
          bytes.copyWithin(i * 4, j * 4, j * 4 + 4);
          bytes.set(t, j * 4);
        } else if (kind === 6) {
          idx = idx.slice(0, r.int(0, idx.length));
        } else if (kind === 7 && idx.length > 0) {
          idx = idx.slice();
          idx[r.int(0, idx.length - 1)] = r.int(0, b.c.lens.length - 1);
        }
        // kind 8 (and no-op fallbacks): unmodified stream
      }
      try {
        const useRows = it % 50 === 0;
        const out = useRows ? decodeWithIndexes(bytes, idx, b.c.rows, b.c.lens, b.c.offs) : decodeWithIndexes(bytes, idx, b.c.tables);
        expect(out.length).toBe(idx.length);
        const again = encodeWithIndexes(out, idx, b.c.tables);
        if (!eq(again, bytes)) throw new Error(`iteration ${it}: decoded stream does not re-encode to its bytes`);
        stats.ok++;
        if (!eq(bytes, b.bytes)) stats.okMutated++;
      } catch (e) {
        if (!(e instanceof RansError)) throw e;
        expect(e).toBeInstanceOf(RansDecodeError);
        if (e.code === 'truncated') stats.truncated++;
        else stats.badStream++;
        const key = e.message
          .replace(/0x[0-9a-f]+|\d+/g, '#')
          .split(/[:(]/)[0]!
          .trim();
        stats.kinds.set(key, (stats.kinds.get(key) ?? 0) + 1);
      }
    }
    expect(stats.ok + stats.truncated + stats.badStream).toBe(N);
    expect(stats.ok).toBeGreaterThan(1000); // unmodified streams and harmless edits
    expect(stats.truncated).toBeGreaterThan(1000);
    expect(stats.badStream).toBeGreaterThan(1000);
    console.log('rANS fuzz:', { ...stats, kinds: Object.fromEntries(stats.kinds) });
  });

  it('20,000 mutated containers: ContainerError, or fields that re-serialize to the same bytes', () => {
    const r = rng(77);
    const base = writeContainer({
      mode: 'portable',
      method: 1,
      fingerprint: Uint8Array.from({ length: 16 }, (_, i) => i * 7),
      originalSize: [800, 1216],
      resizedSize: [800, 1216],
      featureShape: [64, 200, 304],
      padding: [28, 8, 28, 8],
      mn: 0,
      mx: Math.fround(12.75),
      zShape: [4, 5],
      yString: Uint8Array.from({ length: 40 }, (_, i) => i),
      zString: Uint8Array.from({ length: 12 }, (_, i) => 255 - i),
    });
    let ok = 0;
    let bad = 0;
    for (let it = 0; it < 20_000; it++) {
      let bytes = base.slice();
      const kind = r.int(0, 3);
      if (kind === 0) bytes[r.int(0, 91)] = r.int(0, 255);
      else if (kind === 1) {
        const p = r.int(0, bytes.length * 8 - 1);
        bytes[p >> 3]! ^= 1 << (p & 7);
      } else if (kind === 2) bytes = bytes.subarray(0, r.int(0, bytes.length - 1));
      else {
        bytes = new Uint8Array(r.int(0, 200));
        for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(0, 255);
        if (r.next() < 0.5) bytes.set(base.subarray(0, Math.min(bytes.length, 8)));
      }
      try {
        const f = readContainer(bytes);
        expect(eq(writeContainer(f), bytes)).toBe(true);
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(ContainerError);
        bad++;
      }
    }
    expect(ok).toBeGreaterThan(100);
    expect(bad).toBeGreaterThan(1000);
  });
});
