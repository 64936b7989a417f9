// Receiver service benchmark (docs/serve.md): spawns `webvcm serve` on 127.0.0.1, then
//   1. load: autocannon POST /v1/detect with one valid stream at concurrency 1, 4, 16 (throughput, p50/p99, codes);
//   2. soak: valid requests back to back, RSS and GPU buffer count (from /metrics) sampled along the way;
//   3. hostile: random / truncated / bit-flipped streams, absurd header sizes, oversize bodies, wrong content types,
//      slow-drip bodies, garbage WebSocket frames and frames after close, with valid requests interleaved and checked;
//   4. attacks (bench/lib/serve-attacks.ts): padding-bypass streams, a WebSocket flood that is never read, many
//      connections with near-limit bodies, a malicious server against the client, SIGTERM under slow bodies.
//   npx tsx bench/serve.ts [--per-conn 4] [--soak 200] [--soak-minutes 60] [--hostile 10000] [--port 18900] [--queue 4]
//     [--skip-load] [--skip-hostile] [--skip-attacks] [--attack-padding 2000] [--attack-ws-frames 2000000]
//     [--attack-connections 1000] [--min-size N --max-size M]
// The stream is the bundled example (weights/world/example.png) at the bundled detector's own input size, or resized
// to --min-size/--max-size (a smaller frame decodes faster: how a 10^4-request soak fits in an hour on a CPU).
// Only 127.0.0.1 traffic. Every phase is bounded by a count or a duration.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { runAttacks } from './lib/serve-attacks.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? Number(process.argv[i + 1]) : def;
}
const PER_CONN = arg('per-conn', 4); // requests per connection in each load phase
const SOAK = arg('soak', 200);
const HOSTILE = arg('hostile', 10000);
const PORT = arg('port', 18900);
const SOAK_MINUTES = arg('soak-minutes', 60); // the soak also stops after this long (the count reached is printed)
const QUEUE = arg('queue', 4);
const SKIP_LOAD = process.argv.includes('--skip-load');
const SKIP_HOSTILE = process.argv.includes('--skip-hostile');
const MIN_SIZE = arg('min-size', 0); // 0: the detector's own sizes
const MAX_SIZE = arg('max-size', 0);
const sizeArgs = [...(MIN_SIZE ? ['--min-size', String(MIN_SIZE)] : []), ...(MAX_SIZE ? ['--max-size', String(MAX_SIZE)] : [])];
const VALID_EVERY = arg('valid-every', 200); // hostile run: one checked valid request every N
const PAYLOAD_FLIPS = arg('payload-flips', 1); // 0: bit flips only in the header (flipped payloads decode on the GPU)
const SKIP_ATTACKS = process.argv.includes('--skip-attacks');
const BODY_LIMIT = 1 << 20;
const REQUEST_TIMEOUT_MS = 3000;
const DRAIN_TIMEOUT_MS = 10000;
const BASE = `http://127.0.0.1:${PORT}`;

