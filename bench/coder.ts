/**
 * rANS coder throughput (Node): encode and decode in million symbols per second on
 *  1. the golden y stream of case A (CompressAI GaussianConditional tables, 18,432 symbols), and
 *  2. a 1,000,000-symbol stream with realistic scales: indexes drawn from case A's y index histogram,
 *     symbols = round(N(0, scale_table[index])) (0.5 % of them 8x wider, giving escapes as in the golden y streams),
 *     coded with the golden Gaussian tables.
 * Run: npx tsx bench/coder.ts   (or npm run bench:coder)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CdfTables, decodeWithIndexes, encodeWithIndexes } from '../src/coder/index.ts';
import { readNpy } from '../src/io/npy.ts';
import { mulberry32 as rng } from '../src/util/random.ts';

const GOLDEN = path.resolve(process.cwd(), '../shared/golden/compressai');
const npy = (rel: string) => readNpy(new Uint8Array(readFileSync(path.join(GOLDEN, rel))));
const i32 = (rel: string) => npy(rel).data as Int32Array;

/** Best-of-rounds throughput (Msym/s) of fn over n symbols, repeating fn to fill ~minMs per round. */
function measure(n: number, fn: () => void, rounds = 5, minMs = 300): number {
  fn(); // warm-up / JIT
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      fn();
      reps++;
      t = performance.now();
    } while (t - t0 < minMs);
    best = Math.min(best, (t - t0) / reps);
  }
  return n / best / 1000; // symbols per ms / 1000 = Msym/s
}

const gcCdf = npy('A/gc_quantized_cdf.npy');
const lens = i32('A/gc_cdf_length.npy');
const offs = i32('A/gc_offset.npy');
const scale = npy('A/gc_scale_table.npy').data as Float32Array;
const flat = { data: gcCdf.data as Int32Array, stride: gcCdf.shape[1]! };
const tables = CdfTables.from(flat, lens, offs);

function row(name: string, n: number, bytes: number, enc: number, dec: number) {
  const bps = (bytes * 8) / n;
  console.log(
    `${name.padEnd(44)} ${String(n).padStart(9)} sym ${String(bytes).padStart(9)} B ${bps.toFixed(3).padStart(7)} bit/sym` +
      `   encode ${enc.toFixed(1).padStart(6)} Msym/s   decode ${dec.toFixed(1).padStart(6)} Msym/s`,
  );
}

console.log(`Node ${process.version}, rANS (CompressAI-compatible, 64-bit state as 2x uint32, LUT symbol search)`);

// 1. golden y stream
{
  const sym = i32('A/y_symbols.npy');
  const idx = i32('A/y_indexes.npy');
  const golden = new Uint8Array(readFileSync(path.join(GOLDEN, 'A/y_string.bin')));
  const bytes = encodeWithIndexes(sym, idx, tables);
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(golden)) !== 0) throw new Error('golden y stream mismatch');
  const enc = measure(sym.length, () => encodeWithIndexes(sym, idx, tables));
  const dec = measure(sym.length, () => decodeWithIndexes(golden, idx, tables));
  row('golden A/y (prepared tables)', sym.length, golden.length, enc, dec);
  // one-shot API with raw zero-padded tables (validation + LUT build on every call)
  const enc2 = measure(sym.length, () => encodeWithIndexes(sym, idx, flat, lens, offs), 3);
  const dec2 = measure(sym.length, () => decodeWithIndexes(golden, idx, flat, lens, offs), 3);
  row('golden A/y (raw tables, validated per call)', sym.length, golden.length, enc2, dec2);
}

// 2. one million symbols with realistic scales
{
  const hist = new Float64Array(64);
  for (const k of i32('A/y_indexes.npy')) hist[k]!++;
  const cum = new Float64Array(64);
  let acc = 0;
  for (let k = 0; k < 64; k++) cum[k] = acc += hist[k]!;
  const rand = rng(1);
  const n = 1_000_000;
  const idx = new Int32Array(n);
  const sym = new Int32Array(n);
  let escapes = 0;
  for (let i = 0; i < n; i++) {
    const u = rand() * acc;
    let k = 0;
    while (cum[k]! <= u) k++;
    idx[i] = k;
    const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    // 0.5 % of the symbols from an 8x wider distribution: about the escape rate of the golden y streams
    sym[i] = Math.round(g * scale[k]! * (rand() < 0.005 ? 8 : 1));
    const v = sym[i]! - offs[k]!;
    if (v < 0 || v >= lens[k]! - 2) escapes++;
  }
  const bytes = encodeWithIndexes(sym, idx, tables);
  const back = decodeWithIndexes(bytes, idx, tables);
  for (let i = 0; i < n; i++) if (back[i] !== sym[i]) throw new Error(`round trip mismatch at ${i}`);
  const enc = measure(n, () => encodeWithIndexes(sym, idx, tables), 3);
  const dec = measure(n, () => decodeWithIndexes(bytes, idx, tables), 3);
  row(`1M Gaussian (A's index histogram, ${escapes} esc)`, n, bytes.length, enc, dec);
}
