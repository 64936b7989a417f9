/** Glue to the sparse half (src/model/detector/heads): a HeadsFn over its runHeads. */
import type { Tensor } from '../backend.ts';
import type { HeadsFn } from './detector.ts';
import { releaseCachedHeads, runHeads, type HeadOps } from './heads/index.ts';

/**
 * The heads of ./heads. The backend passed to Detector must implement HeadOps too (GpuDetectorBackend and
 * CpuDetectorBackend do); runHeads checks that and throws a typed HeadsError otherwise.
 */
export function defaultHeads<T extends Tensor>(): HeadsFn<T> {
  const fn: HeadsFn<T> = (ops, fpn, sizes, weights, cfg, opts) => runHeads(ops as unknown as HeadOps<T>, fpn, sizes, weights, cfg, { dump: opts?.dump });
  fn.dispose = (ops, weights) => releaseCachedHeads(ops, weights);
  return fn;
}
