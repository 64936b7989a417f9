/**
 * Errors as application/problem+json (RFC 9457): `{type: 'https://webvcm.dev/problems/<slug>', title, status,
 * detail, …}`. Every error the receiver emits goes through here: HttpProblem for the expected ones, and
 * problemFromError() for whatever else reaches an error handler (the one place that maps error classes to statuses).
 */
import { STATUS_CODES } from 'node:http';
import { VcmError, errorKind } from '../util/errors.ts';
import { DeadlineError, QueueFullError } from './queue.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [k: string]: unknown;
}

export const PROBLEM_BASE = 'https://webvcm.dev/problems/';

export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
  toJSON(): Problem {
    return { type: PROBLEM_BASE + this.slug, title: this.title, status: this.status, detail: this.message, ...this.extra };
  }
}

/** The only media types /v1/detect parses; every other one is a 415 with this hint. */
export const VCM_MEDIA_TYPES = ['application/octet-stream', 'application/vnd.webvcm'] as const;
export const VCM_MEDIA_HINT = `send the .vcm stream as ${VCM_MEDIA_TYPES[0]} (or ${VCM_MEDIA_TYPES[1]})`;

/**
 * The problem a failed decode answers with, by the error's class and `kind` (never its name): the queue's own
 * errors are 503 / 504; `input` and `unsupported` errors are the stream's fault (400, with the message); `resource`
 * errors (device lost, out of memory) are 503; everything else, a non-VcmError included, is ours: 500 with a generic
 * message (the caller logs the detail).
 */
export function problemForError(e: unknown): HttpProblem {
  if (e instanceof HttpProblem) return e;
  if (e instanceof QueueFullError)
    return new HttpProblem(503, 'overloaded', 'Overloaded', e.message, {}, { 'retry-after': String(e.retryAfterS) });
  if (e instanceof DeadlineError) return new HttpProblem(504, 'deadline-exceeded', 'Deadline exceeded', e.message);
  switch (errorKind(e)) {
    case 'input':
    case 'unsupported':
      return new HttpProblem(400, 'invalid-stream', 'Invalid stream', (e as Error).message);
    case 'resource':
      return new HttpProblem(
        503,
        'unavailable',
        'Temporarily unavailable',
        'the server ran out of a GPU resource decoding this stream; retry later',
        {},
        { 'retry-after': '1' },
      );
    default:
      return new HttpProblem(500, 'internal', 'Internal error', 'the server failed on this request; the failure was logged');
  }
}

/**
 * Any error that reaches an error handler → the problem the client sees, and whether to log it (500 `internal`,
 * 503 `unavailable`). Fastify's own errors (4xx with a `statusCode`: body too large, media type, schema validation,
 * bad framing) keep their status with a slug of ours, no FST_ code; everything else goes through problemForError.
 */
export function problemFromError(err: unknown, o: { bodyLimit: number }): { problem: HttpProblem; internal: boolean } {
  const e = (err ?? {}) as { message?: string; statusCode?: number; code?: string; validation?: unknown };
  if (
    !(err instanceof HttpProblem) &&
    !(err instanceof VcmError) &&
    typeof e.statusCode === 'number' &&
    e.statusCode >= 400 &&
    e.statusCode < 500
  ) {
    const status = e.statusCode;
    const [slug, detail] =
      e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? ['body-too-large', `the body exceeds the limit of ${o.bodyLimit} bytes`]
        : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? ['unsupported-media-type', VCM_MEDIA_HINT]
          : e.validation
            ? ['bad-request', `the request does not match its schema: ${e.message ?? ''}`]
            : ['bad-request', (e.message ?? '').replace(/^FST_\w+:?\s*/, '') || 'bad request'];
    return { problem: new HttpProblem(status, slug, STATUS_CODES[status] ?? 'Error', detail), internal: false };
  }
  if (err instanceof HttpProblem) return { problem: err, internal: false }; // made (and reported) by the receiver
  const problem = problemForError(err);
  return { problem, internal: problem.slug === 'internal' || problem.slug === 'unavailable' };
}

/** A whole HTTP/1.1 response carrying a problem, for the paths where no Fastify reply exists (parser errors). */
export function rawProblemResponse(p: HttpProblem): string {
  const body = JSON.stringify(p.toJSON());
  return `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
