/**
 * Segmented IoU-mask NMS on the GPU (shaders/nms.wgsl): per sorted entry a bitmask (32 boxes per word) of the later
 * boxes of its segment it suppresses, then one workgroup per segment scans its rows greedily. Segments are FPN
 * levels (RPN batched_nms) or classes (ROI heads); the mask holds WMAX = ceil(maxSegLen/32) words per row.
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { kernelDefines } from './boxes.ts';
import { defineParams } from '../params.ts';

/** shaders/nms.wgsl's struct Params. */
const NMS_PARAMS = defineParams('nms', { m: 'u32', WMAX: 'u32', n: 'u32', _p0: 'u32', thresh: 'f32', _q0: 'f32', _q1: 'f32', _q2: 'f32' });

const KERNELS = ['BOUNDS', 'MASK', 'SCAN', 'REKEY'] as const;

/** Mask words per row (pure). */
export function nmsWords(maxSegLen: number): number {
  return Math.max(1, Math.ceil(maxSegLen / 32));
}

/**
 * Keep flags [m] (u32 0/1) for the first m entries of `entries` (sorted by segment id < numSegs, then score).
 * `maxSegLen` bounds every segment's length (checked by the caller's construction; the scan's workgroup memory holds it).
 */
export function segmentedNms(
  ctx: GpuContext,
  entries: GpuTensor,
  m: number,
  boxes: GpuTensor,
  numSegs: number,
  maxSegLen: number,
  thresh: number,
): GpuTensor {
  if (m <= 0) throw new GpuShapeError('segmentedNms needs at least one entry');
  const W = nmsWords(maxSegLen);
  if (W * 4 > ctx.limits.maxComputeWorkgroupStorageSize)
    throw new GpuShapeError(`NMS segment of ${maxSegLen} boxes exceeds workgroup memory`, 'resource');
  if (numSegs > ctx.limits.maxComputeWorkgroupsPerDimension) throw new GpuShapeError(`too many NMS segments (${numSegs})`, 'resource');
  const u = ctx.uniform(NMS_PARAMS.pack({ m, WMAX: W, n: 0, thresh }));
  const bounds = ctx.upload(new Uint32Array(numSegs * 2), [numSegs * 2]);
  ctx.dispatch1d(ctx.pipeline('nms', { ...kernelDefines(KERNELS, 'BOUNDS'), MAXW: 1 }), [u, entries, bounds], m, 'nms_bounds');
  const mask = ctx.empty([m, W], 'u32', 'flat', 'nms.mask');
  ctx.dispatch1d(ctx.pipeline('nms', { ...kernelDefines(KERNELS, 'MASK'), MAXW: 1 }), [u, entries, boxes, bounds, mask], m * W, 'nms_mask');
  const keep = ctx.empty([m], 'u32', 'flat', 'nms.keep');
  ctx.dispatch(
    ctx.pipeline('nms', { ...kernelDefines(KERNELS, 'SCAN'), MAXW: W }),
    [u, entries, bounds, mask, keep],
    [numSegs],
    'nms_scan',
  );
  bounds.release();
  mask.release();
  return keep;
}

/** Kept entries → (0, key, payload, 1), others → sentinels, over n ≥ m slots; counter[0] = number kept. */
export function rekeyKept(
  ctx: GpuContext,
  entries: GpuTensor,
  keep: GpuTensor,
  m: number,
  n: number,
): { entries: GpuTensor; counter: GpuTensor } {
  const out = ctx.empty([n, 4], 'u32', 'flat', 'nms.kept');
  const counter = ctx.upload(new Uint32Array(4), [4]);
  ctx.dispatch1d(
    ctx.pipeline('nms', { ...kernelDefines(KERNELS, 'REKEY'), MAXW: 1 }),
    [ctx.uniform(NMS_PARAMS.pack({ m, WMAX: 1, n, thresh: 0 })), entries, keep, out, counter],
    n,
    'nms_rekey',
  );
  return { entries: out, counter };
}
