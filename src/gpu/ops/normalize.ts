import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/normalize_image.wgsl's struct Params. */
const NORMALIZE_PARAMS = defineParams('normalize_image', {
  h: 'u32',
  w: 'u32',
  Hp: 'u32',
  Wp: 'u32',
  m0: 'f32',
  m1: 'f32',
  m2: 'f32',
  _p: 'u32',
});

/** Pack bytes little-endian into u32 words (pure; the last word zero-filled). */
export function packBytes(data: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.max(1, Math.ceil(data.length / 4)));
  new Uint8Array(words.buffer).set(data);
  return words;
}

/**
 * Upload an h×w×3 uint8 BGR image and normalise it on the GPU into a zero-padded [3, Hp, Wp] HWC tensor:
 * float32(x) − mean[c] (PIXEL_STD 1), 0.0 in the padding. Bit-exact with the CPU `normalizeAndPad`.
 */
export function normalizeImage(
  ctx: GpuContext,
  data: Uint8Array,
  h: number,
  w: number,
  padded: readonly [number, number],
  mean: readonly [number, number, number],
  label = 'normalize',
): GpuTensor {
  const [Hp, Wp] = padded;
  if (data.length !== h * w * 3) throw new GpuShapeError(`normalizeImage: ${data.length} bytes for ${h}x${w}x3`);
  if (Hp < h || Wp < w) throw new GpuShapeError(`normalizeImage: padded ${Hp}x${Wp} smaller than ${h}x${w}`);
  const src = ctx.upload(packBytes(data), [Math.max(1, Math.ceil(data.length / 4))], { label: `${label}.src` });
  const y = ctx.empty([3, Hp, Wp], 'f32', 'hwc', label);
  const u = NORMALIZE_PARAMS.pack({ h, w, Hp, Wp, m0: mean[0], m1: mean[1], m2: mean[2] });
  ctx.dispatch1d(ctx.pipeline('normalize_image'), [ctx.uniform(u), src, y], 3 * Hp * Wp, label);
  // The pool may hand `src` to a later upload, whose queue.writeBuffer runs before unsubmitted dispatches: submit first.
  ctx.flush();
  src.release();
  return y;
}
