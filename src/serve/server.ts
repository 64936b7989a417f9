/**
 * `webvcm serve`: the receiver as an HTTP/WebSocket service (docs/serve.md).
 *
 *   POST /v1/detect   body: a .vcm stream → the detections JSON of `webvcm decode` + class names + server timings
 *   GET  /v1/stream   WebSocket: binary frames (u32le frame id + .vcm) in, one JSON message per frame out, in order
 *   GET  /v1/models   what is served (kind, fingerprint, C/N/M, methods)
 *   GET  /healthz     200 when warm (pipelines compiled), 503 before and while draining
 *   GET  /metrics     Prometheus text (prom-client)
 *
 * One GPU device, one bounded queue (503 + Retry-After when full), a deadline per request (504), a body limit
 * (413), errors as application/problem+json, optional bearer tokens (constant-time compare), configurable CORS.
 * A stream selects its codec by the container's weights fingerprint; unknown fingerprints get 409.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createDecoder, createEncoder, type VcmDecoder } from '../api/index.ts';
import { CONTAINER_HEADER_BYTES, ContainerError, readContainer } from '../coder/container.ts';
import { COCO_CLASS_NAMES } from '../eval/coco-categories.ts';
import { toHex } from '../model/weights/hash.ts';
import type { CodecWeights, DetectorWeights } from '../model/weights/types.ts';
import type { DetectorConfig } from '../model/detector/types.ts';
import { MAX_TIMER_MS } from '../util/timer.ts';
import { DeadlineError, QueueFullError, WorkQueue } from './queue.ts';

export interface ServeOptions {
  /** Detector weights (path/URL/bytes or loaded). */
  detector: string | Uint8Array | DetectorWeights;
  /** One codec per rate point. */
  codecs: (string | Uint8Array | CodecWeights)[];
  /** Largest request body / WebSocket frame in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** Requests that may wait for the device (default 16); beyond it: 503 + Retry-After. */
  queueLimit?: number;
  /** Per-request deadline in ms, from arrival to reply (default 30000). */
  deadlineMs?: number;
  /** Whole-request receive timeout in ms (slow-drip bodies get 408; default 10000). */
  requestTimeoutMs?: number;
  /** Bearer tokens; empty or undefined = no auth. */
  tokens?: string[];
  /** CORS origins: true = any, a list, or false (default) = none. */
  cors?: boolean | string[];
  /** WebSocket: frames per connection that may wait behind the one being decoded (default 1). */
  streamPending?: number;
  /**
   * WebSocket output a client may leave unread, bytes (default 1 MiB). Beyond it the server stops reading the
   * client's frames until the output drains; a client that does not drain it within `streamStallMs` is told so
   * (an error message, `slow-consumer`) and closed (1008).
   */
  streamBufferBytes?: number;
  /** How long a WebSocket client may leave its output over `streamBufferBytes` before it is closed (default 5000 ms). */
  streamStallMs?: number;
  /** Open connections (HTTP and WebSocket) beyond which new ones get 503 `too-many-connections` (default 256). */
  maxConnections?: number;
  /** The same per client address (default 64). */
  maxConnectionsPerIp?: number;
  /**
   * close() (SIGTERM): how long queued work, bodies still arriving and WebSockets may take before every connection
   * is cut (default 30000 ms). Deadlines and the request timeout keep running meanwhile.
   */
  drainTimeoutMs?: number;
  /** Where internal errors (500s) go when the Fastify logger is off or above 'error' (default: one line on stderr). */
  onInternalError?: (err: unknown, where: string) => void;
  /** Detector settings for every decode (e.g. fewer proposals for speed); Detectron2 defaults otherwise. */
  detectorConfig?: Partial<DetectorConfig>;
  /** Largest resized image (h·w pixels) a stream may ask the detector to run on (default 4·2^20). */
  maxPixels?: number;
  /** Image sizes [h, w] (and the encoders' resize settings) to compile pipelines for before /healthz is ready; default 480x640. */
  warmup?: { sizes?: [number, number][]; minSize?: number; maxSize?: number };
  /** Detector precision after the split: 'f32' (default) or 'f16' (needs 'shader-f16'; the codec stays f32). */
  precision?: 'f32' | 'f16';
  /** Skip the warm-up decode (tests of the not-ready state). */
  skipWarmup?: boolean;
  /** Fastify's logger: false (default), true, or pino options such as { level: 'warn' }. */
  logger?: boolean | { level: string };
  /**
   * Decoders built by the caller (one per codec), used instead of loading `detector`/`codecs`; the caller keeps
   * ownership (close() does not dispose them). For applications that share a device, and for tests.
   */
  decoders?: VcmDecoder[];
}

const TIMER_LIMITS = ['deadlineMs', 'requestTimeoutMs', 'streamStallMs', 'drainTimeoutMs'] as const;

