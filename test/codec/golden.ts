/** Golden-data helpers for the codec tests (read-only data under ../shared/golden). */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readNpy } from '../../src/io/npy.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { hyperpriorParams, type HyperpriorParams } from '../../src/model/codec/params.ts';

export { GOLDEN_ROOT as GOLDEN } from '../helpers/golden-root.ts';
import { GOLDEN_ROOT as GOLDEN } from '../helpers/golden-root.ts';
export const hasGolden = existsSync(resolve(GOLDEN, 'compressai/A/model.pth.tar'));

export function npy(rel: string): { data: Float32Array | Int32Array | Uint8Array; shape: number[] } {
  const a = readNpy(new Uint8Array(readFileSync(resolve(GOLDEN, rel))));
  return { data: a.data as Float32Array | Int32Array | Uint8Array, shape: a.shape };
}
export function f32(rel: string): Float32Array {
  return npy(rel).data as Float32Array;
}
export function i32(rel: string): Int32Array {
  return npy(rel).data as Int32Array;
}
export function bin(rel: string): Uint8Array {
  return new Uint8Array(readFileSync(resolve(GOLDEN, rel)));
}

const cache = new Map<string, HyperpriorParams>();
export function goldenParams(rel: string): HyperpriorParams {
  let p = cache.get(rel);
  if (!p) {
    p = hyperpriorParams(readCheckpoint(new Uint8Array(readFileSync(resolve(GOLDEN, rel)))).tensors);
    cache.set(rel, p);
  }
  return p;
}

export function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
