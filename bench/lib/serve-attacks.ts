// The attacks of issue 21 against a running `webvcm serve` (bench/serve.ts --attacks): padding-bypass streams, a
// WebSocket flood from a client that never reads, many connections, a malicious server against the client, and
// slow bodies + a deaf WebSocket during SIGTERM. Each attack runs with valid requests interleaved (checked against the
// reference scores) and server RSS sampled every 250 ms from /metrics: before, peak during, and 3 s after.
// Attackers connect from 127.0.0.2 (another loopback address: the per-address connection cap must not lock out the
// valid client on 127.0.0.1). Only loopback traffic; every loop is bounded by a count and a duration.
import type { ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createRemoteDecoder, RemoteError } from '../../src/client/remote.ts';

export interface AttackTarget {
  base: string;
  port: number;
  valid: Uint8Array;
  /** JSON of the reference scores. */
  ref: string;
  server: ChildProcess;
  /** The drain timeout the server was started with (ms). */
  drainTimeoutMs: number;
  /** The request timeout the server was started with (ms). */
  requestTimeoutMs: number;
}

const ATTACKER = '127.0.0.2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => +(b / 2 ** 20).toFixed(1);

async function rss(base: string): Promise<number> {
  const t = await (await fetch(`${base}/metrics`)).text();
  return Number(/^webvcm_process_resident_memory_bytes (\S+)/m.exec(t)?.[1] ?? NaN);
}
async function metric(base: string, re: RegExp): Promise<number> {
  const t = await (await fetch(`${base}/metrics`)).text();
  return Number(re.exec(t)?.[1] ?? 0);
}

/** Valid requests back to back until `stop()`; a 503 is retried after its Retry-After (at most 5 s), as a client would. */
function validLoop(t: AttackTarget): {
  stop: () => Promise<{ n: number; ok: number; wrong: number; retries: number; p50: number; max: number }>;
} {
  let running = true;
  const lat: number[] = [];
  let ok = 0,
    wrong = 0,
    retries = 0;
  const done = (async () => {
    while (running && lat.length + wrong < 1000) {
      const t0 = performance.now();
      try {
        let r = await fetch(`${t.base}/v1/detect`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: t.valid as BodyInit,
        });
        for (let k = 0; r.status === 503 && k < 10 && running; k++) {
          retries++;
          const ra = Number(r.headers.get('retry-after') ?? 1);
          await r.arrayBuffer();
          await sleep(1000 * Math.min(ra, 5));
          r = await fetch(`${t.base}/v1/detect`, {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body: t.valid as BodyInit,
          });
        }
        if (r.status === 200 && JSON.stringify(((await r.json()) as { scores: number[] }).scores) === t.ref) {
          ok++;
          lat.push(performance.now() - t0);
        } else {
          wrong++;
          await r.arrayBuffer().catch(() => undefined);
        }
      } catch {
        wrong++;
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      lat.sort((a, b) => a - b);
      return {
        n: ok + wrong,
        ok,
        wrong,
        retries,
        p50: Math.round(lat[Math.floor(lat.length / 2)] ?? NaN),
        max: Math.round(lat.at(-1) ?? NaN),
      };
    },
  };
}

/** Run `attack` with RSS sampled and valid requests interleaved; one row of the report. */
async function measured(t: AttackTarget, name: string, attack: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const before = await rss(t.base);
  let peak = before,
    sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        peak = Math.max(peak, await rss(t.base));
      } catch {
        /* refused: next */
      }
      await sleep(250);
    }
  })();
  const v = validLoop(t);
  const t0 = performance.now();
  const result = await attack();
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  const valid = await v.stop();
  sampling = false;
  await sampler;
  await sleep(3000);
  const after = await rss(t.base);
  const row = {
    attack: name,
    s,
    'RSS MB before': mb(before),
    peak: mb(peak),
    after: mb(after),
    'valid ok/n': `${valid.ok}/${valid.n}`,
    'valid p50 ms': valid.p50,
    'valid max ms': valid.max,
    '503 retries': valid.retries,
    ...result,
  };
  console.log(JSON.stringify(row));
  return row;
}

/** The valid stream with its method-1 padding rewritten so that z is `zh`×`zw` (and, optionally, a garbage z string). */
function paddingBypass(valid: Uint8Array, zh: number, zw: number): Uint8Array {
  const b = valid.slice();
  const dv = new DataView(b.buffer);
  const fh = dv.getUint32(44, true),
    fw = dv.getUint32(48, true);
  dv.setUint32(52, 0, true);
  dv.setUint32(56, 0, true);
  dv.setUint32(60, zh * 64 - fh, true);
  dv.setUint32(64, zw * 64 - fw, true);
  dv.setUint32(76, zh, true);
  dv.setUint32(80, zw, true);
  return b;
}

