/**
 * The receiver under attack (issue 21), without a GPU: a stand-in decoder (fake.ts) behind the real server, so each
 * limit, timeout, origin rule and shutdown path is exercised quickly. The real decoder's answers: server.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { shutdownHandler } from '../../src/serve/signals.ts';
import { createServer, type ServeOptions, type VcmServer } from '../../src/serve/server.ts';
import { clientFrame, fakeDecoder, fakeStream, rawWebSocket, serverFrames, type FakeDecoder } from './fake.ts';

const open: VcmServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

async function start(
  o: Partial<ServeOptions> = {},
  fake: FakeDecoder = fakeDecoder(),
): Promise<{ server: VcmServer; base: string; fake: FakeDecoder }> {
  const server = await createServer({ detector: '', codecs: [], decoders: [fake.decoder], ...o });
  open.push(server);
  await server.warmup();
  const base = await server.listen(0);
  return { server, base, fake };
}

function post(base: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: body as BodyInit,
  });
}

describe('1. padding and the pixel budget', () => {
  it('the budget applies to the padded feature map too (413 before the decoder runs)', async () => {
    const { base, fake } = await start({ maxPixels: 128 * 192 });
    const r = await post(base, fakeStream(128, 192)); // resized 128x192 fits; padded 256x256 does not
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/padded feature map covers 256x256/);
    expect(fake.calls).toBe(0);
    const sq = await post(base, fakeStream(256, 256));
    expect(sq.status).toBe(413); // 256x256 image → 64x64 stem, padded 64x64: 65536 px > 24576
  });

  it('a tiny header padded to a huge z is a 400 from the container check, not a decode', async () => {
    const { base, fake } = await start();
    const s = fakeStream(128, 192);
    const dv = new DataView(s.buffer);
    dv.setUint32(60, 1182 * 64 - 32 - 16, true);
    dv.setUint32(64, 1182 * 64 - 48 - 8, true);
    dv.setUint32(76, 1182, true);
    dv.setUint32(80, 1182, true);
    const r = await post(base, s);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/below 64/);
    expect(fake.calls).toBe(0);
  });

  it('a valid stream within the budget is decoded', async () => {
    const { base, fake } = await start();
    const r = await post(base, fakeStream(128, 192));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { scores: number[] }).scores).toEqual([0.5]);
    expect(fake.calls).toBe(1);
  });
});

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('2. WebSocket output is bounded', () => {
  it('a client that never reads: the server stops reading its frames, tells it (slow-consumer) and closes it (1008)', async () => {
    const { base } = await start({ streamBufferBytes: 16 << 10, streamStallMs: 500 });
    const { socket, status } = await rawWebSocket(base);
    expect(status).toBe(101);
    socket.on('error', () => undefined);
    // 12-byte frames (u32 id + 8 bytes: each is answered with an invalid-stream error of ~250 bytes), never reading
    const batch = Buffer.concat(
      Array.from({ length: 1000 }, (_, i) => clientFrame(Uint8Array.from([i & 255, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]))),
    );
    let sent = 0,
      closedByServer = 0;
    const t0 = performance.now();
    while (sent < 400_000 && performance.now() - t0 < 8000 && !socket.destroyed) {
      const m = await (await fetch(`${base}/metrics`)).text();
      closedByServer = metric(m, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\d+)/);
      if (closedByServer) break;
      if (!socket.write(batch))
        await new Promise((r) => {
          socket.once('drain', r);
          setTimeout(r, 100);
        });
      sent += 1000;
    }
    const m = await (await fetch(`${base}/metrics`)).text();
    closedByServer = metric(m, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\d+)/);
    expect(closedByServer, `after ${sent} frames in ${(performance.now() - t0).toFixed(0)} ms`).toBe(1);
    expect(metric(m, /webvcm_stream_frames_total (\d+)/)).toBeLessThan(sent); // it stopped reading
    // now read what the server sent: replies, then the slow-consumer message and a 1008 close
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.resume();
    await new Promise<void>((r) => {
      socket.once('close', () => r());
      setTimeout(r, 3000);
    });
    const { texts, closeCode } = serverFrames(Buffer.concat(chunks));
    expect(closeCode).toBe(1008);
    expect(JSON.parse(texts.at(-1)!).problem.type).toMatch(/slow-consumer/);
  }, 20000);
});

describe('7. limits within the timer range', () => {
  it('the server refuses a deadline or timeout a timer cannot hold, naming it', async () => {
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], deadlineMs: 2 ** 31 })).rejects.toThrow(
      /deadlineMs must be at most 2147483647 ms/,
    );
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], requestTimeoutMs: 1e12 })).rejects.toThrow(
      /requestTimeoutMs must be at most/,
    );
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], deadlineMs: 0.5 })).rejects.toThrow(
      /deadlineMs must be a positive integer/,
    );
  });

  it('`webvcm serve --deadline-ms 2147483648` stops at start-up with a clear message', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await main(['node', 'webvcm', 'serve', '--deadline-ms', '2147483648']);
      expect(code).not.toBe(0);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--deadline-ms.*2147483648.*at most 2147483647 ms/s);
    } finally {
      err.mockRestore();
    }
  });
});

/** A raw HTTP exchange: writes `parts` `gapMs` apart (stopping once an answer came), returns what came back and when. */
async function rawHttp(
  base: string,
  parts: (string | Buffer)[],
  gapMs = 0,
  maxMs = 6000,
): Promise<{ text: string; ms: number; status: number }> {
  const { connect } = await import('node:net');
  const u = new URL(base);
  const s = connect(Number(u.port), u.hostname);
  s.on('error', () => undefined);
  const t0 = performance.now();
  let text = '',
    answered = -1;
  s.on('data', (d: Buffer) => {
    text += d.toString();
    if (answered < 0) answered = performance.now() - t0;
  });
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  for (const p of parts) {
    if (answered >= 0 || s.destroyed || performance.now() - t0 > maxMs) break;
    s.write(p);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, Math.max(0, maxMs - (performance.now() - t0))))]);
  s.destroy();
  return { text, ms: answered < 0 ? Infinity : answered, status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0) };
}

