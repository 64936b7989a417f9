/**
 * The remote receiver: the same `decode()` result as the local decoder (src/api), computed by a `webvcm serve`
 * server. Uses only fetch and WebSocket, so it runs in browsers and in Node ≥ 22 (Node 20: pass `WebSocket`).
 *
 *   const remote = createRemoteDecoder({ url: 'http://127.0.0.1:8787', token });
 *   const { detections } = await remote.decode(encodeResult.bytes);
 *   const s = await remote.stream({ onMessage: (m) => … });  s.send(frameId, bytes);
 *
 * With a bitrate budget (a variable-rate codec), the stream chooses each frame's gain from the bytes it sent:
 *   const { gains } = encoder.codecModel;
 *   const s = await remote.stream({ onMessage, rate: { budgetKbps: 300, minGain: Math.min(...gains), maxGain: Math.max(...gains) } });
 *   const r = await encoder.encode(frame, { scale: s.nextScale() });  s.send(frameId, r.bytes);   // s.setBudget(150) …
 */
import { detectionsFromJson, type DetectionsJson } from '../api/detections-json.ts';
import { readContainer } from '../coder/container.ts';
import type { Detections, ImageSizes } from '../model/detector/types.ts';
import { VcmError, type VcmErrorKind } from '../util/errors.ts';
import { RateController, type RateControllerOptions, type RateStats } from './rate-controller.ts';

export interface RemoteDecodeResult {
  detections: Detections;
  sizes: ImageSizes;
  /** Server-side timings (ms): decoder stages plus 'queue wait' and 'server total'. */
  timings: Record<string, number>;
  /** Client-side round trip (ms). */
  roundTripMs: number;
  /** The class name of each detection (the served detector's names). */
  labels: string[];
  /** The same as `labels` (the older name). */
  names: string[];
  /** The detections JSON the server sent (docs/detections-json.md), checked, without the server's extra keys. */
  json: DetectionsJson;
  /** The codec fingerprint the server decoded with. */
  fingerprint: string;
}

/**
 * The kind of a server's answer: 4xx is the caller's (input; 413 and 429 are limits: resource), 500 is the server's
 * bug (internal), other 5xx and transport failures (status 0) are transient (resource).
 */
export function remoteErrorKind(status: number): VcmErrorKind {
  if (status === 413 || status === 429) return 'resource';
  if (status >= 400 && status < 500) return 'input';
  return status === 500 ? 'internal' : 'resource';
}

/**
 * Every failure of the client: a problem+json from the server, a transport failure or timeout (status 0), a reply
 * over the size cap or one that is not the expected JSON (`bad-response`). The message is safe to print: text the
 * server chose (title, detail) is stripped of escape sequences and control characters and shortened.
 */
export class RemoteError extends VcmError {
  override name = 'RemoteError';
  constructor(
    readonly status: number,
    readonly problemType: string,
    message: string,
    readonly problem: Record<string, unknown> = {},
    readonly retryAfterS?: number,
    kind: VcmErrorKind = remoteErrorKind(status),
  ) {
    super(kind, sanitizeText(message, 1000));
  }
}

/** Largest Retry-After the client reports (s): a server cannot park its clients for days. */
export const MAX_RETRY_AFTER_S = 300;

/**
 * Text from a server, made safe for a terminal: ANSI CSI and OSC sequences and other C0/C1 control characters
 * removed, at most `max` characters.
 */
export function sanitizeText(s: string, max = 300): string {
  const t = s
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)?|\x9d[^\x07\x9c]*(\x07|\x9c)?/g, '') // OSC … BEL/ST
    // eslint-disable-next-line no-control-regex
    .replace(/(\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?/g, '') // CSI
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '') // the rest of C0 (tab and newline stay), DEL, C1
    .replace(/[\u202a-\u202e\u2066-\u2069]/g, ''); // bidi overrides
  return t.length > max ? t.slice(0, max) + '…' : t;
}

export interface RemoteDecoderOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8787. */
  url: string;
  /** Bearer token when the server has auth on. */
  token?: string;
  /** Deadline for a whole exchange (connect, headers and the whole body), ms (default 60000). */
  timeoutMs?: number;
  /** Largest response body the client reads, bytes (default 16 MiB); beyond it: RemoteError `response-too-large`. */
  maxResponseBytes?: number;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

export type StreamMessage =
  | ({ type: 'detections'; id: number } & RemoteDecodeResult)
  | { type: 'dropped'; id: number; reason: 'behind' | 'server-busy' | 'closed' }
  | { type: 'error'; id: number | null; problem: Record<string, unknown> };