async function paddingAttack(t: AttackTarget, total: number): Promise<Record<string, unknown>> {
  const shapes = [paddingBypass(t.valid, 128, 128), paddingBypass(t.valid, 1182, 1182)];
  const codes: Record<string, number> = {};
  let i = 0,
    slowest = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (i < total && performance.now() - t0 < 120_000) {
      const body = shapes[i++ % 2]!;
      const s = performance.now();
      const r = await fetch(`${t.base}/v1/detect`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: body as BodyInit,
      });
      await r.arrayBuffer();
      slowest = Math.max(slowest, performance.now() - s);
      codes[r.status] = (codes[r.status] ?? 0) + 1;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { answers: JSON.stringify(codes), 'slowest ms': Math.round(slowest) };
}

/** A WebSocket handshake on a raw socket from the attacker address; the socket is then never read. */
async function deafWebSocket(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress: ATTACKER });
  s.on('error', () => undefined);
  await new Promise<void>((r, j) => {
    s.once('connect', () => r());
    s.once('error', j);
  });
  s.write(
    `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
  );
  await new Promise<void>((r) => {
    s.once('data', () => {
      s.pause();
      r();
    });
  });
  return s;
}

function maskedFrame(id: number): Buffer {
  const p = Buffer.alloc(12);
  p.writeUInt32LE(id, 0);
  const out = Buffer.alloc(18);
  out[0] = 0x82;
  out[1] = 0x80 | 12;
  out.writeUInt32BE(0x01020304, 2);
  for (let i = 0; i < 12; i++) out[6 + i] = p[i]! ^ out[2 + (i & 3)]!;
  return out;
}

async function wsFlood(t: AttackTarget, frames: number, maxMs: number): Promise<Record<string, unknown>> {
  const read0 = await metric(t.base, /^webvcm_stream_frames_total (\S+)/m);
  const s = await deafWebSocket(t.port);
  const batch = Buffer.concat(Array.from({ length: 2000 }, (_, i) => maskedFrame(i)));
  let sent = 0,
    closedAt = NaN;
  const t0 = performance.now();
  s.once('close', () => {
    closedAt = performance.now() - t0;
  });
  while (sent < frames && performance.now() - t0 < maxMs && !s.destroyed) {
    if (!s.write(batch)) {
      await new Promise<void>((r) => {
        const done = () => {
          clearTimeout(timer);
          s.off('drain', done);
          r();
        };
        const timer = setTimeout(done, 200);
        s.once('drain', done);
      });
    }
    sent += 2000;
  }
  // the server closes (1008) a client that does not drain; wait for it (bounded), then read nothing more
  for (let k = 0; k < 100 && !s.destroyed && Number.isNaN(closedAt); k++) {
    if ((await metric(t.base, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\S+)/)) > 0) break;
    await sleep(100);
  }
  const evicted = await metric(t.base, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\S+)/);
  s.destroy();
  return {
    'frames sent': sent,
    'frames read by the server': (await metric(t.base, /^webvcm_stream_frames_total (\S+)/m)) - read0,
    'closed as slow-consumer': evicted,
  };
}

async function manyConnections(t: AttackTarget, n: number): Promise<Record<string, unknown>> {
  // n connections from one attacker address, each sending a near-limit body and then stalling
  const held: Socket[] = [];
  const answers: Record<string, number> = {};
  const body = Buffer.alloc((1 << 20) - 4096, 0x41);
  const t0 = performance.now();
  for (let i = 0; i < n && performance.now() - t0 < 20_000; i++) {
    const s = connect({ port: t.port, host: '127.0.0.1', localAddress: ATTACKER });
    s.on('error', () => undefined);
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString();
    });
    s.on('close', () => {
      const c = /^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 'cut';
      answers[c] = (answers[c] ?? 0) + 1;
    });
    s.on('connect', () =>
      s.write(
        Buffer.concat([
          Buffer.from(
            `POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${1 << 20}\r\n\r\n`,
          ),
          body,
        ]),
      ),
    );
    held.push(s);
    if (i % 50 === 49) await sleep(20);
  }
  // hold them until the request timeout has cut every accepted one
  await sleep(t.requestTimeoutMs + 2000);
  for (const s of held) s.destroy();
  await sleep(200);
  return { connections: held.length, answers: JSON.stringify(answers) };
}

/** A malicious server on 127.0.0.1 against createRemoteDecoder (and `webvcm encode --send` for two cases). */
async function maliciousServer(valid: Uint8Array): Promise<Record<string, unknown>[]> {
  const cases: Record<string, (res: ServerResponse) => void> = {
    'stalled body': (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"scores":');
    },
    '1.5 GB body': (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let n = 0;
      const more = () => {
        while (n < 1500 && !res.destroyed) {
          n++;
          if (!res.write(chunk)) {
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
    },
    'malformed 200': (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"scores":[1],"boxes":"x"}');
    },
    'Retry-After 99999999999': (res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '99999999999' });
      res.end('{"title":"busy"}');
    },
    'ANSI/OSC in the problem': (res) => {
      res.writeHead(400, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ title: '\u001b]0;owned\u0007\u001b[2JBad', detail: '\u001b[31mred\u001b[0m\u0007' }));
    },
  };
  const srv = createHttpServer((req, res) => {
    req.resume();
    cases[decodeURIComponent(String(req.headers['x-case']))]?.(res);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  const rows: Record<string, unknown>[] = [];
  try {
    for (const name of Object.keys(cases)) {
      const f: typeof fetch = (u, init) =>
        fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), 'x-case': encodeURIComponent(name) } });
      const c = createRemoteDecoder({ url, fetch: f, timeoutMs: 5000 });
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const e = await c.decode(valid).then(
        () => null,
        (x: unknown) => x,
      );
      rows.push({
        case: name,
        ms: Math.round(performance.now() - t0),
        'client RSS +MB': mb(process.memoryUsage().rss - rss0),
        error: e instanceof RemoteError ? `RemoteError ${e.problemType}` : e ? `${(e as Error).name} (untyped)` : 'none',
        retryAfterS: e instanceof RemoteError ? (e.retryAfterS ?? '') : '',
        // eslint-disable-next-line no-control-regex
        'control chars in message': e instanceof Error ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(e.message) : '',
      });
    }
  } finally {
    srv.closeAllConnections();
    srv.close();
  }
  return rows;
}

/** Slow bodies, a header drip and a WebSocket that ignores the close, then SIGTERM: time to exit and its code. */
async function sigtermUnderAttack(t: AttackTarget): Promise<Record<string, unknown>> {
  const socks: Socket[] = [];
  for (let i = 0; i < 8; i++) {
    const s = connect({ port: t.port, host: '127.0.0.1', localAddress: ATTACKER });
    s.on('error', () => undefined);
    s.on('connect', () =>
      s.write(`POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`),
    );
    const drip = setInterval(() => {
      if (!s.destroyed) s.write('x');
      else clearInterval(drip);
    }, 1000);
    s.once('close', () => clearInterval(drip));
    socks.push(s);
  }
  const h = connect({ port: t.port, host: '127.0.0.1', localAddress: ATTACKER });
  h.on('error', () => undefined);
  h.on('connect', () => h.write('GET /healthz HTTP/1.1\r\n'));
  const hd = setInterval(() => {
    if (!h.destroyed) h.write('X');
    else clearInterval(hd);
  }, 500);
  socks.push(h);
  socks.push(await deafWebSocket(t.port));
  // a valid request in flight at the signal must still be answered
  const inflight = fetch(`${t.base}/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: t.valid as BodyInit,
  }).then(
    async (r) => r.status === 200 && JSON.stringify(((await r.json()) as { scores: number[] }).scores) === t.ref,
    () => false,
  );
  await sleep(500);
  const t0 = performance.now();
  const exited = new Promise<number | null>((r) => t.server.once('exit', (c) => r(c)));
  t.server.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(t.drainTimeoutMs + 10_000).then(() => 'still running')]);
  const ms = performance.now() - t0;
  clearInterval(hd);
  for (const s of socks) s.destroy();
  return {
    'SIGTERM to exit ms': Math.round(ms),
    'exit code': String(code),
    'drain timeout ms': t.drainTimeoutMs,
    'request in flight answered': await inflight,
  };
}

export interface AttackOptions {
  paddingRequests: number;
  wsFrames: number;
  wsMaxMs: number;
  connections: number;
}

/** Every attack in turn; the last one (SIGTERM) stops the server. */
export async function runAttacks(t: AttackTarget, o: AttackOptions): Promise<void> {
  console.log('\n## attacks (issue 21): server RSS before / peak during / 3 s after, valid requests interleaved');
  const rows = [];
  rows.push(await measured(t, `padding bypass ×${o.paddingRequests}`, () => paddingAttack(t, o.paddingRequests)));
  rows.push(await measured(t, 'WebSocket flood, never read', () => wsFlood(t, o.wsFrames, o.wsMaxMs)));
  rows.push(await measured(t, `${o.connections} connections, near-limit bodies`, () => manyConnections(t, o.connections)));
  console.table(rows);
  console.log('\n## a malicious server against createRemoteDecoder');
  console.table(await maliciousServer(t.valid));
  console.log('\n## SIGTERM with 8 slow bodies (1 B/s), a header drip and a WebSocket that ignores the close');
  console.table([await sigtermUnderAttack(t)]);
}