/** Start `webvcm serve`; it compiles its pipelines for a warmUp (H×W) image at the same resize before it reports ready. */
async function startServer(warmUp: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'bin/webvcm.js',
      'serve',
      '--port',
      String(PORT),
      '--queue',
      String(QUEUE),
      '--body-limit',
      String(BODY_LIMIT),
      '--request-timeout-ms',
      String(REQUEST_TIMEOUT_MS),
      '--drain-timeout-ms',
      String(DRAIN_TIMEOUT_MS),
      '--stream-pending',
      '1',
      '--warmup-size',
      warmUp,
      ...sizeArgs,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout!.on('data', (d: Buffer) => process.stderr.write(`[server] ${d}`));
  const t0 = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${BASE}/healthz`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (performance.now() - t0 > 300_000) throw new Error('server not ready after 300 s');
  }
  console.log(`server ready after ${((performance.now() - t0) / 1000).toFixed(1)} s (warm-up included)`);
  return child;
}

async function metrics(): Promise<{ rss: number; live: number; free: number; gpuS: number }> {
  const t = await (await fetch(`${BASE}/metrics`)).text();
  const g = (re: RegExp) => Number(re.exec(t)?.[1] ?? NaN);
  return {
    rss: g(/^webvcm_process_resident_memory_bytes (\S+)/m),
    live: g(/^webvcm_gpu_buffers\{state="live"\} (\S+)/m),
    free: g(/^webvcm_gpu_buffers\{state="free"\} (\S+)/m),
    gpuS: g(/^webvcm_gpu_seconds_total (\S+)/m),
  };
}

const post = (body: Uint8Array | string, ct = 'application/octet-stream') =>
  fetch(`${BASE}/v1/detect`, { method: 'POST', headers: { 'content-type': ct }, body: body as BodyInit });

interface CannonResult {
  requests: { total: number };
  duration: number;
  latency: { p50: number; p99: number };
  statusCodeStats?: Record<string, { count: number }>;
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Cannon = (o: Record<string, unknown>) => Promise<CannonResult>;

async function load(body: Uint8Array, connections: number): Promise<Record<string, number | string>> {
  const autocannon = ((await import('autocannon' as string)) as { default: Cannon }).default;
  const r = await autocannon({
    url: `${BASE}/v1/detect`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(body),
    connections,
    amount: connections * PER_CONN,
    timeout: 300,
  });
  const codes: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) codes[k] = v.count;
  return {
    concurrency: connections,
    requests: r.requests.total,
    s: +r.duration.toFixed(1),
    'req/s': +(r.requests.total / r.duration).toFixed(3),
    'p50 ms': r.latency.p50,
    'p99 ms': r.latency.p99,
    codes: JSON.stringify(codes),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

/** A body that arrives a byte every 400 ms: the server must cut it off (408 or close) after its request timeout. */
function slowDrip(): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(PORT, '127.0.0.1');
    let out = '';
    let timer: ReturnType<typeof setInterval> | null = null;
    sock.on('connect', () => {
      sock.write(`POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n`);
      timer = setInterval(() => {
        if (!sock.destroyed) sock.write('W');
      }, 400);
    });
    sock.on('data', (d) => {
      out += d.toString();
    });
    const end = () => {
      if (timer) clearInterval(timer);
      resolve(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 'closed');
    };
    sock.on('close', end);
    sock.on('error', () => {});
    setTimeout(() => sock.destroy(), 15000);
  });
}

async function main(): Promise<void> {
  // one valid stream and its expected detections (the server's own answer is checked for stability)
  // Encoded by the CLI in a child process: a Dawn instance left in this process keeps a core busy polling (seen: the
  // bench at 86 % CPU), which halved the server's share of a 2-core box and turned every decode into a 504.
  const tmp = mkdtempSync(join(tmpdir(), 'webvcm-bench-serve-'));
  const encRun = spawnSync(
    process.execPath,
    ['bin/webvcm.js', 'encode', 'weights/world/example.png', '-o', join(tmp, 'example.vcm'), '--mode', 'portable', ...sizeArgs, '--json'],
    { encoding: 'utf8' },
  );
  if (encRun.status !== 0) throw new Error(`encode failed: ${encRun.stderr}`);
  const valid = new Uint8Array(readFileSync(join(tmp, 'example.vcm')));
  const sizes = (JSON.parse(encRun.stdout) as { sizes: { original: [number, number]; resized: [number, number] } }).sizes;
  const hxw = ([w, h]: [number, number]) => `${h}x${w}`; // the CLI reports [W, H]; the server takes H×W
  const server = await startServer(hxw(sizes.original));
  try {
    const first = await post(valid);
    if (first.status !== 200) throw new Error(`the reference request failed: ${first.status} ${await first.text()}`);
    const ref = JSON.stringify(((await first.json()) as { scores: number[] }).scores);
    console.log(
      `adapter: server process (webvcm serve, bundled weights); stream ${valid.length} bytes, image ${hxw(sizes.original)} resized to ${hxw(sizes.resized)} (H×W)`,
    );

    console.log(`\n## load (${PER_CONN} requests per connection)`);
    const rows = [];
    if (!SKIP_LOAD) for (const c of [1, 4, 16]) rows.push(await load(valid, c));
    console.table(rows);

    console.log(`\n## soak: up to ${SOAK} valid requests or ${SOAK_MINUTES} min, concurrency 4 (a 503 is retried after its Retry-After)`);
    const samples: { n: number; min: number; ok: number; r503: number; rssMB: number; live: number; free: number }[] = [];
    let bad = 0,
      n = 0,
      ok = 0,
      r503 = 0;
    const tSoak = performance.now();
    const minutes = () => +((performance.now() - tSoak) / 60000).toFixed(1);
    const sample = async () => {
      const m = await metrics();
      samples.push({ n, min: minutes(), ok, r503, rssMB: +(m.rss / 2 ** 20).toFixed(1), live: m.live, free: m.free });
    };
    await sample();
    let nextSample = 60_000;
    const worker = async () => {
      while (n < SOAK && performance.now() - tSoak < SOAK_MINUTES * 60_000) {
        n++;
        const r = await post(valid);
        if (r.status === 503) {
          r503++;
          const ra = Number(r.headers.get('retry-after') ?? 1);
          await r.arrayBuffer();
          await new Promise((res) => setTimeout(res, 1000 * Math.min(ra, 5)));
        } else if (r.status !== 200) {
          bad++;
          await r.arrayBuffer();
        } else if (JSON.stringify(((await r.json()) as { scores: number[] }).scores) !== ref) bad++;
        else ok++;
        if (performance.now() - tSoak > nextSample) {
          nextSample += 60_000 * Math.max(1, Math.round(SOAK_MINUTES / 10));
          await sample();
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await sample();
    console.table(samples);
    console.log(`soak: ${n} requests in ${minutes()} min: ${ok} correct 200s, ${r503} designed 503s, ${bad} wrong or failed answers`);

    if (!SKIP_HOSTILE) await hostile(valid, ref, server);
    if (!SKIP_ATTACKS) {
      await runAttacks(
        { base: BASE, port: PORT, valid, ref, server, drainTimeoutMs: DRAIN_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
        {
          paddingRequests: arg('attack-padding', 2000),
          wsFrames: arg('attack-ws-frames', 2_000_000),
          wsMaxMs: 20_000,
          connections: arg('attack-connections', 1000),
        },
      );
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  }
}

async function hostile(valid: Uint8Array, ref: string, server: ChildProcess): Promise<void> {
  {
    console.log(`\n## hostile: ${HOSTILE} requests, a valid one every ${VALID_EVERY}th (checked)`);
    const r = rng(7);
    const kinds: Record<string, Record<string, number>> = {};
    const count = (k: string, code: number | string) => {
      (kinds[k] ??= {})[String(code)] = ((kinds[k] ??= {})[String(code)] ?? 0) + 1;
    };
    const hs: { n: number; rssMB: number; live: number; free: number }[] = [];
    let validWrong = 0,
      validRetried = 0,
      i = 0;
    const m1 = await metrics();
    hs.push({ n: 0, rssMB: +(m1.rss / 2 ** 20).toFixed(1), live: m1.live, free: m1.free });
    const one = async (k: number) => {
      const kind =
        k % VALID_EVERY === 0
          ? 'valid'
          : ['random', 'truncated', 'header-bitflip', 'absurd-size', 'oversize', 'content-type', 'empty', 'payload-bitflip'][
              Math.floor(r() * 8)
            ]!;
      let body: Uint8Array | string = valid;
      let ct = 'application/octet-stream';
      if (kind === 'random') body = crypto.getRandomValues(new Uint8Array(1 + Math.floor(r() * 4000)));
      else if (kind === 'truncated') body = valid.subarray(0, Math.floor(r() * valid.length));
      else if (kind === 'header-bitflip') {
        body = valid.slice();
        body[Math.floor(r() * 92)]! ^= 1 << Math.floor(r() * 8);
      } else if (kind === 'payload-bitflip') {
        // decodes to other (garbage) features when the rANS state stays valid: the format has no checksum; kept rare
        if (!PAYLOAD_FLIPS || r() < 0.97) {
          body = valid.slice();
          body[Math.floor(r() * 24)]! ^= 0x80;
        } else {
          body = valid.slice();
          body[92 + Math.floor(r() * (valid.length - 92))]! ^= 1 << Math.floor(r() * 8);
        }
      } else if (kind === 'absurd-size') {
        body = valid.slice();
        new DataView(body.buffer).setUint32(24 + 4 * Math.floor(r() * 6), 0xfffffff0 - Math.floor(r() * 1000), true);
      } else if (kind === 'oversize') body = new Uint8Array(BODY_LIMIT + 1 + Math.floor(r() * 1000));
      else if (kind === 'content-type') ct = ['text/plain', 'application/json', 'multipart/form-data; boundary=x'][Math.floor(r() * 3)]!;
      else if (kind === 'empty') body = new Uint8Array(0);
      try {
        let res = await post(body, ct);
        if (kind === 'valid') {
          // a valid request is retried after Retry-After while the server is busy with the GPU-bound hostile traffic
          // (flipped streams that still decode), as a client would; it must then come back correct
          for (let t = 0; res.status === 503 && t < 30; t++) {
            validRetried++;
            const ra = Number(res.headers.get('retry-after') ?? 1);
            await res.arrayBuffer();
            await new Promise((r) => setTimeout(r, 1000 * Math.min(ra, 5)));
            res = await post(body, ct);
          }
          if (res.status !== 200 || JSON.stringify(((await res.json()) as { scores: number[] }).scores) !== ref) validWrong++;
        } else await res.arrayBuffer();
        count(kind, res.status);
      } catch (e) {
        count(kind, `error:${(e as Error).message}`);
      }
    };
    const drips = Array.from({ length: 8 }, () => slowDrip().then((c) => count('slow-drip', c)));
    const hw = async () => {
      while (i < HOSTILE) {
        const k = i++;
        await one(k);
        if (k > 0 && k % Math.floor(HOSTILE / 5) === 0) {
          const m = await metrics();
          hs.push({ n: k, rssMB: +(m.rss / 2 ** 20).toFixed(1), live: m.live, free: m.free });
        }
      }
    };
    // WebSocket: garbage frames and frames after close
    const { WebSocket: WS } = (await import('ws')) as unknown as { WebSocket: typeof WebSocket };
    const wsRun = async () => {
      for (let j = 0; j < 50; j++) {
        const ws = new WS(`${BASE.replace('http', 'ws')}/v1/stream`);
        await new Promise<void>((res) => {
          ws.onopen = () => res();
          ws.onerror = () => res();
        });
        const replies: string[] = [];
        ws.onmessage = (ev) => replies.push(String(ev.data));
        ws.send(crypto.getRandomValues(new Uint8Array(Math.floor(r() * 3000))));
        ws.send('garbage text');
        ws.send(new Uint8Array(2));
        await new Promise((res) => setTimeout(res, 50));
        ws.close();
        try {
          ws.send(valid);
        } catch {
          /* send after close: refused by the client library */
        }
        await new Promise((res) => setTimeout(res, 20));
        count('ws-garbage', replies.every((x) => /"type":"(error|dropped)"/.test(x)) ? 'errors-only' : 'other');
      }
    };
    await Promise.all([hw(), hw(), hw(), hw(), hw(), hw(), hw(), hw(), wsRun(), ...drips]);
    const m2 = await metrics();
    hs.push({ n: HOSTILE, rssMB: +(m2.rss / 2 ** 20).toFixed(1), live: m2.live, free: m2.free });
    console.table(Object.entries(kinds).map(([k, v]) => ({ kind: k, ...v })));
    console.table(hs);
    const okAfter = await post(valid);
    console.log(
      `hostile: ${validWrong} interleaved valid requests wrong (${validRetried} retries after a 503); server ${server.exitCode === null ? 'up' : 'DOWN'}; a valid request afterwards: ${okAfter.status}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
