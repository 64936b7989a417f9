/** GPU implementation of the detector op set: DetectorOps (FPN upsample-add, image normalisation) + HeadOps. */
import type { DetectorOps, DeviceImage } from '../model/detector/ops.ts';
import { GpuHeadsBackend } from './heads-backend.ts';
import { normalizeImage } from './ops/normalize.ts';
import { isGpuImage, resizeNormalizeImage } from './ops/resize.ts';
import { GpuShapeError } from './errors.ts';
import { upsampleAdd } from './ops/upsample.ts';
import type { GpuTensor } from './tensor.ts';

/** Dense ops (this file) + the heads' ops (GpuHeadsBackend): the one object the detector driver runs on. */
export class GpuDetectorBackend extends GpuHeadsBackend implements DetectorOps<GpuTensor> {
  upsampleAdd(lateral: GpuTensor, coarse: GpuTensor): GpuTensor {
    return upsampleAdd(this.ctx, lateral, coarse);
  }
  normalizeImage(
    bgr: Uint8Array,
    h: number,
    w: number,
    padded: readonly [number, number],
    mean: readonly [number, number, number],
  ): GpuTensor {
    return normalizeImage(this.ctx, bgr, h, w, padded, mean);
  }
  resizeNormalizeImage(
    img: DeviceImage,
    resized: readonly [number, number],
    padded: readonly [number, number],
    mean: readonly [number, number, number],
  ): GpuTensor {
    if (!isGpuImage(img) || !('data' in img)) throw new GpuShapeError('resizeNormalizeImage: not a GpuImage');
    return resizeNormalizeImage(this.ctx, img, resized, padded, mean, { label: 'preprocess' });
  }
}

/** The backend object the detector driver uses on the GPU (dense + heads ops). */
export function createGpuDetectorBackend(
  ctx: import('./context.ts').GpuContext,
  opts: import('./backend.ts').GpuBackendOptions = {},
): GpuDetectorBackend {
  return new GpuDetectorBackend(ctx, opts);
}