function problemOf(text: string): { type: string; status: number; detail?: string } {
  expect(text).toMatch(/content-type: application\/problem\+json/i);
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as never;
}

describe('4. the request timeout is kept; connections are capped', () => {
  it('a body dripping at 5 bytes/s gets its 408 (problem+json) at the request timeout, not minutes later', async () => {
    const { base } = await start({ requestTimeoutMs: 1000 });
    const head = `POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`;
    const r = await rawHttp(base, [head, ...Array.from({ length: 40 }, () => 'x')], 200);
    expect(r.status).toBe(408);
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(2500);
    expect(problemOf(r.text).type).toMatch(/request-timeout/);
  });

  it('headers dripping byte by byte get a 408 problem at the request timeout', async () => {
    const { base } = await start({ requestTimeoutMs: 1000 });
    const r = await rawHttp(base, ['GET /healthz HTTP/1.1\r\n', ...'X-Slow: abcdefghijklmnopqrstuvwxyz0123456789'.split('')], 150);
    expect(r.status).toBe(408);
    expect(r.ms).toBeLessThan(2600);
    expect(problemOf(r.text).type).toMatch(/request-timeout/);
  });

  it('a connection that never sends a byte is cut at the request timeout (it would hold a slot forever)', async () => {
    const { base } = await start({ requestTimeoutMs: 800 });
    const { connect } = await import('node:net');
    const u = new URL(base);
    const t0 = performance.now();
    const s = connect(Number(u.port), u.hostname);
    s.on('error', () => undefined);
    s.resume(); // a paused socket that is never read may not see its end (then no 'close')
    const ms = await new Promise<number>((r) => {
      s.once('close', () => r(performance.now() - t0));
      setTimeout(() => r(Infinity), 8000);
    });
    s.destroy();
    expect(ms).toBeGreaterThan(700);
    expect(ms).toBeLessThan(5000); // generous: other test files share the two cores
  });

  it('connections over the per-address cap get 503 too-many-connections; room again once they close', async () => {
    const { base } = await start({ maxConnectionsPerIp: 3 });
    const idle = await openIdle(base, 3);
    await new Promise((r) => setTimeout(r, 50));
    const refused = await rawHttp(base, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(refused.status).toBe(503);
    expect(problemOf(refused.text).type).toMatch(/too-many-connections/);
    for (const s of idle) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const ok = await rawHttp(base, ['GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(ok.status).toBe(200);
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toMatch(/webvcm_connections_refused_total\{reason="address"\} 1/);
  });

  it('the server-wide cap applies across addresses too', async () => {
    const { base } = await start({ maxConnections: 2 });
    const idle = await openIdle(base, 2);
    await new Promise((r) => setTimeout(r, 50));
    const refused = await rawHttp(base, ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n']);
    expect(refused.status).toBe(503);
    expect(problemOf(refused.text).detail).toMatch(/at most 2 connections/);
    for (const s of idle) s.destroy();
  });
});

/** How long `server.close()` takes, ms (Infinity past 8 s). */
async function timeClose(server: VcmServer): Promise<number> {
  const t0 = performance.now();
  return Promise.race([server.close().then(() => performance.now() - t0), new Promise<number>((r) => setTimeout(() => r(Infinity), 8000))]);
}

/** `n` idle TCP connections to the server (connected, nothing sent). */
async function openIdle(base: string, n: number): Promise<import('node:net').Socket[]> {
  const { connect } = await import('node:net');
  const u = new URL(base);
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Socket>((r) => {
          const s = connect(Number(u.port), u.hostname, () => r(s));
        }),
    ),
  );
}

describe('9. every error the server emits is problem+json', () => {
  it('bad framing, bad methods, huge headers, bad URLs', async () => {
    const { base } = await start();
    const cases: [string, number][] = [
      ['POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400], // conflicting lengths
      ['POST /v1/detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', 400], // smuggling shape
      ['F@O / HTTP/1.1\r\nHost: x\r\n\r\n', 400], // not a method token
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431],
      ['GET /v1/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400], // FST_ERR_BAD_URL
    ];
    for (const [req, status] of cases) {
      const r = await rawHttp(base, [req]);
      expect(r.status, req.slice(0, 40)).toBe(status);
      const p = problemOf(r.text);
      expect(p.status).toBe(status);
      expect(p.type).toMatch(/^https:\/\/webvcm\.dev\/problems\//);
      expect(r.text).not.toMatch(/FST_/);
    }
  });
});

describe('9b. /healthz while not ready', () => {
  it('answers 503 as a problem (warming-up) with Retry-After', async () => {
    const server = await createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], skipWarmup: true });
    open.push(server);
    const base = await server.listen(0);
    const r = await fetch(`${base}/healthz`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    expect(await r.json()).toMatchObject({ type: 'https://webvcm.dev/problems/warming-up', status: 503, state: 'warming-up' });
  });
});

describe('3. shutdown keeps its timeouts; a second signal exits', () => {
  it('close() returns within the request timeout while a body drips, which gets its 408', async () => {
    const { server, base } = await start({ requestTimeoutMs: 1000, drainTimeoutMs: 5000 });
    const head = `POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n`;
    const drip = rawHttp(base, [head, ...Array.from({ length: 60 }, () => 'x')], 100, 8000);
    await new Promise((r) => setTimeout(r, 200));
    const closed = await timeClose(server);
    expect(closed).toBeLessThan(2500);
    expect((await drip).status).toBe(408);
  }, 15000);

  it('a WebSocket that ignores the close handshake is cut a second later', async () => {
    const { server, base } = await start({ drainTimeoutMs: 10000 });
    const { socket, status } = await rawWebSocket(base);
    expect(status).toBe(101);
    socket.on('error', () => undefined);
    // never answers the close frame (and never reads)
    const closed = await timeClose(server);
    expect(closed).toBeLessThan(2500);
    socket.destroy();
  }, 15000);

  it('a header drip (Node stops timing headers on close) is cut one request timeout into the drain', async () => {
    const { server, base } = await start({ requestTimeoutMs: 1000, drainTimeoutMs: 20000 });
    const drip = rawHttp(base, ['GET /healthz HTTP/1.1\r\n', ...'X-Slow: abcdefghijklmnopqrstuvwxyz0123456789'.split('')], 200, 8000);
    await new Promise((r) => setTimeout(r, 100));
    const closed = await timeClose(server);
    expect(closed).toBeLessThan(2500);
    await drip;
  }, 15000);

  it('whatever the clients do, close() returns by the drain timeout', async () => {
    const { server, base } = await start({ requestTimeoutMs: 60000, drainTimeoutMs: 1500 });
    const drip = rawHttp(base, ['GET /healthz HTTP/1.1\r\n', ...'X-Slow: abcdefghijklmnopqrstuvwxyz0123456789'.split('')], 200, 8000);
    await new Promise((r) => setTimeout(r, 100));
    const closed = await timeClose(server);
    expect(closed).toBeGreaterThan(1000);
    expect(closed).toBeLessThan(3000);
    await drip;
  }, 15000);

  it('first signal drains, a second exits at once with 1; a drain that overruns hits the backstop', async () => {
    const exits: number[] = [];
    const lines: string[] = [];
    let release!: () => void;
    const never = {
      drainTimeoutMs: 100,
      close: () =>
        new Promise<void>((r) => {
          release = r;
        }),
    };
    const h = shutdownHandler(never, { exit: (c) => exits.push(c), log: (l) => lines.push(l) });
    h('SIGTERM');
    expect(exits).toEqual([]);
    expect(lines[0]).toMatch(/SIGTERM, draining .*at most 100 ms/);
    h('SIGINT');
    expect(exits).toEqual([1]);
    await new Promise((r) => setTimeout(r, 2300)); // drain timeout + 2 s backstop
    expect(exits).toEqual([1, 1]);
    release();
    const ok: number[] = [];
    shutdownHandler({ drainTimeoutMs: 100, close: async () => undefined }, { exit: (c) => ok.push(c), log: () => undefined })('SIGTERM');
    await new Promise((r) => setTimeout(r, 10));
    expect(ok).toEqual([0]);
  });
});

describe('6. internal errors are logged whatever the log level', () => {
  it('a decoder failure is a 500 without detail, and reported though the Fastify logger is off', async () => {
    const fake = fakeDecoder();
    fake.decoder.decode = async () => {
      throw new Error('kaboom in the decoder');
    };
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const { base } = await start({ logger: false }, fake);
      const r = await post(base, fakeStream());
      expect(r.status).toBe(500);
      expect(await r.text()).not.toMatch(/kaboom/);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/internal error \(decode\): Error: kaboom in the decoder/);
    } finally {
      err.mockRestore();
    }
    const seen: unknown[] = [];
    const { base } = await start({ onInternalError: (e) => seen.push(e) }, fake);
    expect((await post(base, fakeStream())).status).toBe(500);
    expect(String(seen[0])).toMatch(/kaboom/);
  });
});

