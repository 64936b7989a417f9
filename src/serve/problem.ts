/**
 * Errors as application/problem+json (RFC 9457): `{type: 'https://webvcm.dev/problems/<slug>', title, status,
 * detail, …}`. Every error the receiver emits goes through here: HttpProblem for the expected ones, and
 * problemFromError() for whatever else reaches an error handler (the one place that maps error classes to statuses).
 */
import { STATUS_CODES } from 'node:http';
import { ContainerError } from '../coder/container.ts';
import { DeadlineError, QueueFullError } from './queue.ts';

export interface Problem { type: string; title: string; status: number; detail?: string; [k: string]: unknown }

export const PROBLEM_BASE = 'https://webvcm.dev/problems/';

export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(readonly status: number, readonly slug: string, readonly title: string, detail: string, readonly extra: Record<string, unknown> = {}, readonly headers: Record<string, string> = {}) {
    super(detail);
  }
  toJSON(): Problem { return { type: PROBLEM_BASE + this.slug, title: this.title, status: this.status, detail: this.message, ...this.extra }; }
}

/** The only media types /v1/detect parses; every other one is a 415 with this hint. */
export const VCM_MEDIA_TYPES = ['application/octet-stream', 'application/vnd.webvcm'] as const;
export const VCM_MEDIA_HINT = `send the .vcm stream as ${VCM_MEDIA_TYPES[0]} (or ${VCM_MEDIA_TYPES[1]})`;

/**
 * Any error → the problem the client sees, and whether it is internal (a 500: to be logged, reported without
 * detail). Stream errors (container, rANS, codec input, shapes) are the client's 400; Fastify's own errors keep
 * their status with a slug of ours (no FST_ codes leave the server).
 */
export function problemFromError(err: unknown, o: { bodyLimit: number }): { problem: HttpProblem; internal: boolean } {
  if (err instanceof HttpProblem) return { problem: err, internal: false };
  if (err instanceof QueueFullError) return { problem: new HttpProblem(503, 'overloaded', 'Overloaded', err.message, {}, { 'retry-after': String(err.retryAfterS) }), internal: false };
  if (err instanceof DeadlineError) return { problem: new HttpProblem(504, 'deadline-exceeded', 'Deadline exceeded', err.message), internal: false };
  const e = (err ?? {}) as { name?: string; message?: string; statusCode?: number; code?: string; validation?: unknown };
  if (err instanceof ContainerError || /Container|Rans|Codec|Input|Shape/.test(e.name ?? '')) {
    return { problem: new HttpProblem(400, 'invalid-stream', 'Invalid stream', e.message ?? 'the body is not a .vcm stream'), internal: false };
  }
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
  if (status === 500) return { problem: new HttpProblem(500, 'internal', 'Internal error', 'the server failed on this request; the failure was logged'), internal: true };
  const [slug, detail] = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? ['body-too-large', `the body exceeds the limit of ${o.bodyLimit} bytes`]
    : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? ['unsupported-media-type', VCM_MEDIA_HINT]
      : e.validation ? ['bad-request', `the request does not match its schema: ${e.message ?? ''}`]
        : ['bad-request', (e.message ?? '').replace(/^FST_\w+:?\s*/, '') || 'bad request'];
  return { problem: new HttpProblem(status, slug, STATUS_CODES[status] ?? 'Error', detail), internal: false };
}

/** A whole HTTP/1.1 response carrying a problem, for the paths where no Fastify reply exists (parser errors). */
export function rawProblemResponse(p: HttpProblem): string {
  const body = JSON.stringify(p.toJSON());
  return `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