export interface RemoteStream {
  /** Send one frame (frame id: an unsigned 32-bit integer of the caller's choosing). With a budget, its size and
   * gain (read from the container) feed the rate controller. */
  send(id: number, bytes: Uint8Array): void;
  /** With a budget: the gain to code the next frame at (`encode(frame, { scale })`); undefined without one. */
  nextScale(): number | undefined;
  /** Change the budget (kbit/s) mid-stream. */
  setBudget(kbps: number): void;
  /** The controller's view: budget, bytes per frame allowed, last frame's bytes and gain, measured kbit/s. */
  rateStats(): RateStats | null;
  close(): Promise<void>;
  readonly socket: WebSocket;
}

/** What the server sends for one stream: the detections JSON + its fingerprint and timings. */
interface WireDetect {
  timings?: Record<string, number>;
  fingerprint?: string;
}

/**
 * The detections reply checked (detectionsFromJson for the detections JSON, here for the fingerprint and timings);
 * anything else is a RemoteError `bad-response` (never a TypeError later). Labels are made safe to print.
 */
function checkWire(j: unknown, where: string): WireDetect & { json: DetectionsJson; detections: Detections } {
  const bad = (why: string) =>
    new RemoteError(0, 'bad-response', `${where}: the server's reply is not a detections object (${why})`, {}, undefined, 'resource');
  let parsed: { json: DetectionsJson; detections: Detections };
  try {
    parsed = detectionsFromJson(j);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const o = j as Record<string, unknown>;
  const tm = o.timings as Record<string, unknown> | null | undefined;
  if (
    tm !== undefined &&
    (tm === null || typeof tm !== 'object' || Array.isArray(tm) || !Object.values(tm).every((v) => typeof v === 'number'))
  )
    throw bad('timings');
  if (typeof o.fingerprint !== 'string' || !/^[0-9a-f]{1,128}$/.test(o.fingerprint)) throw bad('fingerprint');
  parsed.json.labels = parsed.json.labels.map((x) => sanitizeText(x, 100));
  return { timings: tm as Record<string, number> | undefined, fingerprint: o.fingerprint, ...parsed };
}

function toResult(j: ReturnType<typeof checkWire>, roundTripMs: number): RemoteDecodeResult {
  const { json, detections } = j;
  return {
    detections,
    sizes: json.sizes,
    timings: j.timings ?? {},
    roundTripMs,
    labels: json.labels,
    names: json.labels,
    json,
    fingerprint: String(j.fingerprint ?? ''),
  };
}

/** The body as text, refusing (RemoteError `response-too-large`) as soon as it passes `cap` bytes. */
async function readCapped(res: Response, cap: number, path: string): Promise<string> {
  const tooLarge = () => new RemoteError(res.status, 'response-too-large', `${path}: the server's reply exceeds ${cap} bytes`);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > cap) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  return new TextDecoder().decode(all);
}

