/** Paths of the bundled default weights (weights/default), used when the CLI is given no checkpoint. */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';

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

/** The `--backend` option (auto | webgpu | wasm; default $WEBVCM_BACKEND, else auto), checked before any weights load. */
export const BACKEND_HELP = 'auto (WebGPU when an adapter exists, else wasm; in Node wasm also over lavapipe/SwiftShader) | webgpu | wasm (default: $WEBVCM_BACKEND or auto)';
export function backendArg(v: string): 'auto' | 'webgpu' | 'wasm' {
  if (v !== 'auto' && v !== 'webgpu' && v !== 'wasm') throw new InvalidArgumentError('expected auto, webgpu or wasm');
  return v;
}
