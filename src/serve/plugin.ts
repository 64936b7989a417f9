/**
 * The receiver as a Fastify plugin (docs/serve.md, "Embedding"): an application registers it next to its own routes.
 *
 *   await app.register(webvcmReceiver, { detector, codecs, prefix: '/vcm' });
 *   app.webvcm.detect(bytes)   // the receiver, decorated on the app (fastify-plugin: visible outside)
 *
 * The routes, their hooks (auth, the body timer, metrics), the .vcm-only content-type parsers, CORS and the error
 * handler live in an encapsulated child context, so they do not touch the application's own routes. Requests and
 * replies have JSON schemas; errors leave as application/problem+json (problem.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import { HttpProblem, VCM_MEDIA_HINT, VCM_MEDIA_TYPES, problemFromError } from './problem.ts';
import { Receiver, type ReceiverOptions, type StreamSocket } from './receiver.ts';
import { STATUS_CODES } from 'node:http';

declare module 'fastify' {
  interface FastifyInstance {
    /** The webvcm receiver: detect(), models(), queue, metrics registry, warmup(). */
    webvcm: Receiver;
  }
  interface FastifyRequest {
    /** Arrival time (performance.now()) for the latency histogram. */
    webvcmStart: number;
    /** The body timer of this request (requestTimeoutMs from arrival), cleared once the body is in. */
    webvcmBodyTimer: ReturnType<typeof setTimeout> | null;
  }
  interface FastifyContextConfig {
    /** webvcm: no token needed (/healthz). */
    webvcmPublic?: boolean;
    /** webvcm: the token may come as ?access_token= (the WebSocket). */
    webvcmQueryToken?: boolean;
  }
}

export interface ReceiverPluginOptions extends ReceiverOptions {
  /** A receiver built and loaded beforehand (the standalone server owns its lifecycle); else one is built from these options. */
  receiver?: Receiver;
  /** URL prefix of the receiver's routes (default none). */
  prefix?: string;
  /** Compile the pipelines once the application is ready (default true); /healthz answers 503 until then. */
  autoWarmup?: boolean;
}

