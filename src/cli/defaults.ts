/** Paths of the bundled default weights (weights/default), used when the CLI is given no checkpoint. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { MAX_TIMER_MS } from '../util/timer.ts';
import { ADAPTER_CHOICES, type AdapterChoice } from '../api/runtime.ts';
import { VcmError } from '../util/errors.ts';

export const DEFAULT_DETECTOR = fileURLToPath(new URL('../../weights/default/detector.safetensors', import.meta.url));
export const DEFAULT_CODEC = fileURLToPath(new URL('../../weights/default/codec.safetensors', import.meta.url));
/** The manifest of the bundled rate points (a repository checkout has it; the npm package ships weights/default only). */
export const RATE_POINTS_MANIFEST = fileURLToPath(new URL('../../weights/world/rate-points.json', import.meta.url));

/** The bundled feature-codec rate points in rising rate (`webvcm eval` without --codec): the manifest's files, or the
 *  default codec alone where there is no manifest. A manifest naming a missing file is an error, not a shorter curve. */
export function bundledRatePoints(manifest = RATE_POINTS_MANIFEST): string[] {
  if (!existsSync(manifest)) return [DEFAULT_CODEC];
  let parsed: { ratePoints?: { file?: unknown }[] };
  try {
    parsed = JSON.parse(readFileSync(manifest, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new UsageError(`${manifest}: not a rate-point manifest (${(e as Error).message})`);
  }
  const files = (parsed.ratePoints ?? []).map((p) => p.file);
  if (!files.length || !files.every((f): f is string => typeof f === 'string'))
    throw new UsageError(`${manifest}: expected ratePoints[].file strings`);
  const paths = files.map((f) => resolve(dirname(manifest), f));
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length) throw new UsageError(`${manifest} names missing codec file(s): ${missing.join(', ')}`);
  return paths;
}

/** Bad command-line usage detected inside an action (commander only reports what it parses itself). */
export class UsageError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'UsageError';
  }
}

/** commander argument parser for `--precision` (f32 | f16), checked before any weights load. */
export function precisionArg(v: string): 'f32' | 'f16' {
  if (v !== 'f32' && v !== 'f16')
    throw new InvalidArgumentError("expected f32 or f16 (on WebGPU f16 needs an adapter with 'shader-f16'; docs/kernels.md)");
  return v;
}

/** commander argument parser for `--adapter` (auto | lavapipe | swiftshader | system). */
export function adapterArg(v: string): AdapterChoice {
  if (!(ADAPTER_CHOICES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected ${ADAPTER_CHOICES.join(' | ')}`);
  return v as AdapterChoice;
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

/** The `--backend` option (auto | webgpu | wasm; default $WEBVCM_BACKEND, else auto), checked before any weights load. */
export const BACKEND_HELP =
  'auto (WebGPU when an adapter exists, else wasm; in Node wasm also over lavapipe/SwiftShader) | webgpu | wasm (default: $WEBVCM_BACKEND or auto)';
export function backendArg(v: string): 'auto' | 'webgpu' | 'wasm' {
  if (v !== 'auto' && v !== 'webgpu' && v !== 'wasm') throw new InvalidArgumentError('expected auto, webgpu or wasm');
  return v;
}

/** What {@link runtimeOptions} adds to a command's parsed options. */
export interface RuntimeCliOptions {
  precision: 'f32' | 'f16';
  adapter: AdapterChoice;
  backend?: 'auto' | 'webgpu' | 'wasm';
  threads?: number;
}

/**
 * How `encode`, `decode`, `detect` and `eval` (full mode) run their models, one text for all: --precision, --adapter,
 * --backend and --threads (`codec: true` adds that the codec stays f32 to --precision's help; `scope`, e.g.
 * 'full mode: ', starts every help text).
 */
export function runtimeOptions(cmd: Command, o: { codec: boolean; scope?: string }): Command {
  const s = o.scope ?? '';
  return cmd
    .option(
      '--precision <p>',
      `${s}f32 (default) or f16: binary16 detector weights and tiles with f32 accumulation (WebGPU: where the adapter has 'shader-f16'; wasm: weights and inputs rounded to binary16)${o.codec ? ' (the codec stays f32)' : ''}`,
      precisionArg,
      'f32',
    )
    .option('--adapter <name>', `${s}auto | lavapipe | swiftshader | system`, adapterArg, 'auto')
    .option('--backend <b>', s + BACKEND_HELP, backendArg)
    .option('--threads <n>', `${s}wasm backend: kernel threads (default: all hardware threads)`, posInt);
}

/** --detector and --codec with the bundled models as defaults (`encode` and `decode`; detect has its own --detector). */
export function checkpointOptions(cmd: Command): Command {
  return cmd
    .option('--detector <ckpt>', 'detector checkpoint (.pkl or converted .safetensors); default: bundled', DEFAULT_DETECTOR)
    .option('--codec <ckpt>', 'codec checkpoint (.pth.tar or converted .safetensors); default: bundled', DEFAULT_CODEC);
}

/** The options `encode` and `decode` share (checkpoints, resize, runtime), as createEncoder / createDecoder take them. */
export interface ModelCliOptions extends RuntimeCliOptions {
  detector: string;
  codec: string;
  minSize?: number;
  maxSize?: number;
}

/** Those options alone, picked from a command's parsed options. */
export function modelOptions(o: ModelCliOptions): ModelCliOptions {
  const { detector, codec, minSize, maxSize, precision, adapter, backend, threads } = o;
  return { detector, codec, minSize, maxSize, precision, adapter, backend, threads };
}
