/** GPU implementation of the dense detector op set (DetectorOps): GpuBackend + FPN upsample-add + image normalisation. */
import type { DetectorOps } from '../model/detector/ops.ts';
import { GpuBackend } from './backend.ts';
import { normalizeImage } from './ops/normalize.ts';
import { upsampleAdd } from './ops/upsample.ts';
import type { GpuTensor } from './tensor.ts';

export class GpuDetectorBackend extends GpuBackend implements DetectorOps<GpuTensor> {
  upsampleAdd(lateral: GpuTensor, coarse: GpuTensor): GpuTensor { return upsampleAdd(this.ctx, lateral, coarse); }
  normalizeImage(bgr: Uint8Array, h: number, w: number, padded: readonly [number, number], mean: readonly [number, number, number]): GpuTensor {
    return normalizeImage(this.ctx, bgr, h, w, padded, mean);
  }
}

/** The backend object the detector driver uses on the GPU (dense ops; the heads' ops once they land). */
export function createGpuDetectorBackend(ctx: import('./context.ts').GpuContext): GpuDetectorBackend {
  return new GpuDetectorBackend(ctx);
}