/** Every limit an integer in its range; the millisecond ones within the timer range. Throws RangeError naming it. */
export function checkLimits(o: Partial<Record<'bodyLimit' | 'maxPixels' | 'queueLimit' | 'streamPending' | 'streamBufferBytes' | 'maxConnections' | 'maxConnectionsPerIp' | (typeof TIMER_LIMITS)[number], number>>): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const min = k === 'queueLimit' || k === 'streamPending' ? 0 : 1;
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${k} must be ${min ? 'a positive' : 'a non-negative'} integer, got ${String(v)}`);
    if ((TIMER_LIMITS as readonly string[]).includes(k) && v > MAX_TIMER_MS) {
      throw new RangeError(`${k} must be at most ${MAX_TIMER_MS} ms (the largest timer delay, about 24.8 days), got ${v}`);
    }
  }
}

const kRefused = Symbol('webvcm.refused');
const kBodyTimer = Symbol('webvcm.bodyTimer');

/** A whole HTTP/1.1 response carrying a problem, for the paths where no Fastify reply exists (parser errors). */
function rawProblemResponse(p: HttpProblem): string {
  const body = JSON.stringify(p.toJSON());
  const reason = STATUS_CODES[p.status] ?? 'Error';
  return `HTTP/1.1 ${p.status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export interface Problem { type: string; title: string; status: number; detail?: string; [k: string]: unknown }

const PROBLEM_BASE = 'https://webvcm.dev/problems/';

export class HttpProblem extends Error {
  constructor(readonly status: number, readonly slug: string, readonly title: string, detail: string, readonly extra: Record<string, unknown> = {}, readonly headers: Record<string, string> = {}) {
    super(detail);
  }
  toJSON(): Problem { return { type: PROBLEM_BASE + this.slug, title: this.title, status: this.status, detail: this.message, ...this.extra }; }
}

interface Served { fp: string; decoder: VcmDecoder; owned: boolean }

/** What the stream handler uses of a `ws` WebSocket. */
interface StreamSocket {
  readonly OPEN: number;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  pause(): void;
  resume(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(ev: 'close', fn: () => void): void;
  on(ev: 'message', fn: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
}

export interface DetectReply {
  boxes: number[][];
  scores: number[];
  classes: number[];
  names: string[];
  sizes: { original: [number, number]; resized: [number, number]; padded: [number, number] };
  fingerprint: string;
  timings: Record<string, number>;
}

function digest(s: string | Buffer): Buffer { return createHash('sha256').update(s).digest(); }

/** Constant-time membership test of a presented token against the configured ones (compares SHA-256 digests). */
export function tokenMatches(presented: string, tokens: readonly Buffer[]): boolean {
  const d = digest(presented);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(d, t) || ok;
  return ok;
}

/** The only media types /v1/detect parses; every other one is a 415 with this hint. */
const VCM_MEDIA_TYPES = ['application/octet-stream', 'application/vnd.webvcm'] as const;
const VCM_MEDIA_HINT = `send the .vcm stream as ${VCM_MEDIA_TYPES[0]} (or ${VCM_MEDIA_TYPES[1]})`;

export class VcmServer {
  readonly app: FastifyInstance;
  readonly registry = new Registry();
  readonly queue: WorkQueue;
  private served: Served[] = [];
  private detectorWeights: DetectorWeights | null = null;
  private ready = false;
  private draining = false;
  readonly opts: Required<Omit<ServeOptions, 'tokens' | 'cors' | 'logger' | 'skipWarmup' | 'detectorConfig' | 'warmup' | 'decoders' | 'onInternalError'>> & Pick<ServeOptions, 'tokens' | 'cors' | 'logger' | 'skipWarmup' | 'detectorConfig' | 'warmup' | 'decoders' | 'onInternalError'>;
  private readonly tokenDigests: Buffer[];
  private m!: {
    requests: Counter<'route' | 'status'>;
    latency: Histogram<'route'>;
    depth: Gauge;
    gpu: Counter;
    buffers: Gauge<'state'>;
    dropped: Counter<'reason'>;
    frames: Counter;
    streamClosed: Counter<'reason'>;
    refused: Counter<'reason'>;
  };
  private readonly sockets = new Set<StreamSocket>();
  private readonly connections = new Set<Socket>();

  constructor(o: ServeOptions) {
    if (!(o.decoders ?? o.codecs).length) throw new RangeError('serve needs at least one codec');
    this.opts = {
      bodyLimit: 4 << 20, maxPixels: 4 << 20, queueLimit: 16, deadlineMs: 30000, requestTimeoutMs: 10000, streamPending: 1,
      streamBufferBytes: 1 << 20, streamStallMs: 5000, maxConnections: 256, maxConnectionsPerIp: 64, drainTimeoutMs: 30000, ...o,
    } as VcmServer['opts'];
    const { bodyLimit, maxPixels, queueLimit, deadlineMs, requestTimeoutMs, streamPending, streamBufferBytes, streamStallMs, maxConnections, maxConnectionsPerIp, drainTimeoutMs } = this.opts;
    checkLimits({ bodyLimit, maxPixels, queueLimit, deadlineMs, requestTimeoutMs, streamPending, streamBufferBytes, streamStallMs, maxConnections, maxConnectionsPerIp, drainTimeoutMs });
    this.tokenDigests = (o.tokens ?? []).filter((t) => t.length > 0).map((t) => digest(t));
    this.initMetrics();
    this.queue = new WorkQueue(this.opts.queueLimit, (d) => this.m.depth.set(d));
    const rt = this.opts.requestTimeoutMs;
    this.app = Fastify({
      logger: o.logger ?? false,
      bodyLimit: this.opts.bodyLimit,
      // Node's own timers: headers within the request timeout, checked every second (Node's default is 30 s, which
      // let slow drips run for minutes); the body has its own timer (bodyTimer), Node's request timeout is a backstop.
      http: { headersTimeout: rt, connectionsCheckingInterval: Math.min(1000, rt) },
      requestTimeout: Math.min(MAX_TIMER_MS, rt + 1000),
      keepAliveTimeout: 5000, // an idle keep-alive connection holds a slot of maxConnections: Node's default, not Fastify's 72 s
      return503OnClosing: true,
      clientErrorHandler: (err, socket) => this.clientError(err, socket),
      frameworkErrors: (err, _req, reply) => {
        // FST_ERR_BAD_URL and the like: a plain 400 without Fastify's codes
        void this.sendProblem(reply, new HttpProblem(400, 'bad-request', 'Bad request', err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : 'the request is not valid'));
      },
    });
    this.limitConnections();
  }

  /** Errors Node's HTTP parser raises before Fastify sees a request (bad framing, slow headers, huge headers). */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const p = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new HttpProblem(408, 'request-timeout', 'Request timeout', `the request did not arrive within ${this.opts.requestTimeoutMs} ms`)
      : err.code === 'HPE_HEADER_OVERFLOW' ? new HttpProblem(431, 'headers-too-large', 'Request header fields too large', 'the request headers exceed the size limit')
        : new HttpProblem(400, 'bad-request', 'Bad request', 'the request is not valid HTTP/1.1');
    this.m.requests.inc({ route: 'unmatched', status: String(p.status) });
    if (socket.writable) socket.end(rawProblemResponse(p));
    else socket.destroy();
  }

  /**
   * At most `maxConnections` open connections, `maxConnectionsPerIp` per client address: a connection over either is
   * marked, its first request gets 503 `too-many-connections` (Connection: close), and it is cut 2 s later at most.
   */
  private limitConnections(): void {
    const perIp = new Map<string, number>();
    let total = 0;
    this.app.server.on('connection', (socket: Socket) => {
      const ip = socket.remoteAddress ?? '';
      const n = perIp.get(ip) ?? 0;
      if (total >= this.opts.maxConnections || n >= this.opts.maxConnectionsPerIp) {
        (socket as Socket & { [kRefused]?: string })[kRefused] = total >= this.opts.maxConnections ? 'server' : 'address';
        this.m.refused.inc({ reason: (socket as Socket & { [kRefused]?: string })[kRefused]! });
        setTimeout(() => socket.destroy(), 2000).unref();
        return;
      }
      total++;
      perIp.set(ip, n + 1);
      this.connections.add(socket);
      // a connection that never sends a byte is cut at the request timeout (Node times only requests that have begun)
      const first = setTimeout(() => socket.destroy(), this.opts.requestTimeoutMs);
      first.unref();
      socket.once('data', () => clearTimeout(first));
      socket.once('close', () => {
        clearTimeout(first);
        total--;
        this.connections.delete(socket);
        const m = (perIp.get(ip) ?? 1) - 1;
        if (m > 0) perIp.set(ip, m); else perIp.delete(ip);
      });
    });
  }

  /** A 500: logged through Fastify's logger when it logs errors, else through onInternalError (default: stderr). */
  private reportInternal(err: unknown, where: string): void {
    const log = this.app.log as { level?: string; error: (o: unknown, m?: string) => void };
    if (this.opts.logger && log.level !== 'silent' && log.level !== 'fatal') { log.error({ err }, `internal error: ${where}`); return; }
    if (this.opts.onInternalError) { this.opts.onInternalError(err, where); return; }
    const e = err as Error;
    process.stderr.write(`webvcm serve: internal error (${where}): ${e?.stack ?? String(err)}\n`);
  }

  private initMetrics(): void {
    const register = this.registry;
    collectDefaultMetrics({ register, prefix: 'webvcm_' });
    this.m = {
      requests: new Counter({ name: 'webvcm_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [register] }),
      latency: new Histogram({ name: 'webvcm_request_duration_seconds', help: 'request latency (arrival to reply)', labelNames: ['route'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [register] }),
      depth: new Gauge({ name: 'webvcm_queue_depth', help: 'jobs waiting for the GPU', registers: [register] }),
      gpu: new Counter({ name: 'webvcm_gpu_seconds_total', help: 'seconds the device spent decoding', registers: [register] }),
      buffers: new Gauge({ name: 'webvcm_gpu_buffers', help: 'pooled GPU buffers (all decoders)', labelNames: ['state'], registers: [register] }),
      frames: new Counter({ name: 'webvcm_stream_frames_total', help: 'WebSocket frames read', registers: [register] }),
      refused: new Counter({ name: 'webvcm_connections_refused_total', help: 'connections over the server or per-address cap', labelNames: ['reason'], registers: [register] }),
      streamClosed: new Counter({ name: 'webvcm_stream_closed_total', help: 'WebSocket connections the server closed, by reason', labelNames: ['reason'], registers: [register] }),
      dropped: new Counter({ name: 'webvcm_stream_frames_dropped_total', help: 'WebSocket frames dropped by the drop policy', labelNames: ['reason'], registers: [register] }),
    };
  }

  /** Load the models on one device, warm up, register the routes. Resolves when the routes exist (not yet warm). */
  async init(): Promise<void> {
    let device: GPUDevice | undefined;
    for (const decoder of this.opts.decoders ?? []) {
      this.detectorWeights ??= decoder.detectorWeights;
      this.served.push({ fp: toHex(decoder.fingerprint), decoder, owned: false });
    }
    for (const c of this.opts.decoders ? [] : this.opts.codecs) {
      const decoder = await createDecoder({ detector: this.detectorWeights ?? this.opts.detector as never, codec: c as never, device, detectorConfig: this.opts.detectorConfig, precision: this.opts.precision });
      device ??= decoder.device;
      this.detectorWeights ??= decoder.detectorWeights;
      const fp = toHex(decoder.fingerprint);
      if (this.served.some((s) => s.fp === fp)) { decoder.dispose(); continue; }
      this.served.push({ fp, decoder, owned: true });
    }
    await this.registerRoutes();
  }

  /** Compile the pipelines with the decoder's warmup() (both methods, each configured size) before reporting ready. */
  async warmup(): Promise<void> {
    if (this.opts.skipWarmup) return;
    const w = this.opts.warmup ?? {};
    for (const s of this.served) {
      if (typeof s.decoder.warmup === 'function') {
        for (const [height, width] of w.sizes ?? [[480, 640]]) {
          for (const method of [1, 2] as const) await s.decoder.warmup({ height, width, method, minSize: w.minSize, maxSize: w.maxSize });
        }
        continue;
      }
      // fallback without warmup(): decode one stream the server encodes itself
      const enc = await createEncoder({ detector: s.decoder.detectorWeights, codec: s.decoder.codecWeights, device: s.decoder.device, minSize: 128, maxSize: 192, mode: 'portable' });
      try {
        const h = 96, w2 = 128, data = new Uint8Array(h * w2 * 3);
        for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
        const { bytes } = await enc.encode({ height: h, width: w2, data });
        await s.decoder.decode(bytes);
      } finally {
        enc.dispose();
      }
    }
    this.ready = true;
  }

  get drainTimeoutMs(): number { return this.opts.drainTimeoutMs; }
  get isReady(): boolean { return this.ready && !this.draining; }
  get fingerprints(): string[] { return this.served.map((s) => s.fp); }

  gpuBuffers(): { live: number; free: number } {
    let live = 0, free = 0;
    for (const s of this.served) { const b = s.decoder.gpuBuffers(); live += b.live; free += b.free; }
    return { live, free };
  }

  private auth(req: FastifyRequest): void {
    if (!this.tokenDigests.length || req.method === 'OPTIONS') return;
    const url = req.url.split('?')[0];
    if (url === '/healthz') return;
    let tok: string | undefined;
    const h = req.headers.authorization;
    if (typeof h === 'string' && /^Bearer\s+/i.test(h)) tok = h.replace(/^Bearer\s+/i, '').trim();
    // Browsers cannot set headers on a WebSocket: the stream also takes ?access_token=.
    if (tok === undefined && url === '/v1/stream') {
      const q = new URLSearchParams(req.url.split('?')[1] ?? '').get('access_token');
      if (q) tok = q;
    }
    if (tok === undefined) throw new HttpProblem(401, 'unauthorized', 'Unauthorized', 'this server needs a bearer token (Authorization: Bearer <token>)', {}, { 'www-authenticate': 'Bearer' });
    if (!tokenMatches(tok, this.tokenDigests)) throw new HttpProblem(401, 'unauthorized', 'Unauthorized', 'the bearer token is not valid', {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
  }

  /** Find the codec for a stream (409 when the fingerprint is not served) after validating its container. */
  private route(bytes: Uint8Array): Served {
    if (bytes.length < CONTAINER_HEADER_BYTES) {
      throw new HttpProblem(400, 'invalid-stream', 'Invalid stream', `a .vcm stream has at least ${CONTAINER_HEADER_BYTES} bytes, got ${bytes.length}`);
    }
    let fields;
    try {
      fields = readContainer(bytes);
    } catch (e) {
      throw new HttpProblem(400, 'invalid-stream', 'Invalid stream', e instanceof ContainerError ? e.message : 'the body is not a .vcm stream');
    }
    const px = fields.resizedSize[0] * fields.resizedSize[1];
    if (px > this.opts.maxPixels) {
      throw new HttpProblem(413, 'image-too-large', 'Image too large', `the stream asks for detection on ${fields.resizedSize.join('x')} pixels, over this server's budget of ${this.opts.maxPixels}`);
    }
    // the padded feature map (the codec's and the detector's working size, 4 image pixels per feature side) too
    const [, fh, fw] = fields.featureShape, [t, l, b, r] = fields.padding;
    const padded = [4 * (fh + t + b), 4 * (fw + l + r)] as const;
    if (padded[0] * padded[1] > this.opts.maxPixels) {
      throw new HttpProblem(413, 'image-too-large', 'Image too large', `the stream's padded feature map covers ${padded.join('x')} pixels, over this server's budget of ${this.opts.maxPixels}`);
    }
    const fp = toHex(fields.fingerprint);
    const s = this.served.find((x) => x.fp === fp);
    if (!s) {
      throw new HttpProblem(409, 'unknown-weights', 'Stream coded for other weights', `the stream was coded with codec weights ${fp}, which this server does not hold`, { fingerprint: fp, served: this.fingerprints });
    }
    return s;
  }

  /**
   * Which pages may open the WebSocket (browsers send no CORS preflight for it, so any page could drive a local
   * server): those CORS allows (`cors`: '*' = any, or the list), and the server's own origin. Without CORS and
   * without tokens, the same origin only; with tokens, any origin (the token is the check). No Origin header
   * (not a browser): allowed.
   */
  private checkOrigin(req: FastifyRequest): void {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const c = this.opts.cors;
    if (c === true || (Array.isArray(c) && c.includes(origin)) || this.tokenDigests.length) return;
    let host: string | null = null;
    try { host = new URL(origin).host; } catch { /* 'null' or garbage */ }
    if (host !== null && host === req.headers.host) return;
    throw new HttpProblem(403, 'origin-not-allowed', 'Origin not allowed', `pages from ${JSON.stringify(origin).slice(0, 120)} may not open this stream (configure --cors, or tokens)`);
  }

  private checkReady(): void {
    if (this.draining) throw new HttpProblem(503, 'draining', 'Shutting down', 'the server is draining its queue and takes no new work', {}, { 'retry-after': '1' });
    if (!this.ready) throw new HttpProblem(503, 'warming-up', 'Not ready', 'the server is compiling its GPU pipelines', {}, { 'retry-after': '5' });
  }

  /** Decode one stream through the queue. Throws HttpProblem for every expected failure. */
  async detect(bytes: Uint8Array, deadlineMs = this.opts.deadlineMs): Promise<DetectReply> {
    this.checkReady();
    const t0 = performance.now();
    const s = this.route(bytes);
    let started = 0;
    try {
      const r = await this.queue.submit(async () => {
        started = performance.now();
        try {
          return await s.decoder.decode(bytes);
        } finally {
          this.m.gpu.inc((performance.now() - started) / 1000);
        }
      }, deadlineMs);
      const d = r.detections;
      const n = d.scores.length;
      const boxes: number[][] = [];
      for (let i = 0; i < n; i++) boxes.push(Array.from(d.boxes.subarray(4 * i, 4 * i + 4)));
      const classes = Array.from(d.classes);
      const end = performance.now();
      return {
        boxes, scores: Array.from(d.scores), classes, names: classes.map((c) => s.decoder.classNames[c] ?? COCO_CLASS_NAMES[c] ?? String(c)),
        sizes: r.sizes as DetectReply['sizes'], fingerprint: s.fp,
        timings: { ...r.timings, 'queue wait': started - t0, 'server total': end - t0 },
      };
    } catch (e) {
      if (e instanceof HttpProblem) throw e;
      if (e instanceof QueueFullError) throw new HttpProblem(503, 'overloaded', 'Overloaded', e.message, {}, { 'retry-after': String(e.retryAfterS) });
      if (e instanceof DeadlineError) throw new HttpProblem(504, 'deadline-exceeded', 'Deadline exceeded', e.message);
      const name = (e as Error)?.name ?? '';
      // Errors from parsing/decoding the stream's contents are the client's (400); anything else is ours (500),
      // reported without internal detail.
      if (e instanceof ContainerError || /Container|Rans|Codec|Input|Shape/.test(name)) {
        throw new HttpProblem(400, 'invalid-stream', 'Invalid stream', (e as Error).message);
      }
      this.reportInternal(e, 'decode');
      throw new HttpProblem(500, 'internal', 'Internal error', 'the server failed to decode this stream; the failure was logged');
    } finally {
      this.m.buffers.set({ state: 'live' }, this.gpuBuffers().live);
      this.m.buffers.set({ state: 'free' }, this.gpuBuffers().free);
    }
  }

  private sendProblem(reply: FastifyReply, p: HttpProblem): FastifyReply {
    for (const [k, v] of Object.entries(p.headers)) reply.header(k, v);
    return reply.code(p.status).type('application/problem+json').send(JSON.stringify(p.toJSON()));
  }

  private async registerRoutes(): Promise<void> {
    const app = this.app;
    // Anything that still answers an error in another format (a plugin's text/plain, say) leaves as problem+json.
    app.addHook('onSend', async (_req, reply, payload) => {
      if (reply.statusCode < 400 || /problem\+json/.test(String(reply.getHeader('content-type') ?? ''))) return payload;
      const status = reply.statusCode;
      const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
      const detail = /^[\x20-\x7e]{1,200}$/.test(text) && !text.startsWith('{') ? text : STATUS_CODES[status] ?? 'error';
      reply.type('application/problem+json');
      return JSON.stringify(new HttpProblem(status, status === 400 ? 'bad-request' : `http-${status}`, STATUS_CODES[status] ?? 'Error', detail).toJSON());
    });
    if (this.opts.cors) {
      // '*' is answered as '*' (not the reflected origin); the deadline header may be sent cross-origin
      await app.register(cors, { origin: this.opts.cors === true ? '*' : this.opts.cors, methods: ['GET', 'POST', 'OPTIONS'], allowedHeaders: ['authorization', 'content-type', 'x-webvcm-deadline-ms'], exposedHeaders: ['retry-after'], maxAge: 600 });
    }
    await app.register(websocket, { options: { maxPayload: this.opts.bodyLimit + 4 } });
    // Only .vcm bodies are parsed: without Fastify's default JSON/text parsers, every other media type (a JSON body that
    // does not even parse included) is one 415, before any of it is read.
    app.removeAllContentTypeParsers();
    for (const ct of VCM_MEDIA_TYPES) {
      app.addContentTypeParser(ct, { parseAs: 'buffer', bodyLimit: this.opts.bodyLimit }, (_req, body, done) => done(null, body));
    }
    app.addHook('onRequest', async (req, reply) => {
      (req as unknown as { t0: number }).t0 = performance.now();
      const refused = (req.raw.socket as Socket & { [kRefused]?: string })[kRefused];
      if (refused) {
        reply.header('connection', 'close');
        throw new HttpProblem(503, 'too-many-connections', 'Too many connections', refused === 'server' ? `this server takes at most ${this.opts.maxConnections} connections` : `this server takes at most ${this.opts.maxConnectionsPerIp} connections from one address`, {}, { 'retry-after': '1' });
      }
      this.auth(req);
      this.bodyTimer(req, reply);
    });
    // the body arrived (or there was none): its timer stops
    app.addHook('preValidation', async (req) => { this.clearBodyTimer(req); });
    app.addHook('onRequestAbort', async (req) => { this.clearBodyTimer(req); });
    app.addHook('onResponse', async (req, reply) => {
      this.clearBodyTimer(req);
      const route = req.routeOptions?.url ?? 'unmatched';
      this.m.requests.inc({ route, status: String(reply.statusCode) });
      this.m.latency.observe({ route }, (performance.now() - (req as unknown as { t0: number }).t0) / 1000);
    });
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof HttpProblem) return this.sendProblem(reply, err);
      const e = err as { statusCode?: number; code?: string; message: string };
      const status = e.statusCode && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
      const slug = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body-too-large'
        : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported-media-type'
          : status === 500 ? 'internal' : 'bad-request';
      const detail = e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `the body exceeds the limit of ${this.opts.bodyLimit} bytes`
        : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? VCM_MEDIA_HINT
          : status === 500 ? 'internal error' : e.message;
      if (status === 500) this.reportInternal(err, `${_req.method} ${_req.url.split('?')[0]}`);
      return this.sendProblem(reply, new HttpProblem(status, slug, status === 413 ? 'Payload too large' : status === 415 ? 'Unsupported media type' : status === 500 ? 'Internal error' : 'Bad request', detail));
    });
    app.setNotFoundHandler((req, reply) => this.sendProblem(reply, new HttpProblem(404, 'not-found', 'Not found', `no route ${req.method} ${req.url.split('?')[0]}`)));

    app.get('/healthz', async (_req, reply) => {
      if (!this.isReady) {
        return reply.code(503).header('retry-after', this.draining ? '1' : '5').send({ status: this.draining ? 'draining' : 'warming-up' });
      }
      return { status: 'ready', queue: this.queue.depth, models: this.fingerprints.length };
    });
    app.get('/metrics', async (_req, reply) => {
      const b = this.gpuBuffers();
      this.m.buffers.set({ state: 'live' }, b.live);
      this.m.buffers.set({ state: 'free' }, b.free);
      return reply.type(this.registry.contentType).send(await this.registry.metrics());
    });
    app.get('/v1/models', async () => {
      const dw = this.detectorWeights!;
      return {
        detector: { kind: dw.kind, fingerprint: toHex(dw.fingerprint), stemChannels: dw.config.stemOut, precision: this.opts.precision ?? 'f32' },
        codecs: this.served.map((s) => ({ kind: 'compressai-hyperprior', fingerprint: s.fp, ...s.decoder.codecShape, methods: [1, 2], modes: ['compat', 'portable'] })),
        limits: { bodyLimit: this.opts.bodyLimit, maxPixels: this.opts.maxPixels, queueLimit: this.opts.queueLimit, deadlineMs: this.opts.deadlineMs, streamPending: this.opts.streamPending },
      };
    });
    app.post('/v1/detect', async (req) => {
      const body = req.body;
      // A client may shorten (never extend) its deadline: X-Webvcm-Deadline-Ms.
      const hd = req.headers['x-webvcm-deadline-ms'];
      let deadline = this.opts.deadlineMs;
      if (hd !== undefined) {
        const v = Number(hd);
        if (!Number.isInteger(v) || v <= 0) throw new HttpProblem(400, 'bad-request', 'Bad request', `X-Webvcm-Deadline-Ms must be a positive integer, got ${JSON.stringify(hd)}`);
        deadline = Math.min(v, deadline);
      }
      if (!(body instanceof Uint8Array)) throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', VCM_MEDIA_HINT);
      return this.detect(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), deadline);
    });
    app.get('/v1/stream', { websocket: true, preValidation: async (req) => this.checkOrigin(req) }, (socket, req) => {
      // ?pending=N lowers (never raises) this connection's waiting-frame allowance.
      const q = new URLSearchParams(req.url.split('?')[1] ?? '').get('pending');
      const n = q === null ? NaN : Number(q);
      this.stream(socket as unknown as StreamSocket, Number.isInteger(n) && n >= 0 ? Math.min(n, this.opts.streamPending) : this.opts.streamPending);
    });
  }

  /**
   * One WebSocket connection. Drop policy ("keep the newest"): one frame decodes at a time per connection and at
   * most `streamPending` wait behind it; a newer frame pushes out the oldest waiting one, which is answered
   * {type:'dropped', reason:'behind'}; frames refused by a full server queue are answered {reason:'server-busy'}.
   * Every frame gets exactly one reply, in arrival order.
   *
   * Output is bounded: while more than `streamBufferBytes` of replies sit unread, the server stops reading this
   * client's frames (TCP pushes back on it); frames that were already read meanwhile are dropped without a decode
   * ({type:'dropped', reason:'slow-consumer'}). A client that leaves its output over the bound for `streamStallMs`
   * gets one error message (`slow-consumer`) and is closed with 1008 (terminated 1 s later if it ignores the close).
   */
  private stream(socket: StreamSocket, pending: number): void {
    interface Frame { id: number; bytes: Uint8Array; settle: (m: object) => void }
    const waiting: Frame[] = [];
    let busy = false;
    let out: Promise<void> = Promise.resolve();
    let closed = false;
    let paused = false;
    let stallTimer: ReturnType<typeof setTimeout> | null = null;
    let drainTimer: ReturnType<typeof setInterval> | null = null;
    const high = this.opts.streamBufferBytes;
    const stopTimers = () => {
      if (stallTimer) clearTimeout(stallTimer);
      if (drainTimer) clearInterval(drainTimer);
      stallTimer = drainTimer = null;
    };
    this.sockets.add(socket);
    socket.on('close', () => {
      closed = true;
      stopTimers();
      this.sockets.delete(socket);
      for (const f of waiting.splice(0)) f.settle({ type: 'dropped', id: f.id, reason: 'closed' });
    });
    const evict = (): void => {
      if (closed) return;
      closed = true;
      stopTimers();
      this.m.streamClosed.inc({ reason: 'slow-consumer' });
      for (const f of waiting.splice(0)) f.settle({ type: 'dropped', id: f.id, reason: 'closed' });
      const p = new HttpProblem(429, 'slow-consumer', 'Slow consumer', `the client left more than ${high} bytes of replies unread for ${this.opts.streamStallMs} ms`).toJSON();
      try {
        socket.send(JSON.stringify({ type: 'error', id: null, problem: p }));
        socket.close(1008, 'slow consumer');
      } catch { /* already gone */ }
      setTimeout(() => socket.terminate(), 1000).unref();
    };
    // over the bound: stop reading; poll until the output drains below half of it, or evict after the stall time
    const checkOutput = (): void => {
      if (closed || paused || socket.bufferedAmount <= high) return;
      paused = true;
      socket.pause();
      stallTimer = setTimeout(evict, this.opts.streamStallMs);
      drainTimer = setInterval(() => {
        if (closed || socket.bufferedAmount > high / 2) return;
        stopTimers();
        paused = false;
        socket.resume();
      }, 50);
    };
    const enqueueReply = (): ((m: object) => void) => {
      let settle!: (m: object) => void;
      const p = new Promise<object>((r) => { settle = r; });
      out = out.then(() => p).then((m) => {
        if (!closed && socket.readyState === socket.OPEN) { socket.send(JSON.stringify(m)); checkOutput(); }
      });
      return settle;
    };
    const pump = (): void => {
      if (busy || closed) return;
      const f = waiting.shift();
      if (!f) return;
      busy = true;
      this.detect(f.bytes).then(
        (r) => f.settle({ type: 'detections', id: f.id, ...r }),
        (e: unknown) => {
          if (e instanceof HttpProblem && e.status === 503 && e.slug === 'overloaded') {
            this.m.dropped.inc({ reason: 'server-busy' });
            f.settle({ type: 'dropped', id: f.id, reason: 'server-busy' });
          } else {
            const p = e instanceof HttpProblem ? e.toJSON() : { type: PROBLEM_BASE + 'internal', title: 'Internal error', status: 500 };
            f.settle({ type: 'error', id: f.id, problem: p });
          }
        },
      ).finally(() => { busy = false; pump(); });
    };
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (closed) return;
      this.m.frames.inc();
      const settle = enqueueReply();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (paused) {
        // read (in the same chunk) after the pause: dropped without a decode
        this.m.dropped.inc({ reason: 'slow-consumer' });
        settle({ type: 'dropped', id: isBinary && buf.length >= 4 ? buf.readUInt32LE(0) : null, reason: 'slow-consumer' });
        return;
      }
      if (!isBinary || buf.length < 4) {
        settle({ type: 'error', id: null, problem: new HttpProblem(400, 'bad-frame', 'Bad frame', 'frames are binary: a little-endian u32 frame id followed by a .vcm stream').toJSON() });
        return;
      }
      const id = buf.readUInt32LE(0);
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset + 4, buf.length - 4);
      waiting.push({ id, bytes, settle });
      while (waiting.length > pending + (busy ? 0 : 1)) {
        const d = waiting.shift()!;
        this.m.dropped.inc({ reason: 'behind' });
        d.settle({ type: 'dropped', id: d.id, reason: 'behind' });
      }
      pump();
    });
  }

  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    return this.app.listen({ port, host });
  }

  /**
   * A request with a body must have all of it within `requestTimeoutMs` of its arrival, also while the server
   * drains (Node stops its own checks on close): otherwise a 408 problem, Connection: close, and the socket is cut.
   */
  private bodyTimer(req: FastifyRequest, reply: FastifyReply): void {
    const h = req.headers;
    if (!(Number(h['content-length']) > 0 || h['transfer-encoding'] !== undefined)) return;
    const t = setTimeout(() => {
      if (reply.sent || req.raw.complete) return;
      const p = new HttpProblem(408, 'request-timeout', 'Request timeout', `the body did not arrive within ${this.opts.requestTimeoutMs} ms`);
      this.m.requests.inc({ route: req.routeOptions?.url ?? 'unmatched', status: '408' });
      reply.hijack();
      const socket = req.raw.socket;
      if (socket.writable) socket.end(rawProblemResponse(p), () => socket.destroy());
      else socket.destroy();
    }, this.opts.requestTimeoutMs);
    (req as unknown as { [kBodyTimer]?: ReturnType<typeof setTimeout> })[kBodyTimer] = t;
  }

  private clearBodyTimer(req: FastifyRequest): void {
    const r = req as unknown as { [kBodyTimer]?: ReturnType<typeof setTimeout> };
    if (r[kBodyTimer]) { clearTimeout(r[kBodyTimer]); r[kBodyTimer] = undefined; }
  }

  private closing: Promise<void> | null = null;

  /**
   * Stop taking work (503 `draining`), let queued requests finish within their deadlines, close the WebSockets (1001;
   * cut 1 s later if a client ignores the close), free the GPU. Bodies still arriving keep their request timeout.
   * Whatever is still open after `drainTimeoutMs` is cut, so close() always returns within about that time.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    let force!: ReturnType<typeof setTimeout>;
    const forced = new Promise<'forced'>((r) => { force = setTimeout(() => r('forced'), this.opts.drainTimeoutMs); });
    const cut = () => {
      for (const ws of this.sockets) ws.terminate();
      for (const c of this.connections) c.destroy();
    };
    try {
      const idle = await Promise.race([this.queue.idle().then(() => 'idle' as const), forced]);
      for (const ws of this.sockets) {
        try { ws.close(1001, 'server shutting down'); } catch { /* gone */ }
        setTimeout(() => ws.terminate(), 1000).unref();
      }
      void forced.then(cut);
      await this.app.close();
      // dispose borrowers first, the device's creator last; not while a decode may still run on the device
      if (idle === 'idle') for (const s of [...this.served].reverse()) if (s.owned) s.decoder.dispose();
      this.served = [];
    } finally {
      clearTimeout(force);
    }
  }
}

export async function createServer(o: ServeOptions): Promise<VcmServer> {
  const s = new VcmServer(o);
  await s.init();
  return s;
}
