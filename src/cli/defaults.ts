/** Paths of the bundled default weights (weights/default), used when the CLI is given no checkpoint. */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import { MAX_TIMER_MS } from '../util/timer.ts';

export const DEFAULT_DETECTOR = fileURLToPath(new URL('../../weights/default/detector.safetensors', import.meta.url));
export const DEFAULT_CODEC = fileURLToPath(new URL('../../weights/default/codec.safetensors', import.meta.url));

/** Bad command-line usage detected inside an action (commander only reports what it parses itself). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** commander argument parser for `--precision` (f32 | f16), checked before any weights load. */
export function precisionArg(v: string): 'f32' | 'f16' {
  if (v !== 'f32' && v !== 'f16') throw new InvalidArgumentError("expected f32 or f16 (f16 needs an adapter with 'shader-f16'; docs/kernels.md)");
  return v;
}

/** commander argument parser for positive integers. */
export function posInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** commander argument parser for non-negative integers (ids that may be 0). */
export function nonNegInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** commander argument parser for millisecond limits: a positive integer within the timer range. */
export function timerMs(v: string): number {
  const n = posInt(v);
  if (n > MAX_TIMER_MS) throw new InvalidArgumentError(`expected at most ${MAX_TIMER_MS} ms (the largest timer delay, about 24.8 days)`);
  return n;
}
