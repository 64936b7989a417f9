/**
 * `webvcm serve`: the receiver as a standalone HTTP/WebSocket server (docs/serve.md).
 *
 *   POST /v1/detect   body: a .vcm stream → the detections JSON of `webvcm decode` + class names + server timings
 *   GET  /v1/stream   WebSocket: binary frames (u32le frame id + .vcm) in, one JSON message per frame out, in order
 *   GET  /v1/models   what is served (kind, fingerprint, C/N/M, methods)
 *   GET  /healthz     200 when warm (pipelines compiled), 503 before and while draining
 *   GET  /metrics     Prometheus text (prom-client)
 *
 * The routes are the Fastify plugin (plugin.ts) on a Receiver (receiver.ts); this file adds what belongs to a whole
 * server: Node's parser errors as problem+json (400/408/431), bad URLs, connection caps (per server and per client
 * address), timers for connections that never send a byte, and a drain on close() that always ends by its timeout.
 */
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { MAX_TIMER_MS } from '../util/timer.ts';
import { webvcmReceiver } from './plugin.ts';
import { HttpProblem, rawProblemResponse } from './problem.ts';
import { Receiver, checkLimits, type ReceiverOptions } from './receiver.ts';
import type { WorkQueue } from './queue.ts';

export { HttpProblem, problemForError, type Problem } from './problem.ts';
export { checkLimits, tokenMatches, type DetectReply } from './receiver.ts';

export interface ServeOptions extends ReceiverOptions {
  /** Open connections (HTTP and WebSocket) beyond which new ones get 503 `too-many-connections` (default 256). */
  maxConnections?: number;
  /** The same per client address (default 64). */
  maxConnectionsPerIp?: number;
  /**
   * close() (SIGTERM): how long queued work, bodies still arriving and WebSockets may take before every connection
   * is cut (default 30000 ms). Deadlines and the request timeout keep running meanwhile.
   */
  drainTimeoutMs?: number;
  /** Fastify's logger: false (default), true, or pino options such as { level: 'warn' }. Internal errors are reported either way. */
  logger?: boolean | { level: string };
}

const kRefused = Symbol('webvcm.refused');
const kActive = Symbol('webvcm.active');
type Marked = Socket & { [kRefused]?: 'server' | 'address'; [kActive]?: number };

export class VcmServer {
  readonly app: FastifyInstance;
  readonly receiver: Receiver;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly drainTimeoutMs: number;
  private readonly connections = new Set<Socket>();
  private closing: Promise<void> | null = null;

  constructor(o: ServeOptions) {
    this.maxConnections = o.maxConnections ?? 256;
    this.maxConnectionsPerIp = o.maxConnectionsPerIp ?? 64;
    this.drainTimeoutMs = o.drainTimeoutMs ?? 30000;
    checkLimits({
      maxConnections: this.maxConnections,
      maxConnectionsPerIp: this.maxConnectionsPerIp,
      drainTimeoutMs: this.drainTimeoutMs,
    });
    this.receiver = new Receiver(o);
    const rt = this.receiver.opts.requestTimeoutMs;
    this.app = Fastify({
      logger: o.logger ?? false,
      bodyLimit: this.receiver.opts.bodyLimit,
      // Node's own timers: headers within the request timeout, checked every second (Node's default is 30 s, which
      // let slow drips run for minutes); the body has the plugin's timer, Node's request timeout is a backstop.
      http: { headersTimeout: rt, connectionsCheckingInterval: Math.min(1000, rt) },
      requestTimeout: Math.min(MAX_TIMER_MS, rt + 1000),
      keepAliveTimeout: 5000, // an idle keep-alive connection holds a slot of maxConnections: Node's default, not Fastify's 72 s
      return503OnClosing: true,
      clientErrorHandler: (err, socket) => this.clientError(err, socket),
      frameworkErrors: (err, _req, reply: FastifyReply) => {
        // FST_ERR_BAD_URL and the like: a plain 400 without Fastify's codes
        const p = new HttpProblem(
          400,
          'bad-request',
          'Bad request',
          err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid (bad percent-encoding)' : 'the request is not valid',
        );
        void reply.code(400).type('application/problem+json').send(JSON.stringify(p.toJSON()));
      },
    });
    this.limitConnections();
    // requests Fastify holds per connection: a connection without one when the drain starts is at most sending headers
    this.app.addHook('onRequest', async (req) => {
      const s = req.raw.socket as Marked;
      s[kActive] = (s[kActive] ?? 0) + 1;
    });
    this.app.addHook('onResponse', async (req) => {
      const s = req.raw.socket as Marked;
      s[kActive] = Math.max(0, (s[kActive] ?? 1) - 1);
    });
    this.app.addHook('onRequest', async (req, reply) => {
      const refused = (req.raw.socket as Marked)[kRefused];
      if (!refused) return;
      reply.header('connection', 'close');
      throw new HttpProblem(
        503,
        'too-many-connections',
        'Too many connections',
        refused === 'server'
          ? `this server takes at most ${this.maxConnections} connections`
          : `this server takes at most ${this.maxConnectionsPerIp} connections from one address`,
        {},
        { 'retry-after': '1' },
      );
    });
    this.app.setErrorHandler((err, _req, reply) => {
      const p =
        err instanceof HttpProblem
          ? err
          : new HttpProblem(500, 'internal', 'Internal error', 'the server failed on this request; the failure was logged');
      if (!(err instanceof HttpProblem)) this.receiver.reportInternal(err, 'server');
      for (const [k, v] of Object.entries(p.headers)) reply.header(k, v);
      return reply.code(p.status).type('application/problem+json').send(JSON.stringify(p.toJSON()));
    });
    this.app.setNotFoundHandler((req, reply) => {
      const p = new HttpProblem(404, 'not-found', 'Not found', `no route ${req.method} ${req.url.split('?')[0]}`);
      return reply.code(404).type('application/problem+json').send(JSON.stringify(p.toJSON()));
    });
  }