const pair = { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 } as const;
const sizes = {
  type: 'object',
  required: ['original', 'resized', 'padded'],
  properties: { original: pair, resized: pair, padded: pair },
} as const;
/** The detections reply: the detections JSON (docs/detections-json.md) plus the codec fingerprint and server timings. */
export const detectReplySchema = {
  type: 'object',
  required: ['format', 'version', 'boxes', 'scores', 'classes', 'labels', 'sizes', 'fingerprint', 'timings'],
  properties: {
    format: { type: 'string' },
    version: { type: 'integer' },
    boxes: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4 } },
    scores: { type: 'array', items: { type: 'number' } },
    classes: { type: 'array', items: { type: 'integer' } },
    labels: { type: 'array', items: { type: 'string' } },
    sizes,
    fingerprint: { type: 'string' },
    timings: { type: 'object', additionalProperties: { type: 'number' } },
  },
} as const;
const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
  additionalProperties: true,
} as const;
const modelsSchema = {
  type: 'object',
  required: ['detector', 'codecs', 'limits'],
  properties: {
    detector: {
      type: 'object',
      properties: {
        kind: { type: 'string' },
        fingerprint: { type: 'string' },
        stemChannels: { type: 'integer' },
        precision: { type: 'string' },
      },
    },
    codecs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          kind: { type: 'string' },
          fingerprint: { type: 'string' },
          C: { type: 'integer' },
          N: { type: 'integer' },
          M: { type: 'integer' },
          methods: { type: 'array', items: { type: 'integer' } },
          modes: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    limits: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

function sendProblem(reply: FastifyReply, p: HttpProblem): FastifyReply {
  for (const [k, v] of Object.entries(p.headers)) reply.header(k, v);
  return reply.code(p.status).type('application/problem+json').send(JSON.stringify(p.toJSON()));
}

/** The routes, in their own (encapsulated) context. */
async function routes(app: FastifyInstance, o: { receiver: Receiver }): Promise<void> {
  const r = o.receiver;
  app.decorateRequest('webvcmStart', 0);
  app.decorateRequest('webvcmBodyTimer', null);

  // Anything that still answers an error in another format (a plugin's text/plain, say) leaves as problem+json.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (reply.statusCode < 400 || /problem\+json/.test(String(reply.getHeader('content-type') ?? ''))) return payload;
    const status = reply.statusCode;
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
    const detail = /^[\x20-\x7e]{1,200}$/.test(text) && !text.startsWith('{') ? text : (STATUS_CODES[status] ?? 'error');
    reply.type('application/problem+json');
    return JSON.stringify(
      new HttpProblem(status, status === 400 ? 'bad-request' : `http-${status}`, STATUS_CODES[status] ?? 'Error', detail).toJSON(),
    );
  });
  if (r.opts.cors) {
    // '*' is answered as '*' (not the reflected origin); the deadline header may be sent cross-origin
    await app.register(cors, {
      origin: r.opts.cors === true ? '*' : r.opts.cors,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', 'x-webvcm-deadline-ms'],
      exposedHeaders: ['retry-after'],
      maxAge: 600,
    });
  }
  if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { maxPayload: r.opts.bodyLimit + 4 } });
  // Only .vcm bodies are parsed: without Fastify's default JSON/text parsers, every other media type (a JSON body that
  // does not even parse included) is one 415, before any of it is read.
  app.removeAllContentTypeParsers();
  for (const ct of VCM_MEDIA_TYPES) {
    app.addContentTypeParser(ct, { parseAs: 'buffer', bodyLimit: r.opts.bodyLimit }, (_req, body, done) => done(null, body));
  }

  app.addHook('onRequest', async (req, reply) => {
    req.webvcmStart = performance.now();
    const cfg = req.routeOptions.config;
    if (req.method !== 'OPTIONS' && !cfg.webvcmPublic) {
      const q = cfg.webvcmQueryToken ? (req.query as { access_token?: string } | undefined)?.access_token : undefined;
      r.checkToken(req.headers.authorization, q);
    }
    bodyTimer(r, req, reply);
  });
  // the body arrived (or there was none): its timer stops
  app.addHook('preValidation', async (req) => {
    clearBodyTimer(req);
  });
  app.addHook('onRequestAbort', async (req) => {
    clearBodyTimer(req);
  });
  app.addHook('onResponse', async (req, reply) => {
    clearBodyTimer(req);
    const route = req.routeOptions?.url ?? 'unmatched';
    r.m.requests.inc({ route, status: String(reply.statusCode) });
    r.m.latency.observe({ route }, (performance.now() - req.webvcmStart) / 1000);
  });
  app.setErrorHandler((err, req, reply) => {
    const { problem, internal } = problemFromError(err, r.opts);
    if (internal) r.reportInternal(err, `${req.method} ${req.url.split('?')[0]}`);
    return sendProblem(reply, problem);
  });

  app.get(
    '/healthz',
    {
      config: { webvcmPublic: true },
      schema: {
        response: {
          200: { type: 'object', properties: { status: { type: 'string' }, queue: { type: 'integer' }, models: { type: 'integer' } } },
          503: problemSchema,
        },
      },
    },
    async (_req, reply) => {
      if (!r.isReady) {
        // a problem like every other error; `state` names it
        const p = r.isDraining
          ? new HttpProblem(503, 'draining', 'Shutting down', 'the server is draining', { state: 'draining' }, { 'retry-after': '1' })
          : new HttpProblem(
              503,
              'warming-up',
              'Not ready',
              'the server is compiling its GPU pipelines',
              { state: 'warming-up' },
              { 'retry-after': '5' },
            );
        return sendProblem(reply, p);
      }
      return { status: 'ready', queue: r.queue.depth, models: r.fingerprints.length };
    },
  );
  app.get('/metrics', async (_req, reply) => reply.type(r.registry.contentType).send(await r.metricsText()));
  app.get('/v1/models', { schema: { response: { 200: modelsSchema } } }, async () => r.models());
  app.post(
    '/v1/detect',
    {
      schema: {
        // a client may shorten (never extend) its deadline
        headers: { type: 'object', properties: { 'x-webvcm-deadline-ms': { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } },
        response: { 200: detectReplySchema, '4xx': problemSchema, '5xx': problemSchema },
      },
    },
    async (req) => {
      const body = req.body;
      if (!(body instanceof Uint8Array)) throw new HttpProblem(415, 'unsupported-media-type', 'Unsupported media type', VCM_MEDIA_HINT);
      const hd = req.headers['x-webvcm-deadline-ms'];
      const deadline = hd === undefined ? r.opts.deadlineMs : Math.min(Number(hd), r.opts.deadlineMs);
      return r.detect(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), deadline);
    },
  );
  app.get(
    '/v1/stream',
    {
      websocket: true,
      config: { webvcmQueryToken: true },
      schema: {
        querystring: {
          type: 'object',
          properties: { pending: { type: 'integer', minimum: 0 }, access_token: { type: 'string', maxLength: 1024 } },
        },
      },
      preValidation: async (req) => r.checkOrigin(req.headers.origin, req.headers.host),
    },
    (socket, req) => {
      // ?pending=N lowers (never raises) this connection's waiting-frame allowance
      const n = (req.query as { pending?: number }).pending;
      r.stream(socket as unknown as StreamSocket, n === undefined ? r.opts.streamPending : Math.min(n, r.opts.streamPending));
    },
  );
}

