/**
 * The one-device work queue: jobs run one at a time (one GPU device, one command stream); at most `limit` jobs wait.
 * A job whose deadline passes while it waits is never started; one whose deadline passes while it runs is answered
 * with a deadline error at once (its GPU work finishes in the background and its result is dropped).
 */

export class QueueFullError extends Error {
  override name = 'QueueFullError';
}
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

interface Job<T> {
  run: () => Promise<T>;
  deadline: number;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

export class WorkQueue {
  private waiting: Job<unknown>[] = [];
  private running = false;
  private idleWaiters: (() => void)[] = [];
  /** Seconds the device spent on jobs (their run() time). */
  busySeconds = 0;

  constructor(readonly limit: number, private readonly onDepth?: (depth: number) => void) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`queue limit must be a non-negative integer, got ${limit}`);
  }

  /** Jobs waiting (not counting the one running). */
  get depth(): number { return this.waiting.length; }
  get busy(): boolean { return this.running; }

  /** Queue `run`; rejects with QueueFullError at once when `limit` jobs already wait, DeadlineError at the deadline. */
  submit<T>(run: () => Promise<T>, deadlineMs: number): Promise<T> {
    if (this.waiting.length >= this.limit && this.running) return Promise.reject(new QueueFullError(`the queue is full (${this.limit} waiting)`));
    return new Promise<T>((resolve, reject) => {
      const job: Job<T> = { run, deadline: performance.now() + deadlineMs, resolve, reject, settled: false, timer: null };
      job.timer = setTimeout(() => this.settle(job, new DeadlineError(`the request's deadline of ${deadlineMs} ms expired`)), deadlineMs);
      this.waiting.push(job as Job<unknown>);
      this.onDepth?.(this.waiting.length);
      this.pump();
    });
  }

  private settle<T>(job: Job<T>, err: unknown, value?: T): void {
    if (job.settled) return;
    job.settled = true;
    if (job.timer) clearTimeout(job.timer);
    if (err !== undefined) job.reject(err);
    else job.resolve(value as T);
    const i = this.waiting.indexOf(job as Job<unknown>);
    if (i >= 0) { this.waiting.splice(i, 1); this.onDepth?.(this.waiting.length); }
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    this.onDepth?.(this.waiting.length);
    if (!job) { for (const w of this.idleWaiters.splice(0)) w(); return; }
    if (job.settled) { this.pump(); return; }
    this.running = true;
    const t0 = performance.now();
    job.run().then(
      (v) => this.settle(job, undefined, v),
      (e) => this.settle(job, e ?? new Error('job failed')),
    ).finally(() => {
      this.busySeconds += (performance.now() - t0) / 1000;
      this.running = false;
      this.pump();
    });
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
