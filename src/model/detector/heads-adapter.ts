/** Glue to the sparse half (src/model/detector/heads): the HeadsFn the Detector calls, over runHeads. */
import type { Tensor } from '../backend.ts';
import type { DetectorWeights } from '../weights/types.ts';
import { prepareHeads, runHeads, type HeadOps, type HeadsHandle } from './heads/index.ts';
import type { DetectorOps } from './ops.ts';
import type { Detections, DetectorConfig, DumpFn, FpnOutputs, ImageSizes } from './types.ts';

/** What a Detector runs on: the dense graph's ops and the sparse heads' ops, on one backend object. */
export type DetectorBackend<T extends Tensor = Tensor> = DetectorOps<T> & HeadOps<T>;

export interface HeadsResult {
  detections: Detections;
  /** Proposals (N×4, resized-image coordinates), when the heads report them. */
  proposals?: Float32Array;
}

/** The sparse half: src/model/detector/heads (runHeads). `ops` is the Detector's backend. */
export interface HeadsFn<T extends Tensor> {
  (
    ops: DetectorBackend<T>,
    fpn: FpnOutputs<T>,
    sizes: ImageSizes,
    weights: DetectorWeights,
    cfg: DetectorConfig,
    opts?: { dump?: DumpFn },
  ): Promise<HeadsResult>;
  /** Free what the heads uploaded for (ops, weights). */
  dispose?: (ops: DetectorBackend<T>, weights: DetectorWeights) => void;
}

/**
 * The heads of ./heads, with their own uploaded box-head weights (prepared on first use, freed by `dispose`), so two
 * Detectors on the same backend and weights never share or free each other's buffers.
 */
export function defaultHeads<T extends Tensor>(): HeadsFn<T> {
  let handle: HeadsHandle | null = null;
  const fn: HeadsFn<T> = (ops, fpn, sizes, weights, cfg, opts) => {
    handle ??= prepareHeads(ops, weights);
    return runHeads(ops, fpn, sizes, handle, cfg, { dump: opts?.dump });
  };
  fn.dispose = () => {
    handle?.release();
    handle = null;
  };
  return fn;
}
