// `webvcm serve [--port 8787] [--host 127.0.0.1] [--detector ckpt] [--codec ckpt]... [--cors origins] [--tokens-file f]`
// The receiver as a service (src/serve/server.ts, docs/serve.md). Tokens come from --tokens-file (one per line) or
// the environment variable named by --tokens-env (default WEBVCM_TOKENS, comma-separated). SIGTERM/SIGINT drain.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { createServer } from '../serve/server.ts';
import type { AdapterChoice } from '../api/runtime.ts';
import { shutdownHandler } from '../serve/signals.ts';
import { DEFAULT_CODEC, DEFAULT_DETECTOR, UsageError, adapterArg, posInt, precisionArg, timerMs } from './defaults.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
function logLevel(v: string): string {
  if (!LOG_LEVELS.includes(v)) throw new InvalidArgumentError(`expected one of ${LOG_LEVELS.join(', ')}`);
  return v;
}
function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
function nonNeg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`expected a non-negative integer, got '${v}'`);
  return n;
}

export interface ServeCliOptions {
  port: number;
  host: string;
  detector: string;
  codec?: string[];
  cors?: string;
  tokensFile?: string;
  tokensEnv: string;
  warmupSize?: string[];
  minSize?: number;
  maxSize?: number;
  bodyLimit: number;
  queue: number;
  deadlineMs: number;
  requestTimeoutMs: number;
  streamPending: number;
  precision: 'f32' | 'f16';
  adapter: AdapterChoice;
  drainTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  streamBufferBytes: number;
  streamStallMs: number;
  logLevel: string;
}

export function readTokens(o: Pick<ServeCliOptions, 'tokensFile' | 'tokensEnv'>): string[] {
  const list: string[] = [];
  if (o.tokensFile) {
    let text: string;
    try {
      text = readFileSync(o.tokensFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--tokens-file ${o.tokensFile}: ${(e as Error).message}`);
    }
    list.push(
      ...text
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter((s) => s && !s.startsWith('#')),
    );
    if (!list.length) throw new UsageError(`--tokens-file ${o.tokensFile} holds no tokens`);
  }
  const env = process.env[o.tokensEnv];
  if (env)
    list.push(
      ...env
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  return list;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'serve detections for .vcm streams over HTTP and WebSocket (POST /v1/detect, GET /v1/stream, /v1/models, /healthz, /metrics)',
    )
    .option('--port <n>', 'TCP port (0 = any free one)', nonNeg, 8787)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--detector <ckpt>', 'detector checkpoint; default: bundled', DEFAULT_DETECTOR)
    .option('--codec <ckpt>', 'codec checkpoint (repeat for several rate points); default: bundled', collect)
    .option('--cors <origins>', "allowed origins: '*' or a comma-separated list (default: no CORS)")
    .option('--tokens-file <file>', 'bearer tokens, one per line (auth is off without tokens)')
    .option('--tokens-env <name>', 'environment variable with comma-separated bearer tokens', 'WEBVCM_TOKENS')
    .option('--body-limit <bytes>', 'largest request body / stream frame', posInt, 4 << 20)
    .option('--queue <n>', 'requests that may wait for the GPU before 503', nonNeg, 16)
    .option('--deadline-ms <n>', 'per-request deadline (504 after it)', timerMs, 30000)
    .option('--request-timeout-ms <n>', 'time allowed to receive a request (slow bodies get 408)', timerMs, 10000)
    .option('--warmup-size <HxW>', 'image size to compile pipelines for before ready (repeatable; default 480x640)', collect)
    .option('--min-size <n>', "the encoders' short-side resize, for the warm-up", posInt)
    .option('--max-size <n>', "the encoders' long-side cap, for the warm-up", posInt)
    .option(
      '--drain-timeout-ms <n>',
      'on SIGTERM/SIGINT: time for queued work, arriving bodies and WebSockets before every connection is cut (a second signal exits at once)',
      timerMs,
      30000,
    )
    .option('--max-connections <n>', 'open connections beyond which new ones get 503', posInt, 256)
    .option('--max-connections-per-ip <n>', 'the same per client address', posInt, 64)
    .option(
      '--stream-buffer-bytes <n>',
      'WebSocket replies a client may leave unread before the server stops reading its frames',
      posInt,
      1 << 20,
    )
    .option('--stream-stall-ms <n>', 'how long a WebSocket client may stay over --stream-buffer-bytes before it is closed', timerMs, 5000)
    .option(
      '--log-level <level>',
      'Fastify log level (fatal|error|warn|info|debug|silent); internal errors are reported on stderr whatever it is',
      logLevel,
      'warn',
    )
    .option('--stream-pending <n>', 'WebSocket frames that may wait per connection before the oldest is dropped', nonNeg, 1)
    .option('--adapter <name>', 'auto | lavapipe | swiftshader | system', adapterArg, 'auto')
    .option('--precision <p>', "detector precision: f32 (default) or f16 (needs 'shader-f16'; the codec stays f32)", precisionArg, 'f32')
    .action(async (o: ServeCliOptions) => {
      const tokens = readTokens(o);
      const corsOpt =
        o.cors === undefined
          ? false
          : o.cors.trim() === '*'
            ? true
            : o.cors
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean);
      const sizes = (o.warmupSize ?? []).map((v) => {
        const m = /^(\d+)x(\d+)$/.exec(v.trim());
        if (!m || +m[1]! <= 0 || +m[2]! <= 0) throw new UsageError(`--warmup-size must be HxW (e.g. 480x640), got '${v}'`);
        return [Number(m[1]), Number(m[2])] as [number, number];
      });
      const t0 = performance.now();
      const server = await createServer({
        detector: o.detector,
        codecs: o.codec?.length ? o.codec : [DEFAULT_CODEC],
        bodyLimit: o.bodyLimit,
        queueLimit: o.queue,
        deadlineMs: o.deadlineMs,
        requestTimeoutMs: o.requestTimeoutMs,
        tokens,
        cors: corsOpt,
        streamPending: o.streamPending,
        precision: o.precision,
        adapter: o.adapter,
        drainTimeoutMs: o.drainTimeoutMs,
        maxConnections: o.maxConnections,
        maxConnectionsPerIp: o.maxConnectionsPerIp,
        streamBufferBytes: o.streamBufferBytes,
        streamStallMs: o.streamStallMs,
        logger: o.logLevel === 'silent' ? false : { level: o.logLevel },
        warmup: { sizes: sizes.length ? sizes : undefined, minSize: o.minSize, maxSize: o.maxSize },
      });
      const address = await server.listen(o.port, o.host);
      process.stdout.write(
        `webvcm serve: listening on ${address} (codecs ${server.fingerprints.join(', ')}; auth ${tokens.length ? 'on' : 'off'}); warming up…\n`,
      );
      const onSignal = shutdownHandler(
        server,
        {
          exit: (code) => process.exit(code),
          log: (line) => process.stdout.write(line + '\n'),
        },
        () => ` ${server.queue.depth + (server.queue.busy ? 1 : 0)} request(s)`,
      );
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      await server.warmup();
      process.stdout.write(`webvcm serve: ready after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      await new Promise<void>(() => {
        /* runs until a signal */
      });
    });
}
