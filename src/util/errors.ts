/**
 * The one error base of webvcm. Every error the library throws on purpose is a {@link VcmError}; its `kind` says
 * whose problem it is, so callers (the CLI, the server, an embedding page) map errors by `instanceof` / `kind`,
 * never by the class name:
 *
 * - `input`: the caller's data or arguments are wrong (a corrupt stream, a bad checkpoint, an unreadable image, a
 *   bad option). Fix the input; retrying the same call fails the same way. A server answers 400.
 * - `unsupported`: valid, but not supported here (no WebGPU adapter, an adapter feature that is missing, a format
 *   version this build does not read).
 * - `resource`: a limit or a transient condition (queue full, deadline passed, device lost, too large for the
 *   device). Retry later, or with less.
 * - `internal`: a broken invariant inside webvcm, a bug. Anything that is not a VcmError counts as internal too
 *   ({@link errorKind}). A server answers 500 with a generic message and logs the detail.
 */
export type VcmErrorKind = 'input' | 'unsupported' | 'resource' | 'internal';

export const VCM_ERROR_KINDS: readonly VcmErrorKind[] = ['input', 'unsupported', 'resource', 'internal'];

export class VcmError extends Error {
  override name = 'VcmError';
  constructor(
    readonly kind: VcmErrorKind,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The kind of any thrown value: a VcmError's own, `internal` for everything else (a TypeError is a bug). */
export function errorKind(e: unknown): VcmErrorKind {
  return e instanceof VcmError ? e.kind : 'internal';
}
