import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readNpy } from '../../src/io/npy.ts';

import { GOLDEN_ROOT } from '../helpers/golden-root.ts';
export const GOLDEN = GOLDEN_ROOT;
export const FIXTURES = path.resolve(process.cwd(), 'weights/fixtures');
export const golden = (p: string): string => path.join(GOLDEN, p);
export const fixture = (p: string): string => path.join(FIXTURES, p);
export const bytesOf = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
export const npy = (p: string) => readNpy(bytesOf(p));

export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  const fa = new Float32Array(1);
  const fb = new Float32Array(1);
  const ua = new Uint32Array(fa.buffer);
  const ub = new Uint32Array(fb.buffer);
  for (let i = 0; i < a.length; i++) {
    fa[0] = a[i]!;
    fb[0] = b[i]!;
    if (ua[0] !== ub[0]) return false;
  }
  return true;
}
