/** CPU reference implementation of the dense detector op set (DetectorOps). */
import { normalizeAndPad } from '../model/detector/preprocess.ts';
import type { DetectorOps } from '../model/detector/ops.ts';
import { CpuTensor } from './backend.ts';
import { CpuHeadsBackend } from './heads-backend.ts';

/** lateral + nearest 2x upsample of coarse, NCHW (reference for shaders/upsample_add.wgsl). */
export function upsampleAddRef(lateral: Float32Array, coarse: Float32Array, C: number, H: number, W: number): Float32Array {
  const h = H >> 1,
    w = W >> 1;
  if (lateral.length !== C * H * W || coarse.length !== C * h * w || H !== 2 * h || W !== 2 * w) {
    throw new Error(`upsampleAddRef: lateral [${C},${H},${W}] vs coarse of ${coarse.length} values`);
  }
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = (c * H + y) * W + x;
        out[i] = lateral[i]! + coarse[(c * h + (y >> 1)) * w + (x >> 1)]!;
      }
  return out;
}

/** Dense ops + the heads' CPU ops (CpuHeadsBackend). */
export class CpuDetectorBackend extends CpuHeadsBackend implements DetectorOps<CpuTensor> {
  upsampleAdd(lateral: CpuTensor, coarse: CpuTensor): CpuTensor {
    const [C, H, W] = lateral.chw;
    const [c, h, w] = coarse.chw;
    if (c !== C || H !== 2 * h || W !== 2 * w) throw new Error(`upsampleAdd: lateral [${lateral.shape}] vs coarse [${coarse.shape}]`);
    return new CpuTensor(upsampleAddRef(lateral.f32, coarse.f32, C, H, W), [C, H, W]);
  }
  normalizeImage(
    bgr: Uint8Array,
    h: number,
    w: number,
    padded: readonly [number, number],
    mean: readonly [number, number, number],
  ): CpuTensor {
    return new CpuTensor(normalizeAndPad({ height: h, width: w, data: bgr }, [padded[0], padded[1]], mean), [3, padded[0], padded[1]]);
  }
}
