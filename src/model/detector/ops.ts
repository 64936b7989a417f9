/** The op set of the dense detector graph: the core Backend plus the FPN top-down step and image normalisation. */
import type { Backend, Tensor } from '../backend.ts';

export interface DetectorOps<T extends Tensor = Tensor> extends Backend<T> {
  /** lateral + nearest_upsample_2x(coarse); lateral is [C, 2h, 2w] for coarse [C, h, w]. */
  upsampleAdd(lateral: T, coarse: T): T;
  /**
   * An h×w×3 uint8 BGR image → [3, Hp, Wp] float32: x − mean[c] (std 1) inside, 0.0 in the bottom/right padding.
   */
  normalizeImage(bgr: Uint8Array, h: number, w: number, padded: readonly [number, number], mean: readonly [number, number, number]): T;
  /**
   * An image already on the backend's device → the same [3, Hp, Wp] tensor as resizing it with Pillow's BILINEAR
   * to `resized` and `normalizeImage`, bit for bit, without a trip to the host. Optional (GPU backend only).
   */
  resizeNormalizeImage?(
    img: DeviceImage,
    resized: readonly [number, number],
    padded: readonly [number, number],
    mean: readonly [number, number, number],
  ): T;
}

/** An 8-bit image that lives on the backend's device (opaque to the graph; the GPU backend's `GpuImage`). */
export interface DeviceImage {
  readonly kind: 'gpu-image';
  readonly height: number;
  readonly width: number;
}
