import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readNpy } from '../../src/io/npy.ts';

import { GOLDEN_ROOT } from '../helpers/golden-root.ts';
export const GOLDEN = path.join(GOLDEN_ROOT, 'compressai');
export const haveGolden = existsSync(path.join(GOLDEN, 'rans'));

export function loadNpy(rel: string) {
  return readNpy(new Uint8Array(readFileSync(path.join(GOLDEN, rel))));
}
export function loadI32(rel: string): Int32Array {
  const a = loadNpy(rel);
  if (!(a.data instanceof Int32Array)) throw new Error(`${rel}: expected int32, got ${a.dtype}`);
  return a.data;
}
export function loadBin(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(GOLDEN, rel)));
}

export interface Stream {
  name: string;
  symbols: Int32Array;
  indexes: Int32Array;
  /** rows as Int32Array views of the zero-padded table */
  rows: Int32Array[];
  flat: Int32Array;
  stride: number;
  cdfLengths: Int32Array;
  offsets: Int32Array;
  encoded: Uint8Array;
}

function table(prefix: string) {
  const cdf = loadNpy(`${prefix}quantized_cdf.npy`);
  const flat = cdf.data as Int32Array;
  const [nrows, stride] = cdf.shape as [number, number];
  const rows = Array.from({ length: nrows }, (_, r) => flat.subarray(r * stride, (r + 1) * stride));
  return { flat, stride, rows, cdfLengths: loadI32(`${prefix}cdf_length.npy`), offsets: loadI32(`${prefix}offset.npy`) };
}

export function ransStreams(): Stream[] {
  const dirs = readdirSync(path.join(GOLDEN, 'rans'))
    .filter((d) => /^r\d\d_/.test(d))
    .sort();
  return dirs.map((d) => {
    const cdf = loadNpy(`rans/${d}/cdfs.npy`);
    const flat = cdf.data as Int32Array;
    const [nrows, stride] = cdf.shape as [number, number];
    return {
      name: d,
      symbols: loadI32(`rans/${d}/symbols.npy`),
      indexes: loadI32(`rans/${d}/indexes.npy`),
      rows: Array.from({ length: nrows }, (_, r) => flat.subarray(r * stride, (r + 1) * stride)),
      flat,
      stride,
      cdfLengths: loadI32(`rans/${d}/cdf_lengths.npy`),
      offsets: loadI32(`rans/${d}/offsets.npy`),
      encoded: loadBin(`rans/${d}/encoded.bin`),
    };
  });
}

/** y and z streams of a codec case (A or C): symbols in C,H,W order, y rows from build_indexes, z rows = channel. */
export function caseStreams(c: string): Stream[] {
  const gc = table(`${c}/gc_`);
  const eb = table(`${c}/eb_`);
  const zs = loadNpy(`${c}/z_symbols.npy`);
  const [, C, H, W] = zs.shape as [number, number, number, number];
  const zIdx = new Int32Array(C * H * W);
  for (let ch = 0; ch < C; ch++) zIdx.fill(ch, ch * H * W, (ch + 1) * H * W);
  return [
    {
      name: `${c}/y`,
      symbols: loadI32(`${c}/y_symbols.npy`),
      indexes: loadI32(`${c}/y_indexes.npy`),
      ...gc,
      encoded: loadBin(`${c}/y_string.bin`),
    },
    { name: `${c}/z`, symbols: zs.data as Int32Array, indexes: zIdx, ...eb, encoded: loadBin(`${c}/z_string.bin`) },
  ];
}
