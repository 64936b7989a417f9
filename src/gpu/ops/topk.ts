/**
 * GPU sort / top-k (shaders/topk.wgsl): bitonic sort of (key_hi, key_lo, payload, flag) u32 entries, ascending by
 * (key_hi, key_lo, payload). Scores become descending keys, so sorting gives torch.topk's order with ties broken by
 * the lower index. Stages with strides below BLOCK run in workgroup memory (local_sort / local_merge), larger ones
 * as one global pass each: log2(n/BLOCK)·(log2(n/BLOCK)+3)/2 + 1 dispatches.
 */
import type { GpuContext } from '../context.ts';
import { GpuShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { defineParams } from '../params.ts';

/** shaders/topk.wgsl's struct Params. */
const TOPK_PARAMS = defineParams('topk', { n: 'u32', k: 'u32', j: 'u32', m: 'u32', hi: 'u32', _p0: 'u32', _p1: 'u32', _p2: 'u32' });

export const SORT_BLOCK = 512;

/** Padded sort length (pure): a power of two ≥ max(m, BLOCK). */
export function sortLength(m: number, block = SORT_BLOCK): number {
  let n = block;
  while (n < m) n *= 2;
  return n;
}

/** The dispatch plan of a bitonic sort of n entries (pure; tested): local_sort, then per stage k > BLOCK the global strides and one local_merge. */
export function sortPlan(n: number, block = SORT_BLOCK): { kind: 'local_sort' | 'global_step' | 'local_merge'; k: number; j: number }[] {
  if (n < block || (n & (n - 1)) !== 0) throw new GpuShapeError(`sort length ${n} must be a power of two ≥ ${block}`);
  const plan: { kind: 'local_sort' | 'global_step' | 'local_merge'; k: number; j: number }[] = [{ kind: 'local_sort', k: block, j: 0 }];
  for (let k = block * 2; k <= n; k *= 2) {
    for (let j = k / 2; j >= block; j /= 2) plan.push({ kind: 'global_step', k, j });
    plan.push({ kind: 'local_merge', k, j: block / 2 });
  }
  return plan;
}

function blockFor(ctx: GpuContext): number {
  // BLOCK/2 invocations per workgroup and BLOCK·16 bytes of workgroup memory.
  const inv = ctx.limits.maxComputeInvocationsPerWorkgroup;
  const mem = ctx.limits.maxComputeWorkgroupStorageSize;
  let b = SORT_BLOCK;
  while (b > 64 && (b / 2 > inv || b * 16 > mem)) b /= 2;
  return b;
}

/** Sort n = data.shape[0] entries in place (n a power of two ≥ the block size; see sortLength). */
export function sortEntries(ctx: GpuContext, data: GpuTensor, label = 'sort'): void {
  const n = data.shape[0]!;
  if (data.shape.length !== 2 || data.shape[1] !== 4) throw new GpuShapeError(`sort expects [n,4] entries, got [${data.shape.join(',')}]`);
  const block = blockFor(ctx);
  for (const st of sortPlan(n, block)) {
    const pipe = ctx.pipeline('topk', { BLOCK: block, MAKE_KEYS: false }, st.kind);
    const u = ctx.uniform(TOPK_PARAMS.pack({ n, k: st.k, j: st.j, m: 0, hi: 0 }));
    if (st.kind === 'global_step') ctx.dispatch1d(pipe, [u, data], n / 2, `${label}.step`);
    else ctx.dispatch(pipe, [u, data], [n / block], `${label}.${st.kind}`);
  }
}

/** Entries (hi, descKey(scores[i]), i, 1) for i < m, sentinels up to n. `scores` holds at least m floats. */
export function scoreKeys(ctx: GpuContext, scores: GpuTensor, m: number, n: number, hi = 0, label = 'keys'): GpuTensor {
  if (m > scores.size) throw new GpuShapeError(`scoreKeys: ${m} keys from a tensor of ${scores.size}`);
  if (n < m) throw new GpuShapeError(`scoreKeys: padded length ${n} < ${m}`);
  const out = ctx.empty([n, 4], 'u32', 'flat', label);
  const pipe = ctx.pipeline('topk', { BLOCK: blockFor(ctx), MAKE_KEYS: true }, 'make_keys');
  ctx.dispatch1d(pipe, [ctx.uniform(TOPK_PARAMS.pack({ n, k: 0, j: 0, m, hi })), scores, out], n, label);
  return out;
}

/**
 * Top-k of the first m values of `scores` (any layout: the storage order is the index order). Returns the sorted
 * entries [n,4]; the first min(k, m) hold (0, key, index, 1) in descending-score order.
 */
export function topkEntries(ctx: GpuContext, scores: GpuTensor, m = scores.size, label = 'topk'): GpuTensor {
  const keys = scoreKeys(ctx, scores, m, sortLength(m), 0, `${label}.keys`);
  sortEntries(ctx, keys, label);
  return keys;
}
