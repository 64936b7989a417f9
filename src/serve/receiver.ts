/**
 * The receiver: models on one GPU device, one bounded work queue, and what every route needs (detect, the stream
 * protocol, auth, origins, metrics), without HTTP. The Fastify plugin (plugin.ts) puts routes on it; the standalone
 * server (server.ts) adds what belongs to a whole server (connection caps, parser errors, the drain on SIGTERM).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  CONTAINER_HEADER_BYTES,
  createDecoder,
  createRuntime,
  parseStream,
  type AdapterChoice,
  type ParsedStream,
  type VcmDecoder,
  type VcmRuntime,
} from '../api/index.ts';
import { detectionsToJson, type DetectionsJson } from '../api/detections-json.ts';
import { errorKind } from '../util/errors.ts';
import { toHex } from '../model/weights/hash.ts';
import type { CodecWeights, DetectorWeights } from '../model/weights/types.ts';
import type { DetectorConfig } from '../model/detector/types.ts';
import { MAX_TIMER_MS } from '../util/timer.ts';
import { HttpProblem, PROBLEM_BASE, problemFromError } from './problem.ts';
import { WorkQueue } from './queue.ts';

export interface ReceiverOptions {
  /** Detector weights (path/URL/bytes or loaded); not needed with `decoders`. */
  detector?: string | Uint8Array | DetectorWeights;
  /** One codec per rate point; not needed with `decoders`. */
  codecs?: (string | Uint8Array | CodecWeights)[];
  /**
   * Decoders built by the caller (one per codec), used instead of loading `detector`/`codecs`; the caller keeps
   * ownership (they are not disposed on close). For applications that share a device, and for tests.
   */
  decoders?: VcmDecoder[];
  /** Largest request body / WebSocket frame in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** Requests that may wait for the device (default 16); beyond it: 503 + Retry-After. */
  queueLimit?: number;
  /** Per-request deadline in ms, from arrival to reply (default 30000). */
  deadlineMs?: number;
  /** Time allowed to receive a whole request body, ms (408 after it; default 10000). */
  requestTimeoutMs?: number;
  /** Bearer tokens; empty or undefined = no auth. */
  tokens?: string[];
  /** CORS origins: true = any (answered '*'), a list, or false (default) = none. Also the WebSocket's allowed origins. */
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
  /** Detector settings for every decode (e.g. fewer proposals for speed); Detectron2 defaults otherwise. */
  detectorConfig?: Partial<DetectorConfig>;
  /** Largest image (h·w pixels, resized and padded) a stream may ask the detector to run on (default 4·2^20). */
  maxPixels?: number;
  /** Image sizes [h, w] (and the encoders' resize settings) to compile pipelines for before /healthz is ready; default 480x640. */
  warmup?: { sizes?: [number, number][]; minSize?: number; maxSize?: number };
  /** Detector precision after the split: 'f32' (default) or 'f16' (needs 'shader-f16'; the codec stays f32). */
  precision?: 'f32' | 'f16';
  /** Which WebGPU adapter to acquire (Node: lavapipe | swiftshader | system); default 'auto'. */
  adapter?: AdapterChoice;
  /** Skip the warm-up decode (tests of the not-ready state). */
  skipWarmup?: boolean;
  /** Where internal errors (500s) go when no logger logs errors (default: one line on stderr). */
  onInternalError?: (err: unknown, where: string) => void;
}

const TIMER_LIMITS = ['deadlineMs', 'requestTimeoutMs', 'streamStallMs', 'drainTimeoutMs'] as const;
type LimitName =
  | 'bodyLimit'
  | 'maxPixels'
  | 'queueLimit'
  | 'streamPending'
  | 'streamBufferBytes'
  | 'maxConnections'
  | 'maxConnectionsPerIp'
  | (typeof TIMER_LIMITS)[number];

/** Every limit an integer in its range; the millisecond ones within the timer range. Throws RangeError naming it. */
export function checkLimits(o: Partial<Record<LimitName, number>>): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    const min = k === 'queueLimit' || k === 'streamPending' ? 0 : 1;
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`${k} must be ${min ? 'a positive' : 'a non-negative'} integer, got ${String(v)}`);
    if ((TIMER_LIMITS as readonly string[]).includes(k) && v > MAX_TIMER_MS) {
      throw new RangeError(`${k} must be at most ${MAX_TIMER_MS} ms (the largest timer delay, about 24.8 days), got ${v}`);
    }
  }
}

