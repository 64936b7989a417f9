/** Tiny argv helpers for the benches. */
/** The last `--name value` wins (bench/device.sh puts its defaults first, the caller's arguments after). */
export function arg(name: string, def: string): string {
  const i = process.argv.lastIndexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

import { PAPER_SIZES, SMALL_SIZES, type SizeCase } from './models.ts';
/** --sizes paper|small|all|HxW[m2],…  (default small). */
export function sizesArg(def = 'small'): SizeCase[] {
  const v = arg('sizes', def);
  const out: SizeCase[] = [];
  for (const p of v.split(',')) {
    if (p === 'paper') out.push(...PAPER_SIZES);
    else if (p === 'small') out.push(...SMALL_SIZES);
    else if (p === 'all') out.push(...PAPER_SIZES, ...SMALL_SIZES);
    else {
      const m = /^(\d+)x(\d+)(m2)?$/.exec(p);
      if (!m) throw new Error(`--sizes: '${p}' is not paper, small, all or HxW[m2]`);
      out.push({ name: `${m[1]}x${m[2]}`, height: Number(m[1]), width: Number(m[2]), method: m[3] ? 2 : 1 });
    }
  }
  return out;
}
