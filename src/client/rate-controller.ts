/**
 * A per-frame rate controller for variable-rate codecs on a link with a bitrate budget (kbit/s): it picks the gain
 * (`encoder.encode(frame, { scale })`) of the next frame from the measured bytes of the frames before.
 *
 * Budget per frame B = kbit/s · 1000 / 8 / fps (fps given, or measured from the frames' timestamps). The coded size of
 * a learned codec grows roughly as a power of the gain, so the controller works in log-gain:
 *   log g ← log g + α · log(B / bytes)      (α = 0.6 by default), clamped to [minGain, maxGain].
 * One frame's measurement moves the gain most of the way, so after a change of budget the bytes per frame follow
 * within a few frames. Pure: no I/O, no timers.
 */
export interface RateControllerOptions {
  /** The link's budget in kbit/s. */
  budgetKbps: number;
  /** Frames per second; omitted: measured from the `now` of update() (exponential average). */
  fps?: number;
  /** The gain range (a VBR model's smallest and largest level gains, `encoder.codecModel.gains`). */
  minGain: number;
  maxGain: number;
  /** The first frame's gain (default: the geometric mean of the range). */
  initialGain?: number;
  /** Step size in log-gain per log of the byte ratio (default 0.6). */
  alpha?: number;
}

export interface RateStats {
  budgetKbps: number;
  /** Bytes per frame the budget allows now. */
  targetBytes: number;
  /** The last frame's bytes and gain, and the measured rate (exponential average over ~8 frames), kbit/s. */
  lastBytes: number | null;
  lastGain: number | null;
  kbps: number | null;
  fps: number;
}

export class RateControlError extends Error {
  override name = 'RateControlError';
}

function positive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RateControlError(`${what} must be a finite positive number, got ${String(v)}`);
  return v;
}

export class RateController {
  private budget: number;
  private fps: number;
  private readonly fixedFps: boolean;
  private logGain: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly alpha: number;
  private lastBytes: number | null = null;
  private lastGain: number | null = null;
  private lastTime: number | null = null;
  private kbps: number | null = null;

  constructor(o: RateControllerOptions) {
    this.budget = positive(o.budgetKbps, 'budgetKbps');
    this.lo = Math.log(positive(o.minGain, 'minGain'));
    this.hi = Math.log(positive(o.maxGain, 'maxGain'));
    if (this.hi < this.lo) throw new RateControlError(`maxGain ${o.maxGain} < minGain ${o.minGain}`);
    this.fixedFps = o.fps !== undefined;
    this.fps = o.fps !== undefined ? positive(o.fps, 'fps') : 10;
    this.alpha = o.alpha !== undefined ? positive(o.alpha, 'alpha') : 0.6;
    this.logGain = o.initialGain !== undefined ? this.clamp(Math.log(positive(o.initialGain, 'initialGain'))) : (this.lo + this.hi) / 2;
  }

  private clamp(l: number): number { return Math.min(this.hi, Math.max(this.lo, l)); }

  /** Change the budget (takes effect from the next frame). */
  setBudget(kbps: number): void { this.budget = positive(kbps, 'budgetKbps'); }

  get targetBytes(): number { return (this.budget * 1000) / 8 / this.fps; }

  /** The gain (float32) to code the next frame at. */
  nextGain(): number { return Math.fround(Math.exp(this.logGain)); }

  /** Record a coded frame: its size in bytes, the gain it was coded at, and (without a fixed fps) when it was sent (ms). */
  update(bytes: number, gain: number, now?: number): void {
    if (!Number.isFinite(bytes) || bytes <= 0) throw new RateControlError(`frame size ${bytes} is not a positive byte count`);
    positive(gain, 'gain');
    if (!this.fixedFps && now !== undefined && this.lastTime !== null && now > this.lastTime) {
      const f = 1000 / (now - this.lastTime);
      this.fps = 0.8 * this.fps + 0.2 * f;
    }
    if (now !== undefined) this.lastTime = now;
    const k = (bytes * 8 * this.fps) / 1000;
    this.kbps = this.kbps === null ? k : 0.875 * this.kbps + 0.125 * k;
    this.lastBytes = bytes;
    this.lastGain = gain;
    this.logGain = this.clamp(Math.log(gain) + this.alpha * Math.log(this.targetBytes / bytes));
  }

  stats(): RateStats {
    return { budgetKbps: this.budget, targetBytes: this.targetBytes, lastBytes: this.lastBytes, lastGain: this.lastGain, kbps: this.kbps, fps: this.fps };
  }
}
