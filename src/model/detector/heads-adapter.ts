/**
 * Glue to the sparse half (src/model/detector/heads): `defaultHeads()` returns a HeadsFn that calls its runHeads.
 * (Loaded lazily so the dense part builds and tests on its own.)
 */
import type { Tensor } from '../backend.ts';
import type { HeadsFn, HeadsResult } from './detector.ts';

export function defaultHeads<T extends Tensor>(): HeadsFn<T> {
  let mod: Promise<{ runHeads: (...a: unknown[]) => Promise<HeadsResult> }> | undefined;
  return async (ops, fpn, sizes, weights, cfg, opts) => {
    const spec = './heads/index.ts';
    mod ??= import(/* @vite-ignore */ spec) as Promise<{ runHeads: (...a: unknown[]) => Promise<HeadsResult> }>;
    const m = await mod;
    return m.runHeads(ops, fpn, sizes, weights, cfg, opts);
  };
}
