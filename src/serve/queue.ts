/**
 * The one-device work queue: jobs run one at a time (one GPU device, one command stream); at most `limit` jobs wait.
 * A job whose deadline passes while it waits is never started; one whose deadline passes while it runs is answered
 * with a deadline error at once (its GPU work finishes in the background and its result is dropped).
 */
import { VcmError } from '../util/errors.ts';

export class QueueFullError extends VcmError {
  override name = 'QueueFullError';
  /** Seconds after which a retry may be admitted (the estimated time until the queue has room or drains). */
  constructor(
    message: string,
    readonly retryAfterS = 1,
  ) {
    super('resource', message);
  }
}
export class DeadlineError extends VcmError {
  override name = 'DeadlineError';
  constructor(message: string, options?: ErrorOptions) {
    super('resource', message, options);
  }
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
  /** Exponentially weighted mean of job run times, ms (0 until a job has run). Drives deadline-aware admission. */
  ewmaMs = 0;
  private startedAt = 0;

  constructor(
    readonly limit: number,
    private readonly onDepth?: (depth: number) => void,
  ) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`queue limit must be a non-negative integer, got ${limit}`);
  }

  /** Jobs waiting (not counting the one running). */
  get depth(): number {
    return this.waiting.length;
  }
  get busy(): boolean {
    return this.running;
  }

  /**
   * Estimated ms until a job submitted now would finish: the rest of the running job plus one mean run time for each
   * waiting job and for the new one (0 while no run time has been measured yet).
   */
  estimateMs(now = performance.now()): number {
    if (this.ewmaMs === 0) return 0;
    const rest = this.running ? Math.max(0, this.ewmaMs - (now - this.startedAt)) : 0;
    return rest + this.ewmaMs * (this.waiting.length + 1);
  }

  /**
   * Queue `run`. Rejects at once with QueueFullError when `limit` jobs already wait, or when the estimated finish
   * (estimateMs) lies beyond the deadline — overload is answered with an immediate 503 instead of a 504 after the
   * client has waited out its deadline. A job whose deadline passes anyway rejects with DeadlineError.
   */
  submit<T>(run: () => Promise<T>, deadlineMs: number): Promise<T> {
    if (this.waiting.length >= this.limit && this.running) {
      return Promise.reject(new QueueFullError(`the queue is full (${this.limit} waiting)`, this.retryAfterS()));
    }
    const est = this.estimateMs();
    if (this.running && est > deadlineMs) {
      return Promise.reject(
        new QueueFullError(
          `the queue would not reach this request before its deadline (about ${Math.round(est)} ms of work ahead, deadline ${deadlineMs} ms)`,
          this.retryAfterS(),
        ),
      );
    }
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
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.onDepth?.(this.waiting.length);
    }
  }

  private pump(): void {
    if (this.running) return;
    const job = this.waiting.shift();
    this.onDepth?.(this.waiting.length);
    if (!job) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    if (job.settled) {
      this.pump();
      return;
    }
    this.running = true;
    const t0 = performance.now();
    this.startedAt = t0;
    // run time is booked (and the device marked free) before the job settles, so whoever awaits it sees the new state
    const book = () => {
      const ms = performance.now() - t0;
      this.busySeconds += ms / 1000;
      this.ewmaMs = this.ewmaMs === 0 ? ms : 0.8 * this.ewmaMs + 0.2 * ms;
      this.running = false;
    };
    job
      .run()
      .then(
        (v) => {
          book();
          this.settle(job, undefined, v);
        },
        (e) => {
          book();
          this.settle(job, e ?? new Error('job failed'));
        },
      )
      .finally(() => this.pump());
  }

  /** Whole seconds until the work now queued should be done (at least 1). */
  private retryAfterS(): number {
    return Math.max(1, Math.ceil(this.estimateMs() / 1000));
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
