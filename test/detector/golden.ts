// Paths and loaders for the golden Detectron2 data (read-only, outside the repo).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { readNpy, type NpyArray } from '../../src/io/npy.ts';

import { GOLDEN_ROOT } from '../helpers/golden.ts';
export { GOLDEN_ROOT };
export const D2 = resolve(GOLDEN_ROOT, 'detectron2');
export const hasGolden = existsSync(resolve(D2, 'A/manifest.json'));

export function npy(path: string): NpyArray {
  return readNpy(new Uint8Array(readFileSync(path)));
}
export function goldenNpy(kase: string, name: string): NpyArray {
  return npy(resolve(D2, kase, name));
}
export function f32(a: NpyArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  return Float32Array.from(a.data as ArrayLike<number>);
}

/** Tolerance for dense intermediates: atol = K_REL·max|ref| (justification in backbone.golden.test.ts). */
export const K_REL = 2e-5;

export function relErr(got: Float32Array, ref: Float32Array): { rel: number; maxRef: number } {
  expect(got.length).toBe(ref.length);
  let maxRef = 0,
    maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    const d = Math.abs(got[i]! - ref[i]!);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
  }
  return { rel: maxDiff / maxRef, maxRef };
}