describe('8. CORS and the WebSocket origin', () => {
  it('the preflight allows the deadline header; --cors * answers *; an invalid preflight is problem+json', async () => {
    const { base } = await start({ cors: ['http://app.example'] });
    const pre = await fetch(`${base}/v1/detect`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-webvcm-deadline-ms',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/x-webvcm-deadline-ms/);
    const bad = await fetch(`${base}/v1/detect`, { method: 'OPTIONS', headers: { origin: 'http://app.example' } });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/Invalid Preflight Request/);
    const any = await start({ cors: true });
    for (const origin of ['http://x.example', 'null']) {
      const r = await fetch(`${any.base}/healthz`, { headers: { origin } });
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
    }
  });

  it('/v1/stream: same origin only by default; configured origins as for CORS; any origin with tokens', async () => {
    const { base } = await start();
    const host = new URL(base).host;
    expect((await rawWebSocket(base, '/v1/stream', { origin: 'http://evil.example' })).status).toBe(403);
    const refused = await rawWebSocket(base, '/v1/stream', { origin: 'null' });
    expect(refused.status).toBe(403);
    expect(refused.head).toMatch(/problem\+json/i);
    for (const headers of [{ origin: `http://${host}` }, {}] as Record<string, string>[]) {
      const r = await rawWebSocket(base, '/v1/stream', headers);
      expect(r.status).toBe(101);
      r.socket.destroy();
    }
    const listed = await start({ cors: ['http://app.example'] });
    const ok = await rawWebSocket(listed.base, '/v1/stream', { origin: 'http://app.example' });
    expect(ok.status).toBe(101);
    ok.socket.destroy();
    expect((await rawWebSocket(listed.base, '/v1/stream', { origin: 'http://evil.example' })).status).toBe(403);
    const tok = await start({ tokens: ['t0ken-0123456789'] });
    const withTok = await rawWebSocket(tok.base, '/v1/stream?access_token=t0ken-0123456789', { origin: 'http://elsewhere.example' });
    expect(withTok.status).toBe(101);
    withTok.socket.destroy();
  });
});
