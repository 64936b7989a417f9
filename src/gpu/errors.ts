/** Typed errors of the GPU layer. Every failure surfaces as one of these, with a message that says what to do. */
export class GpuError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GpuError';
  }
}

/** No WebGPU implementation or no adapter. `fix` holds the command or step that fixes it. */
export class GpuUnavailableError extends GpuError {
  constructor(message: string, readonly fix: string) {
    super(`${message}\n  fix: ${fix}`);
    this.name = 'GpuUnavailableError';
  }
}

/** A WebGPU validation / out-of-memory / internal error caught by an error scope. */
export class GpuValidationError extends GpuError {
  constructor(readonly scope: GPUErrorFilter, readonly label: string, readonly gpuMessage: string) {
    super(`WebGPU ${scope} error in ${label}: ${gpuMessage}`);
    this.name = 'GpuValidationError';
  }
}

/** The device was lost (driver reset, destroy(), out of memory on some drivers). */
export class GpuDeviceLostError extends GpuError {
  constructor(readonly reason: string, detail: string) {
    super(`WebGPU device lost (${reason}): ${detail}`);
    this.name = 'GpuDeviceLostError';
  }
}

/** A tensor or op argument is unusable (wrong shape, released tensor, too large for the device's limits). */
export class GpuShapeError extends GpuError {
  constructor(message: string) {
    super(message);
    this.name = 'GpuShapeError';
  }
}