interface Served {
  fp: string;
  decoder: VcmDecoder;
  owned: boolean;
}

/** What the stream handler uses of a `ws` WebSocket. */
export interface StreamSocket {
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

/** The reply of /v1/detect: the detections JSON (docs/detections-json.md) + the codec fingerprint and server timings. */
export interface DetectReply extends DetectionsJson {
  fingerprint: string;
  timings: Record<string, number>;
}

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time membership test of a presented token against the configured ones (compares SHA-256 digests). */
export function tokenMatches(presented: string, tokens: readonly Buffer[]): boolean {
  const d = digest(presented);
  let ok = false;
  for (const t of tokens) ok = timingSafeEqual(d, t) || ok;
  return ok;
}

type Resolved = Required<
  Pick<
    ReceiverOptions,
    'bodyLimit' | 'maxPixels' | 'queueLimit' | 'deadlineMs' | 'requestTimeoutMs' | 'streamPending' | 'streamBufferBytes' | 'streamStallMs'
  >
> &
  ReceiverOptions;

export const RECEIVER_DEFAULTS = {
  bodyLimit: 4 << 20,
  maxPixels: 4 << 20,
  queueLimit: 16,
  deadlineMs: 30000,
  requestTimeoutMs: 10000,
  streamPending: 1,
  streamBufferBytes: 1 << 20,
  streamStallMs: 5000,
} as const;

export class Receiver {
  readonly registry = new Registry();
  readonly queue: WorkQueue;
  readonly opts: Resolved;
  private served: Served[] = [];
  private detectorWeights: DetectorWeights | null = null;
  private ready = false;
  private draining = false;
  private readonly tokenDigests: Buffer[];
  /** Set by the plugin: Fastify's logger when it logs errors. */
  log: ((err: unknown, where: string) => boolean) | null = null;
  m!: {
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
  readonly sockets = new Set<StreamSocket>();

  constructor(o: ReceiverOptions) {
    if (!(o.decoders ?? o.codecs ?? []).length) throw new RangeError('serve needs at least one codec');
    this.opts = { ...RECEIVER_DEFAULTS, ...o };
    const { bodyLimit, maxPixels, queueLimit, deadlineMs, requestTimeoutMs, streamPending, streamBufferBytes, streamStallMs } = this.opts;
    checkLimits({ bodyLimit, maxPixels, queueLimit, deadlineMs, requestTimeoutMs, streamPending, streamBufferBytes, streamStallMs });
    this.tokenDigests = (o.tokens ?? []).filter((t) => t.length > 0).map((t) => digest(t));
    this.initMetrics();
    this.queue = new WorkQueue(this.opts.queueLimit, (d) => this.m.depth.set(d));
  }

  private initMetrics(): void {
    const register = this.registry;
    collectDefaultMetrics({ register, prefix: 'webvcm_' });
    this.m = {
      requests: new Counter({
        name: 'webvcm_requests_total',
        help: 'HTTP requests by route and status',
        labelNames: ['route', 'status'],
        registers: [register],
      }),
      latency: new Histogram({
        name: 'webvcm_request_duration_seconds',
        help: 'request latency (arrival to reply)',
        labelNames: ['route'],
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
        registers: [register],
      }),
      depth: new Gauge({ name: 'webvcm_queue_depth', help: 'jobs waiting for the GPU', registers: [register] }),
      gpu: new Counter({ name: 'webvcm_gpu_seconds_total', help: 'seconds the device spent decoding', registers: [register] }),
      buffers: new Gauge({
        name: 'webvcm_gpu_buffers',
        help: 'pooled GPU buffers (all decoders)',
        labelNames: ['state'],
        registers: [register],
      }),
      frames: new Counter({ name: 'webvcm_stream_frames_total', help: 'WebSocket frames read', registers: [register] }),
      refused: new Counter({
        name: 'webvcm_connections_refused_total',
        help: 'connections over the server or per-address cap',
        labelNames: ['reason'],
        registers: [register],
      }),
      streamClosed: new Counter({
        name: 'webvcm_stream_closed_total',
        help: 'WebSocket connections the server closed, by reason',
        labelNames: ['reason'],
        registers: [register],
      }),
      dropped: new Counter({
        name: 'webvcm_stream_frames_dropped_total',
        help: 'WebSocket frames dropped by the drop policy',
        labelNames: ['reason'],
        registers: [register],
      }),
    };
  }

  /** The one GPU runtime every decoder this receiver loads runs on (one device, one pipeline cache, one buffer pool). */
  private runtime: VcmRuntime | null = null;

  /** Load the models on one runtime (or take the given decoders). */
  async load(): Promise<void> {
    for (const decoder of this.opts.decoders ?? []) {
      this.detectorWeights ??= decoder.detectorWeights;
      this.served.push({ fp: toHex(decoder.fingerprint), decoder, owned: false });
    }
    if (this.opts.decoders) return;
    const runtime = (this.runtime = await createRuntime({ adapter: this.opts.adapter }));
    try {
      for (const c of this.opts.codecs ?? []) {
        const decoder = await createDecoder({
          detector: this.detectorWeights ?? (this.opts.detector as never),
          codec: c as never,
          runtime,
          detectorConfig: this.opts.detectorConfig,
          precision: this.opts.precision,
        });
        this.detectorWeights ??= decoder.detectorWeights;
        const fp = toHex(decoder.fingerprint);
        if (this.served.some((s) => s.fp === fp)) {
          decoder.dispose();
          continue;
        }
        this.served.push({ fp, decoder, owned: true });
      }
    } catch (e) {
      for (const s of this.served) if (s.owned) s.decoder.dispose();
      this.served = [];
      runtime.dispose();
      this.runtime = null;
      throw e;
    }
  }

  /** Compile the pipelines with the decoder's warmup() (both methods, each configured size) before reporting ready. */
  warmup(): Promise<void> {
    this.warming ??= this.compile().finally(() => {
      this.warming = null;
    });
    return this.warming;
  }

  private warming: Promise<void> | null = null;

  private async compile(): Promise<void> {
    if (this.opts.skipWarmup || this.draining) return; // skipWarmup: the not-ready state, for tests
    const w = this.opts.warmup ?? {};
    for (const s of this.served) {
      for (const [height, width] of w.sizes ?? [[480, 640]]) {
        for (const method of [1, 2] as const) await s.decoder.warmup({ height, width, method, minSize: w.minSize, maxSize: w.maxSize });
      }
    }
    this.ready = true;
  }

  get isReady(): boolean {
    return this.ready && !this.draining;
  }
  get isDraining(): boolean {
    return this.draining;
  }
  get fingerprints(): string[] {
    return this.served.map((s) => s.fp);
  }

  /** Pooled GPU buffers: the runtime's, or those of the given decoders' runtimes (each counted once). */
  gpuBuffers(): { live: number; free: number } {
    if (this.runtime) {
      const b = this.runtime.isDisposed ? { live: 0, free: 0 } : this.runtime.gpuBuffers();
      return { live: b.live, free: b.free };
    }
    let live = 0,
      free = 0;
    const seen = new Set<unknown>();
    for (const s of this.served) {
      const key = (s.decoder as { runtime?: unknown }).runtime ?? s.decoder;
      if (seen.has(key)) continue;
      seen.add(key);
      const b = s.decoder.gpuBuffers();
      live += b.live;
      free += b.free;
    }
    return { live, free };
  }

  /** A 500: logged through the plugin's logger when it logs errors, else through onInternalError (default: stderr). */
  reportInternal(err: unknown, where: string): void {
    if (this.log?.(err, where)) return;
    if (this.opts.onInternalError) {
      this.opts.onInternalError(err, where);
      return;
    }
    const e = err as Error;
    process.stderr.write(`webvcm serve: internal error (${where}): ${e?.stack ?? String(err)}\n`);
  }

  /** Bearer token check (401 problems); `stream` also takes ?access_token= (browsers cannot set WebSocket headers). */
  checkToken(authorization: string | undefined, accessToken: string | undefined): void {
    if (!this.tokenDigests.length) return;
    let tok: string | undefined;
    if (typeof authorization === 'string' && /^Bearer\s+/i.test(authorization)) tok = authorization.replace(/^Bearer\s+/i, '').trim();
    if (tok === undefined && accessToken) tok = accessToken;
    if (tok === undefined)
      throw new HttpProblem(
        401,
        'unauthorized',
        'Unauthorized',
        'this server needs a bearer token (Authorization: Bearer <token>)',
        {},
        { 'www-authenticate': 'Bearer' },
      );
    if (!tokenMatches(tok, this.tokenDigests))
      throw new HttpProblem(
        401,
        'unauthorized',
        'Unauthorized',
        'the bearer token is not valid',
        {},
        { 'www-authenticate': 'Bearer error="invalid_token"' },
      );
  }

  /**
   * Find the codec for a stream (409 when the fingerprint is not served) after validating its container; the parsed
   * stream goes on to the decoder, which does not read the container again (one parse per request).
   */
  route(bytes: Uint8Array): { served: Served; parsed: ParsedStream } {
    if (bytes.length < CONTAINER_HEADER_BYTES) {
      throw new HttpProblem(
        400,
        'invalid-stream',
        'Invalid stream',
        `a .vcm stream has at least ${CONTAINER_HEADER_BYTES} bytes, got ${bytes.length}`,
      );
    }
    let parsed: ParsedStream;
    try {
      parsed = parseStream(bytes);
    } catch (e) {
      throw new HttpProblem(
        400,
        'invalid-stream',
        'Invalid stream',
        errorKind(e) === 'input' ? (e as Error).message : 'the body is not a .vcm stream',
      );
    }
    const stream = parsed.report;
    const { resized, features, padding } = stream.sizes;
    if (resized[0] * resized[1] > this.opts.maxPixels) {
      throw new HttpProblem(
        413,
        'image-too-large',
        'Image too large',
        `the stream asks for detection on ${resized.join('x')} pixels, over this server's budget of ${this.opts.maxPixels}`,
      );
    }
    // the padded feature map (the codec's and the detector's working size, 4 image pixels per feature side) too
    const [, fh, fw] = features,
      [t, l, b, r] = padding;
    const padded = [4 * (fh + t + b), 4 * (fw + l + r)] as const;
    if (padded[0] * padded[1] > this.opts.maxPixels) {
      throw new HttpProblem(
        413,
        'image-too-large',
        'Image too large',
        `the stream's padded feature map covers ${padded.join('x')} pixels, over this server's budget of ${this.opts.maxPixels}`,
      );
    }
    const fp = stream.model.fingerprint;
    const s = this.served.find((x) => x.fp === fp);
    if (!s) {
      throw new HttpProblem(
        409,
        'unknown-weights',
        'Stream coded for other weights',
        `the stream was coded with codec weights ${fp}, which this server does not hold`,
        { fingerprint: fp, served: this.fingerprints },
      );
    }
    return { served: s, parsed };
  }

  /**
   * Which pages may open the WebSocket (browsers send no CORS preflight for it, so any page could drive a local
   * server): those CORS allows (`cors`: '*' = any, or the list), and the server's own origin. Without CORS and
   * without tokens, the same origin only; with tokens, any origin (the token is the check). No Origin header
   * (not a browser): allowed.
   */
  checkOrigin(origin: string | undefined, host: string | undefined): void {
    if (origin === undefined) return;
    const c = this.opts.cors;
    if (c === true || (Array.isArray(c) && c.includes(origin)) || this.tokenDigests.length) return;
    let h: string | null = null;
    try {
      h = new URL(origin).host;
    } catch {
      /* 'null' or garbage */
    }
    if (h !== null && h === host) return;
    throw new HttpProblem(
      403,
      'origin-not-allowed',
      'Origin not allowed',
      `pages from ${JSON.stringify(origin).slice(0, 120)} may not open this stream (configure --cors, or tokens)`,
    );
  }

  checkReady(): void {
    if (this.draining)
      throw new HttpProblem(
        503,
        'draining',
        'Shutting down',
        'the server is draining its queue and takes no new work',
        {},
        { 'retry-after': '1' },
      );
    if (!this.ready)
      throw new HttpProblem(503, 'warming-up', 'Not ready', 'the server is compiling its GPU pipelines', {}, { 'retry-after': '5' });
  }

  /** What /v1/models answers. */
  models(): unknown {
    const dw = this.detectorWeights!;
    return {
      detector: {
        kind: dw.kind,
        fingerprint: toHex(dw.fingerprint),
        stemChannels: dw.config.stemOut,
        precision: this.opts.precision ?? 'f32',
      },
      codecs: this.served.map((s) => ({
        kind: 'compressai-hyperprior',
        fingerprint: s.fp,
        ...s.decoder.codecShape,
        methods: [1, 2],
        modes: ['compat', 'portable'],
      })),
      limits: {
        bodyLimit: this.opts.bodyLimit,
        maxPixels: this.opts.maxPixels,
        queueLimit: this.opts.queueLimit,
        deadlineMs: this.opts.deadlineMs,
        streamPending: this.opts.streamPending,
      },
    };
  }

  /** Prometheus text, with the GPU buffer gauges refreshed. */
  async metricsText(): Promise<string> {
    const b = this.gpuBuffers();
    this.m.buffers.set({ state: 'live' }, b.live);
    this.m.buffers.set({ state: 'free' }, b.free);
    return this.registry.metrics();
  }

  /** Decode one stream through the queue. Throws HttpProblem for every expected failure. */
  async detect(bytes: Uint8Array, deadlineMs = this.opts.deadlineMs): Promise<DetectReply> {
    this.checkReady();
    const t0 = performance.now();
    const { served: s, parsed } = this.route(bytes);
    let started = 0;
    try {
      const r = await this.queue.submit(async () => {
        started = performance.now();
        try {
          return await s.decoder.decode(parsed);
        } finally {
          this.m.gpu.inc((performance.now() - started) / 1000);
        }
      }, deadlineMs);
      const end = performance.now();
      return {
        ...detectionsToJson(r.detections, s.decoder.classNames, r.sizes),
        fingerprint: s.fp,
        timings: { ...r.timings, 'queue wait': started - t0, 'server total': end - t0 },
      };
    } catch (e) {
      // every failure leaves as a problem; a 500 is reported (without detail to the client)
      const { problem, internal } = problemFromError(e, this.opts);
      if (internal) this.reportInternal(e, 'decode');
      throw problem;
    } finally {
      this.m.buffers.set({ state: 'live' }, this.gpuBuffers().live);
      this.m.buffers.set({ state: 'free' }, this.gpuBuffers().free);
    }
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
  stream(socket: StreamSocket, pending: number): void {
    interface Frame {
      id: number;
      bytes: Uint8Array;
      settle: (m: object) => void;
    }
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
      const p = new HttpProblem(
        429,
        'slow-consumer',
        'Slow consumer',
        `the client left more than ${high} bytes of replies unread for ${this.opts.streamStallMs} ms`,
      ).toJSON();
      try {
        socket.send(JSON.stringify({ type: 'error', id: null, problem: p }));
        socket.close(1008, 'slow consumer');
      } catch {
        /* already gone */
      }
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
      const p = new Promise<object>((r) => {
        settle = r;
      });
      out = out
        .then(() => p)
        .then((m) => {
          if (!closed && socket.readyState === socket.OPEN) {
            socket.send(JSON.stringify(m));
            checkOutput();
          }
        });
      return settle;
    };
    const pump = (): void => {
      if (busy || closed) return;
      const f = waiting.shift();
      if (!f) return;
      busy = true;
      this.detect(f.bytes)
        .then(
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
        )
        .finally(() => {
          busy = false;
          pump();
        });
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
        settle({
          type: 'error',
          id: null,
          problem: new HttpProblem(
            400,
            'bad-frame',
            'Bad frame',
            'frames are binary: a little-endian u32 frame id followed by a .vcm stream',
          ).toJSON(),
        });
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

  /**
   * Stop taking work (503 `draining`) and let the queue finish, within `timeoutMs`; then close the WebSockets (1001,
   * cut 1 s later if a client ignores the close). Resolves 'idle' or 'timeout'.
   */
  async drain(timeoutMs: number): Promise<'idle' | 'timeout'> {
    this.draining = true;
    let timer!: ReturnType<typeof setTimeout>;
    // the queue and a warm-up in progress (it runs on the device outside the queue) both finish, or the time is up
    const idle = Promise.all([this.queue.idle(), this.warming?.catch(() => undefined)]).then(() => 'idle' as const);
    const r = await Promise.race([
      idle,
      new Promise<'timeout'>((res) => {
        timer = setTimeout(() => res('timeout'), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const ws of this.sockets) {
      try {
        ws.close(1001, 'server shutting down');
      } catch {
        /* gone */
      }
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    return r;
  }

  /** Cut every WebSocket now. */
  terminateSockets(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Free the decoders this receiver loaded and their runtime; not while a decode or the warm-up may run. */
  dispose(): void {
    if (this.queue.busy || this.warming) return;
    for (const s of this.served) if (s.owned) s.decoder.dispose();
    this.served = [];
    this.runtime?.dispose();
    this.runtime = null;
  }
}
