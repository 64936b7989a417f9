/** Glue to the sparse half (src/model/detector/heads): a HeadsFn over its runHeads. */
import type { Tensor } from '../backend.ts';
import type { HeadsFn } from './detector.ts';
import { prepareHeads, runHeads, type HeadOps, type HeadsHandle } from './heads/index.ts';

/**
 * The heads of ./heads, with their own uploaded box-head weights (prepared on first use, freed by `dispose`), so two
 * Detectors on the same backend and weights never share or free each other's buffers. The backend must implement
 * HeadOps too (GpuDetectorBackend and CpuDetectorBackend do); runHeads checks and throws a typed HeadsError.
 */
export function defaultHeads<T extends Tensor>(): HeadsFn<T> {
  let handle: HeadsHandle | null = null;
  const fn: HeadsFn<T> = (ops, fpn, sizes, weights, cfg, opts) => {
    const hops = ops as unknown as HeadOps<T>;
    if (typeof hops.rpnProposals === 'function') handle ??= prepareHeads(hops, weights);
    return runHeads(hops, fpn, sizes, handle ?? weights, cfg, { dump: opts?.dump });
  };
  fn.dispose = () => { handle?.release(); handle = null; };
  return fn;
}
