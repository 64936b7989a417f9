/** Typed errors of the GPU layer. Every failure surfaces as one of these, with a message that says what to do. */
import { VcmError, type VcmErrorKind } from '../util/errors.ts';

/** A failure in the GPU layer; `kind` internal unless a subclass (or the thrower) says otherwise. */
export class GpuError extends VcmError {
  constructor(message: string, options?: { cause?: unknown }, kind: VcmErrorKind = 'internal') {
    super(kind, message, options);
    this.name = 'GpuError';
  }
}

/** No WebGPU implementation or no adapter. `fix` holds the command or step that fixes it. */
export class GpuUnavailableError extends GpuError {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(`${message}\n  fix: ${fix}`, undefined, 'unsupported');
    this.name = 'GpuUnavailableError';
  }
}

/** A WebGPU validation / out-of-memory / internal error caught by an error scope. */
export class GpuValidationError extends GpuError {
  constructor(
    readonly scope: GPUErrorFilter,
    readonly label: string,
    readonly gpuMessage: string,
  ) {
    super(`WebGPU ${scope} error in ${label}: ${gpuMessage}`, undefined, scope === 'out-of-memory' ? 'resource' : 'internal');
    this.name = 'GpuValidationError';
  }
}

/** The device was lost (driver reset, destroy(), out of memory on some drivers). */
export class GpuDeviceLostError extends GpuError {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(`WebGPU device lost (${reason}): ${detail}`, undefined, 'resource');
    this.name = 'GpuDeviceLostError';
  }
}

/**
 * A tensor or op argument is unusable: a wrong shape or a released tensor (internal: the graph above should never
 * ask for it), or too large for the device's limits (`kind` 'resource', passed by the thrower).
 */
export class GpuShapeError extends GpuError {
  constructor(message: string, kind: 'internal' | 'resource' = 'internal') {
    super(message, undefined, kind);
    this.name = 'GpuShapeError';
  }
}
