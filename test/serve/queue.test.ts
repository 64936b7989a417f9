/**
 * The one-device work queue (src/serve/queue.ts), without a GPU: order, the waiting limit, deadlines, and
 * deadline-aware admission (overload answered at once with QueueFullError, the server's 503, instead of a
 * DeadlineError, its 504, after the client waited out its deadline).
 */
import { describe, expect, it } from 'vitest';
import { DeadlineError, QueueFullError, WorkQueue } from '../../src/serve/queue.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const job = (ms: number, v: number) => async () => {
  await sleep(ms);
  return v;
};

describe('WorkQueue', () => {
  it('runs jobs one at a time, in order', async () => {
    const q = new WorkQueue(8);
    const seen: number[] = [];
    let active = 0,
      maxActive = 0;
    const mk = (i: number) => async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(5);
      seen.push(i);
      active--;
      return i;
    };
    const out = await Promise.all([0, 1, 2, 3].map((i) => q.submit(mk(i), 10_000)));
    expect(out).toEqual([0, 1, 2, 3]);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(maxActive).toBe(1);
    expect(q.ewmaMs).toBeGreaterThan(0);
  });

  it('refuses beyond the waiting limit with QueueFullError and a Retry-After of at least 1 s', async () => {
    const q = new WorkQueue(1);
    const a = q.submit(job(30, 1), 10_000);
    const b = q.submit(job(30, 2), 10_000);
    const c = q.submit(job(30, 3), 10_000);
    await expect(c).rejects.toBeInstanceOf(QueueFullError);
    await c.catch((e: QueueFullError) => expect(e.retryAfterS).toBeGreaterThanOrEqual(1));
    expect(await a).toBe(1);
    expect(await b).toBe(2);
  });

  it('a job whose deadline passes while it waits never runs (DeadlineError)', async () => {
    const q = new WorkQueue(4);
    let ran = false;
    const a = q.submit(job(60, 1), 10_000);
    const b = q.submit(async () => {
      ran = true;
      return 2;
    }, 10);
    await expect(b).rejects.toBeInstanceOf(DeadlineError);
    expect(await a).toBe(1);
    await q.idle();
    expect(ran).toBe(false);
  });

  it('admission: with measured run times, work that cannot finish before its deadline is refused at once', async () => {
    const q = new WorkQueue(100);
    await q.submit(job(40, 0), 10_000); // one measured run: ewma ≈ 40 ms
    expect(q.ewmaMs).toBeGreaterThanOrEqual(35);
    const running = q.submit(job(40, 1), 10_000);
    const queued = [q.submit(job(40, 2), 10_000), q.submit(job(40, 3), 10_000)];
    // ≈ 40 (rest of the running job) + 3 × 40 ahead of the finish of a new one: a 60 ms deadline cannot be met
    expect(q.estimateMs()).toBeGreaterThan(100);
    const t0 = performance.now();
    const refused = q.submit(job(40, 9), 60);
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await refused.catch((e: Error) => expect(e.message).toMatch(/before its deadline/));
    expect(performance.now() - t0).toBeLessThan(30); // answered immediately, not after the deadline
    // a generous deadline is still admitted and served
    expect(await q.submit(job(5, 4), 10_000)).toBe(4);
    expect(await running).toBe(1);
    expect(await Promise.all(queued)).toEqual([2, 3]);
  });

  it('an idle queue admits any deadline (nothing ahead; the run itself may still expire)', async () => {
    const q = new WorkQueue(1);
    await q.submit(job(30, 0), 10_000);
    await expect(q.submit(job(30, 1), 1)).rejects.toBeInstanceOf(DeadlineError);
  });

  it('rejects a bad limit', () => {
    expect(() => new WorkQueue(-1)).toThrow(RangeError);
    expect(() => new WorkQueue(1.5)).toThrow(RangeError);
  });
});