  /** Errors Node's HTTP parser raises before Fastify sees a request (bad framing, slow headers, huge headers). */
  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const p =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new HttpProblem(
            408,
            'request-timeout',
            'Request timeout',
            `the request did not arrive within ${this.receiver.opts.requestTimeoutMs} ms`,
          )
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? new HttpProblem(431, 'headers-too-large', 'Request header fields too large', 'the request headers exceed the size limit')
          : new HttpProblem(400, 'bad-request', 'Bad request', 'the request is not valid HTTP/1.1');
    this.receiver.m.requests.inc({ route: 'unmatched', status: String(p.status) });
    if (socket.writable) socket.end(rawProblemResponse(p));
    else socket.destroy();
  }

  /**
   * At most `maxConnections` open connections, `maxConnectionsPerIp` per client address: a connection over either is
   * marked, its first request gets 503 `too-many-connections` (Connection: close), and it is cut 2 s later at most.
   * A connection that never sends a byte is cut at the request timeout (Node times only requests that have begun).
   */
  private limitConnections(): void {
    const perIp = new Map<string, number>();
    let total = 0;
    this.app.server.on('connection', (socket: Socket) => {
      const ip = socket.remoteAddress ?? '';
      const n = perIp.get(ip) ?? 0;
      if (total >= this.maxConnections || n >= this.maxConnectionsPerIp) {
        const why = total >= this.maxConnections ? 'server' : 'address';
        (socket as Marked)[kRefused] = why;
        this.receiver.m.refused.inc({ reason: why });
        setTimeout(() => socket.destroy(), 2000).unref();
        return;
      }
      total++;
      perIp.set(ip, n + 1);
      this.connections.add(socket);
      const first = setTimeout(() => socket.destroy(), this.receiver.opts.requestTimeoutMs);
      first.unref();
      socket.once('data', () => clearTimeout(first));
      socket.once('close', () => {
        clearTimeout(first);
        total--;
        this.connections.delete(socket);
        const m = (perIp.get(ip) ?? 1) - 1;
        if (m > 0) perIp.set(ip, m);
        else perIp.delete(ip);
      });
    });
  }

  /** Load the models and register the receiver plugin (routes exist; not yet warm). */
  async init(): Promise<void> {
    await this.receiver.load();
    await this.app.register(webvcmReceiver, { receiver: this.receiver });
  }

  /** Compile the pipelines (both methods, each configured size); /healthz answers 200 after it. */
  warmup(): Promise<void> {
    return this.receiver.warmup();
  }
  get queue(): WorkQueue {
    return this.receiver.queue;
  }
  get isReady(): boolean {
    return this.receiver.isReady;
  }
  get fingerprints(): string[] {
    return this.receiver.fingerprints;
  }
  gpuBuffers(): { live: number; free: number } {
    return this.receiver.gpuBuffers();
  }
  detect(bytes: Uint8Array, deadlineMs?: number): ReturnType<Receiver['detect']> {
    return this.receiver.detect(bytes, deadlineMs);
  }

  listen(port: number, host = '127.0.0.1'): Promise<string> {
    return this.app.listen({ port, host });
  }

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
    const cut = setTimeout(() => {
      this.receiver.terminateSockets();
      for (const c of this.connections) c.destroy();
    }, this.drainTimeoutMs);
    // Node stops timing headers on close: a connection still without a request one request timeout later is cut
    const sweep = setTimeout(
      () => {
        for (const c of this.connections) if (!(c as Marked)[kActive]) c.destroy();
      },
      Math.min(this.receiver.opts.requestTimeoutMs, this.drainTimeoutMs),
    );
    try {
      await this.receiver.drain(this.drainTimeoutMs);
      await this.app.close();
      this.receiver.dispose();
    } finally {
      clearTimeout(cut);
      clearTimeout(sweep);
    }
  }
}

export async function createServer(o: ServeOptions): Promise<VcmServer> {
  const s = new VcmServer(o);
  await s.init();
  return s;
}