/**
 * A request with a body must have all of it within `requestTimeoutMs` of its arrival, also while the server drains
 * (Node stops its own checks on close): the body parser then fails with a 408 problem, sent with Connection: close.
 */
function bodyTimer(r: Receiver, req: FastifyRequest, reply: FastifyReply): void {
  const h = req.headers;
  if (!(Number(h['content-length']) > 0 || h['transfer-encoding'] !== undefined)) return;
  req.webvcmBodyTimer = setTimeout(() => {
    req.webvcmBodyTimer = null;
    if (reply.sent || req.raw.complete) return;
    const p = new HttpProblem(408, 'request-timeout', 'Request timeout', `the body did not arrive within ${r.opts.requestTimeoutMs} ms`);
    reply.header('connection', 'close');
    // the body parser listens for 'error' while it reads: it fails with this problem and Fastify answers it
    if (req.raw.listenerCount('error') > 0) req.raw.emit('error', Object.assign(p, { statusCode: 408 }));
    else req.raw.socket?.destroy();
  }, r.opts.requestTimeoutMs);
}

function clearBodyTimer(req: FastifyRequest): void {
  if (req.webvcmBodyTimer) {
    clearTimeout(req.webvcmBodyTimer);
    req.webvcmBodyTimer = null;
  }
}

/** The plugin. Registers the routes under `prefix` and decorates the app with `webvcm` (the Receiver). */
export const webvcmReceiver = fp(
  async (fastify: FastifyInstance, o: ReceiverPluginOptions) => {
    const owned = !o.receiver;
    const r = o.receiver ?? new Receiver(o);
    if (owned) await r.load();
    fastify.decorate('webvcm', r);
    // internal errors go to the application's logger when it logs errors, else to onInternalError / stderr
    r.log = (err, where) => {
      const log = fastify.log as { isLevelEnabled?: (l: string) => boolean; error: (o: unknown, m: string) => void };
      if (!log.isLevelEnabled?.('error')) return false;
      log.error({ err }, `webvcm: internal error (${where})`);
      return true;
    };
    await fastify.register(routes, { prefix: o.prefix ?? '', receiver: r });
    if (owned) {
      if (o.autoWarmup !== false)
        fastify.addHook('onReady', async () => {
          r.warmup().catch((e: unknown) => r.reportInternal(e, 'warm-up'));
        });
      fastify.addHook('preClose', async () => {
        await r.drain(r.opts.deadlineMs);
      });
      fastify.addHook('onClose', async () => {
        r.dispose();
      });
    }
  },
  { name: 'webvcm-receiver', fastify: '5.x' },
);

export default webvcmReceiver;
