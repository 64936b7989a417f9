/**
 * The client against a malicious server (issue 21, defect 5): a plain Node HTTP server on 127.0.0.1 that stalls its
 * body, sends too much, sends malformed 200s, a huge Retry-After, or escape sequences in its problem text. Every
 * failure must be a RemoteError, within the client's deadline, with text safe for a terminal. No GPU.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRemoteDecoder, MAX_RETRY_AFTER_S, RemoteError, sanitizeText } from '../../src/client/remote.ts';

let srv: Server;
let base = '';
const routes: Record<string, (res: ServerResponse) => void> = {};

beforeAll(async () => {
  srv = createServer((req, res) => {
    req.resume();
    (
      routes[req.headers['x-case'] as string] ??
      ((r) => {
        r.statusCode = 404;
        r.end();
      })
    )(res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
});
afterAll(async () => {
  srv.closeAllConnections();
  await new Promise((r) => srv.close(r));
});

/** A client whose requests carry the case name (the server above answers by it). */
function client(name: string, o: { timeoutMs?: number; maxResponseBytes?: number } = {}) {
  const f: typeof fetch = (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-case': name } });
  return createRemoteDecoder({ url: base, fetch: f, ...o });
}

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RemoteError);
  return e as RemoteError;
}

const stream = new Uint8Array(100);

it('a server that sends headers and then stalls its body: RemoteError at the deadline, not a hang', async () => {
  routes.stall = (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"scores":');
  };
  const t0 = performance.now();
  const e = await failure(client('stall', { timeoutMs: 500 }).decode(stream));
  expect(performance.now() - t0).toBeLessThan(3000);
  expect(e.problemType).toBe('transport');
  expect(e.message).toMatch(/no complete answer within 500 ms/);
});

it('a reply over the size cap is refused while it streams (declared or not)', async () => {
  routes.huge = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 << 10, 0x20);
    let sent = 0;
    const more = () => {
      while (sent < 1 << 30 && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
  };
  routes.declared = (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1.5e9) });
    res.write('{');
  };
  const rss0 = process.memoryUsage().rss;
  const e = await failure(client('huge', { maxResponseBytes: 1 << 20 }).decode(stream));
  expect(e.problemType).toBe('response-too-large');
  expect(process.memoryUsage().rss - rss0).toBeLessThan(200 << 20);
  expect((await failure(client('declared').decode(stream))).problemType).toBe('response-too-large'); // default cap 16 MiB
});

it('malformed 200 replies are RemoteError bad-response, never SyntaxError/TypeError/RangeError', async () => {
  const ok = {
    format: 'webvcm.detections',
    version: 1,
    boxes: [[1, 2, 3, 4]],
    scores: [0.5],
    classes: [0],
    labels: ['a'],
    sizes: { original: [8, 8], resized: [8, 8], padded: [64, 64] },
    timings: {},
    fingerprint: 'ab',
  };
  const bodies: string[] = [
    'not json',
    'null',
    '[]',
    '{"scores":5}',
    JSON.stringify({ ...ok, boxes: [[1, 2]] }),
    JSON.stringify({ ...ok, classes: [-1] }),
    JSON.stringify({ ...ok, scores: [1, 2] }),
    JSON.stringify({ ...ok, sizes: null }),
    JSON.stringify({ ...ok, fingerprint: '\u001b[31m' }),
    JSON.stringify({ ...ok, boxes: [[1, 2, 3, 'x']] }),
    JSON.stringify({ ...ok, version: 2 }),
    JSON.stringify({ ...ok, timings: [] }),
  ];
  for (const [i, b] of bodies.entries()) {
    routes[`bad${i}`] = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(b);
    };
    const e = await failure(client(`bad${i}`).decode(stream));
    expect(e.problemType, b).toBe('bad-response');
  }
  routes.good = (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok));
  };
  const r = await client('good').decode(stream);
  expect(Array.from(r.detections.boxes)).toEqual([1, 2, 3, 4]);
});

it('Retry-After is capped; problem text is stripped of ANSI/OSC and control characters', async () => {
  routes.busy = (res) => {
    res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '99999999999' });
    res.end(
      JSON.stringify({
        type: 'x',
        title: '\u001b]0;pwned\u0007Over\u001b[2Jloaded\u009b31m',
        detail: 'try \u001b[31mlater\u0000\r\u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\',
      }),
    );
  };
  const e = await failure(client('busy').decode(stream));
  expect(e.status).toBe(503);
  expect(e.retryAfterS).toBe(MAX_RETRY_AFTER_S);
  // eslint-disable-next-line no-control-regex
  expect(e.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  expect(e.message).toBe('/v1/detect: 503 Overloaded: try laterlink');
  expect(sanitizeText('a'.repeat(50), 10)).toBe('aaaaaaaaaa…');
});