export class RemoteDecoder {
  private readonly base: string;
  private readonly f: typeof fetch;
  constructor(private readonly o: RemoteDecoderOptions) {
    let u: URL;
    try {
      u = new URL(o.url);
    } catch {
      throw new RemoteError(0, 'bad-url', `not a URL: ${JSON.stringify(o.url)}`, {}, undefined, 'input');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new RemoteError(0, 'bad-url', `the server URL must be http(s), got ${u.protocol}`, {}, undefined, 'input');
    this.base = u.href.replace(/\/+$/, '');
    const f = o.fetch ?? globalThis.fetch;
    if (!f) throw new RemoteError(0, 'no-fetch', 'fetch is not available in this environment', {}, undefined, 'unsupported');
    this.f = f.bind(globalThis);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.o.token ? { ...extra, authorization: `Bearer ${this.o.token}` } : extra;
  }

  /**
   * One exchange under one deadline (connect, headers and the whole body) and one size cap; returns the parsed JSON.
   * Every failure is a RemoteError.
   */
  private async request(path: string, init: RequestInit): Promise<unknown> {
    const ctl = new AbortController();
    const ms = this.o.timeoutMs ?? 60000;
    const timer = setTimeout(() => ctl.abort(), ms);
    const cap = this.o.maxResponseBytes ?? 16 << 20;
    const transport = (e: unknown) =>
      e instanceof RemoteError
        ? e
        : new RemoteError(
            0,
            'transport',
            `${path}: ${ctl.signal.aborted ? `no complete answer within ${ms} ms` : ((e as Error)?.message ?? String(e))}`,
          );
    try {
      let res: Response;
      try {
        res = await this.f(this.base + path, { ...init, signal: ctl.signal });
      } catch (e) {
        throw transport(e);
      }
      let text: string;
      try {
        text = await readCapped(res, cap, path);
      } catch (e) {
        throw transport(e);
      }
      let body: unknown;
      let parsed = true;
      try {
        body = JSON.parse(text);
      } catch {
        parsed = false;
      }
      if (!res.ok) {
        const p = parsed && body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
        const ra = Number(res.headers.get('retry-after'));
        const str = (v: unknown) => (typeof v === 'string' ? v : '');
        throw new RemoteError(
          res.status,
          str(p.type) || 'http',
          `${path}: ${res.status} ${str(p.title) || res.statusText}${str(p.detail) ? `: ${str(p.detail)}` : ''}`,
          p,
          Number.isFinite(ra) && ra > 0 ? Math.min(ra, MAX_RETRY_AFTER_S) : undefined,
        );
      }
      if (!parsed) throw new RemoteError(res.status, 'bad-response', `${path}: the server's ${res.status} reply is not JSON`);
      return body;
    } finally {
      clearTimeout(timer);
    }
  }

  async decode(bytes: Uint8Array): Promise<RemoteDecodeResult> {
    const t0 = performance.now();
    const j = await this.request('/v1/detect', {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/octet-stream' }),
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    return toResult(checkWire(j, '/v1/detect'), performance.now() - t0);
  }

  async models(): Promise<unknown> {
    return this.request('/v1/models', { headers: this.headers() });
  }
  async health(): Promise<{ ready: boolean; status: string }> {
    try {
      const j = (await this.request('/healthz', {})) as { status?: unknown } | null;
      const status = typeof j?.status === 'string' ? sanitizeText(j.status, 40) : 'unknown';
      return { ready: status === 'ready', status };
    } catch (e) {
      if (e instanceof RemoteError && e.status === 503) return { ready: false, status: 'unavailable' };
      throw e;
    }
  }

  /** Open the WebSocket stream; resolves once it is open. */
  stream(handlers: { onMessage: (m: StreamMessage) => void; onClose?: () => void; rate?: RateControllerOptions }): Promise<RemoteStream> {
    let rc: RateController | null;
    try {
      rc = handlers.rate ? new RateController(handlers.rate) : null;
    } catch (e) {
      return Promise.reject(e);
    }
    const WS = this.o.WebSocket ?? globalThis.WebSocket;
    if (!WS)
      return Promise.reject(
        new RemoteError(0, 'no-websocket', 'WebSocket is not available (pass options.WebSocket)', {}, undefined, 'unsupported'),
      );
    const u = new URL(this.base + '/v1/stream');
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (this.o.token) u.searchParams.set('access_token', this.o.token);
    const ws = new WS(u.href);
    ws.binaryType = 'arraybuffer';
    const sent = new Map<number, number>();
    return new Promise((resolve, reject) => {
      ws.onerror = () => reject(new RemoteError(0, 'transport', `could not open ${u.origin}/v1/stream`));
      ws.onopen = () => {
        ws.onerror = null;
        resolve({
          socket: ws,
          send: (id, bytes) => {
            if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`frame id must be a u32, got ${id}`);
            const buf = new Uint8Array(4 + bytes.length);
            new DataView(buf.buffer).setUint32(0, id, true);
            buf.set(bytes, 4);
            const now = performance.now();
            sent.set(id, now);
            ws.send(buf);
            const gain = rc ? gainOf(bytes) : null;
            if (rc && gain !== null) rc.update(bytes.length, gain, now);
          },
          nextScale: () => rc?.nextGain(),
          setBudget: (kbps) => {
            if (!rc) throw new RangeError('this stream was opened without a rate budget (stream({ rate }))');
            rc.setBudget(kbps);
          },
          rateStats: () => rc?.stats() ?? null,
          close: () =>
            new Promise<void>((r) => {
              if (ws.readyState === WS.CLOSED) {
                r();
                return;
              }
              ws.addEventListener('close', () => r(), { once: true });
              ws.close();
            }),
        });
      };
      ws.onclose = () => handlers.onClose?.();
      ws.onmessage = (ev: MessageEvent) => {
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(String(ev.data)) as Record<string, unknown>;
        } catch {
          return;
        }
        if (m.type === 'detections') {
          const id = m.id as number;
          const t = sent.get(id);
          sent.delete(id);
          let r: RemoteDecodeResult;
          try {
            r = toResult(checkWire(m, '/v1/stream'), t === undefined ? NaN : performance.now() - t);
          } catch (e) {
            handlers.onMessage({ type: 'error', id, problem: { type: 'bad-response', title: 'Bad reply', detail: (e as Error).message } });
            return;
          }
          handlers.onMessage({ type: 'detections', id, ...r });
        } else {
          if (typeof m.id === 'number') sent.delete(m.id);
          handlers.onMessage(m as unknown as StreamMessage);
        }
      };
    });
  }
}

/** The gain a stream was coded at (null when it does not parse: the server will say why; the controller skips it). */
function gainOf(bytes: Uint8Array): number | null {
  try {
    return readContainer(bytes).gain;
  } catch {
    return null;
  }
}

export function createRemoteDecoder(o: RemoteDecoderOptions): RemoteDecoder {
  return new RemoteDecoder(o);
}
