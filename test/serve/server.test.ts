/**
 * `webvcm serve` in one in-process server (one per file): readiness, detections identical to a local decode, auth,
 * CORS, 409 by fingerprint, 413, 415, 503 + Retry-After, deadline expiry, malformed-then-valid, the WebSocket stream
 * (30 frames in order; a slow consumer sees the keep-newest drop policy), metrics, the remote client, drain on close.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { createRemoteDecoder, RemoteError, type StreamMessage } from '../../src/client/remote.ts';
import { inspectFile } from '../../src/cli/inspect.ts';
import type { Detections } from '../../src/model/detector/types.ts';
import { GpuDeviceLostError, GpuShapeError } from '../../src/gpu/errors.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/default/detector.safetensors';
const COD = 'weights/default/codec.safetensors';
const SIZE = { minSize: 128, maxSize: 192 };
// Fewer proposals keep each decode short on a software adapter; the local reference uses the same settings.
const CFG = { rpnPreNmsTopK: 200, rpnPostNmsTopK: 50 };
const TOKEN = 'test-token-' + 'x'.repeat(20);
const ORIGIN = 'http://allowed.example';
const BODY_LIMIT = 256 * 1024;

let server: VcmServer;
let base = '';
const streams: Uint8Array[] = [];
const expected: Detections[] = [];

type WsLike = WebSocket;
async function wsClass(): Promise<typeof WebSocket> {
  const m = (await import('ws')) as unknown as { WebSocket: typeof WebSocket };
  return m.WebSocket;
}

function post(body: Uint8Array | string, headers: Record<string, string> = {}, auth = true): Promise<Response> {
  return fetch(`${base}/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}), ...headers },
    body: body as BodyInit,
  });
}

function sameDetections(a: { boxes: number[][]; scores: number[]; classes: number[] }, d: Detections): void {
  expect(a.scores).toEqual(Array.from(d.scores));
  expect(a.classes).toEqual(Array.from(d.classes));
  expect(a.boxes.flat()).toEqual(Array.from(d.boxes));
}

describeGpu('webvcm serve', () => {
  beforeAll(async () => {
    const enc = await createEncoder({ detector: DET, codec: COD, mode: 'portable', ...SIZE, detectorConfig: CFG });
    const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: enc.device, detectorConfig: CFG });
    for (const f of ['000000000002.png', '000000000003.png']) {
      const { bytes } = await enc.encode(new Uint8Array(readFileSync(`weights/mini-coco/${f}`)));
      streams.push(bytes);
      expected.push((await dec.decode(bytes)).detections);
    }
    // the decoder was created on the encoder's device: it must survive the encoder's dispose (device ownership)
    enc.dispose();
    expect((await dec.decode(streams[0]!)).detections.scores).toEqual(expected[0]!.scores);
    dec.dispose();

    server = await createServer({
      detector: DET,
      codecs: [COD],
      tokens: [TOKEN],
      cors: [ORIGIN],
      queueLimit: 2,
      bodyLimit: BODY_LIMIT,
      streamPending: 64,
      detectorConfig: CFG,
      warmup: { sizes: [[150, 225]], ...SIZE },
    });
    base = await server.listen(0);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 503 with Retry-After until warm, then 200; detections equal a local decode', async () => {
    const h0 = await fetch(`${base}/healthz`);
    expect(h0.status).toBe(503);
    expect(h0.headers.get('retry-after')).toBe('5');
    const early = await post(streams[0]!);
    expect(early.status).toBe(503);
    expect(early.headers.get('content-type')).toMatch(/application\/problem\+json/);
    await server.warmup();
    const h1 = await fetch(`${base}/healthz`);
    expect(h1.status).toBe(200);
    expect(((await h1.json()) as { status: string }).status).toBe('ready');
    for (let i = 0; i < 2; i++) {
      const r = await post(streams[i]!);
      expect(r.status).toBe(200);
      const j = (await r.json()) as {
        boxes: number[][];
        scores: number[];
        classes: number[];
        labels: string[];
        timings: Record<string, number>;
      };
      sameDetections(j, expected[i]!);
      expect(j.labels.length).toBe(j.classes.length);
      expect(j.timings['server total']).toBeGreaterThan(0);
    }
  });

  it('one fingerprint everywhere: inspect, the container and /v1/models agree; other weights get 409', async () => {
    const fp = (await inspectFile(COD)).fingerprint!;
    expect(Buffer.from(streams[0]!.subarray(8, 24)).toString('hex')).toBe(fp);
    const models = (await (await fetch(`${base}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      codecs: { fingerprint: string; C: number; N: number; M: number; methods: number[] }[];
    };
    expect(models.codecs.map((c) => c.fingerprint)).toEqual([fp]);
    expect(models.codecs[0]!.C).toBe(64);
    const other = streams[0]!.slice();
    other[8] ^= 0xff;
    const r = await post(other);
    expect(r.status).toBe(409);
    const p = (await r.json()) as { type: string; served: string[]; fingerprint: string };
    expect(p.type).toMatch(/unknown-weights/);
    expect(p.served).toEqual([fp]);
    expect(p.fingerprint).not.toBe(fp);
  });

  it('auth: 401 without or with a wrong token; /healthz stays open', async () => {
    const a = await post(streams[0]!, {}, false);
    expect(a.status).toBe(401);
    expect(a.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await a.json()) as { type: string }).type).toMatch(/unauthorized/);
    const b = await post(streams[0]!, { authorization: 'Bearer wrong' }, false);
    expect(b.status).toBe(401);
    expect((await fetch(`${base}/v1/models`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('CORS: the configured origin is allowed (preflight included), others are not', async () => {
    const pre = await fetch(`${base}/v1/detect`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const ok = await post(streams[0]!, { origin: ORIGIN });
    expect(ok.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const bad = await post(streams[0]!, { origin: 'http://evil.example' });
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('413 for oversize bodies, 415 for other content types, 400 for a bad deadline header', async () => {
    const big = await post(new Uint8Array(BODY_LIMIT + 1));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { type: string }).type).toMatch(/body-too-large/);
    const ct = await post(streams[0]!, { 'content-type': 'text/plain' });
    expect(ct.status).toBe(415);
    expect(ct.headers.get('content-type')).toMatch(/problem\+json/);
    // JSON, parseable or not, and multipart are the same 415 (not a 400 from a JSON parser)
    for (const [type, body] of [
      ['application/json', streams[0]!],
      ['application/json', '{"a":1}'],
      ['multipart/form-data; boundary=x', streams[0]!],
    ] as const) {
      const r = await post(body, { 'content-type': type });
      expect(r.status, type).toBe(415);
      expect(((await r.json()) as { type: string }).type).toMatch(/unsupported-media-type/);
    }
    expect((await post(streams[0]!, { 'x-webvcm-deadline-ms': 'soon' })).status).toBe(400);
  });

  it('a deadline that expires gives 504; the next request is answered correctly', async () => {
    const r = await post(streams[0]!, { 'x-webvcm-deadline-ms': '1' });
    expect(r.status).toBe(504);
    expect(((await r.json()) as { type: string }).type).toMatch(/deadline-exceeded/);
    const ok = await post(streams[1]!);
    expect(ok.status).toBe(200);
    sameDetections((await ok.json()) as never, expected[1]!);
  });

  it('a full queue answers 503 with Retry-After; every other request is correct', async () => {
    const rs = await Promise.all(Array.from({ length: 7 }, () => post(streams[0]!)));
    const codes = rs.map((r) => r.status);
    expect(codes.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
    for (const r of rs) {
      if (r.status === 503) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await r.json()) as { type: string }).type).toMatch(/overloaded/);
      } else sameDetections((await r.json()) as never, expected[0]!);
    }
  });

  it('malformed streams get 400 and do not poison the next request or leak GPU buffers', async () => {
    const s = streams[0]!;
    const flipped = s.slice();
    flipped[s.length - 5] ^= 0x5a;
    const header = s.slice();
    new DataView(header.buffer).setUint32(24, 0xffffffff, true); // absurd original height
    const bad = [new Uint8Array(50), s.subarray(0, s.length - 8), crypto.getRandomValues(new Uint8Array(2000)), header, 'WVCM'];
    for (const b of bad) {
      const r = await post(b);
      expect(r.status, `status for a ${b.length}-byte body`).toBe(400);
      expect(((await r.json()) as { type: string }).type).toMatch(/invalid-stream/);
    }
    const f = await post(flipped); // may decode (garbage in the y string) or be refused, never 5xx
    expect([200, 400]).toContain(f.status);
    const ok = await post(s);
    expect(ok.status).toBe(200);
    sameDetections((await ok.json()) as never, expected[0]!);
    expect(server.gpuBuffers().live).toBe(0);
  });

  it('an internal error gives 500 with a generic message and a log line with the detail; a resource error 503', async () => {
    const decoder = (server.receiver as unknown as { served: { decoder: { decode: (b: Uint8Array) => Promise<unknown> } }[] }).served[0]!
      .decoder;
    // internal errors are reported whatever the log level (the logger, else onInternalError, else stderr)
    const log = vi.spyOn(server.receiver, 'reportInternal').mockImplementation(() => undefined);
    const decode = vi
      .spyOn(decoder, 'decode')
      .mockRejectedValueOnce(new GpuShapeError('secret internal detail: conv2d expects an HWC feature map'));
    try {
      const r = await post(streams[0]!);
      expect(r.status).toBe(500);
      const p = (await r.json()) as { type: string; detail: string };
      expect(p.type).toMatch(/internal$/);
      expect(p.detail).not.toMatch(/secret|conv2d/);
      expect(log).toHaveBeenCalledTimes(1);
      expect(log.mock.calls[0]![1]).toBe('decode');
      expect(String((log.mock.calls[0]![0] as Error).message)).toMatch(/secret internal detail/);
      decode.mockRejectedValueOnce(new GpuDeviceLostError('unknown', 'test'));
      const r2 = await post(streams[0]!);
      expect(r2.status).toBe(503);
      expect(r2.headers.get('retry-after')).toBe('1');
      const ok = await post(streams[0]!);
      expect(ok.status).toBe(200);
    } finally {
      decode.mockRestore();
      log.mockRestore();
    }
  });

  it('/metrics: Prometheus text with requests by status, latency histogram, queue depth, GPU time, buffers', async () => {
    const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    const t = await r.text();
    expect(t).toMatch(/webvcm_requests_total\{route="\/v1\/detect",status="200"\} \d+/);
    expect(t).toMatch(/webvcm_requests_total\{route="\/v1\/detect",status="503"\} \d+/);
    expect(t).toMatch(/webvcm_request_duration_seconds_bucket/);
    expect(t).toMatch(/webvcm_queue_depth 0/);
    expect(t).toMatch(/webvcm_gpu_seconds_total [1-9]/);
    expect(t).toMatch(/webvcm_gpu_buffers\{state="live"\} 0/);
    expect(t).toMatch(/webvcm_process_resident_memory_bytes/);
  });

  it('createRemoteDecoder: the same decode() result as the local decoder; typed errors', async () => {
    const remote = createRemoteDecoder({ url: base, token: TOKEN });
    const r = await remote.decode(streams[1]!);
    expect(Array.from(r.detections.boxes)).toEqual(Array.from(expected[1]!.boxes));
    expect(Array.from(r.detections.scores)).toEqual(Array.from(expected[1]!.scores));
    expect(Array.from(r.detections.classes)).toEqual(Array.from(expected[1]!.classes));
    expect(r.roundTripMs).toBeGreaterThan(0);
    const e = await createRemoteDecoder({ url: base })
      .decode(streams[1]!)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).status).toBe(401);
    expect(() => createRemoteDecoder({ url: 'ftp://x' })).toThrow(RemoteError);
  });

  it('WebSocket: 30 frames come back in order with their ids; garbage frames get an error and the stream goes on', async () => {
    const remote = createRemoteDecoder({ url: base, token: TOKEN, WebSocket: await wsClass() });
    const got: StreamMessage[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => {
      done = r;
    });
    const s = await remote.stream({
      onMessage: (m) => {
        got.push(m);
        if (got.length === 31) done();
      },
    });
    (s.socket as WsLike).send('not a frame');
    for (let i = 0; i < 30; i++) s.send(1000 + i, streams[i % 2]!);
    await all;
    await s.close();
    expect(got[0]!.type).toBe('error');
    const frames = got.slice(1);
    expect(frames.map((m) => (m as { id: number }).id)).toEqual(Array.from({ length: 30 }, (_, i) => 1000 + i));
    for (const [i, m] of frames.entries()) {
      expect(m.type).toBe('detections');
      if (m.type === 'detections') expect(Array.from(m.detections.scores)).toEqual(Array.from(expected[i % 2]!.scores));
    }
  });

  it('WebSocket: a client that sends faster than the server decodes sees frames dropped (keep newest), all answered in order', async () => {
    const WS = await wsClass();
    const ws = new WS(`${base.replace('http', 'ws')}/v1/stream?pending=1&access_token=${TOKEN}`);
    await new Promise<void>((r, j) => {
      ws.onopen = () => r();
      ws.onerror = () => j(new Error('ws open failed'));
    });
    const got: { type: string; id: number; reason?: string }[] = [];
    const all = new Promise<void>((r) => {
      ws.onmessage = (ev) => {
        got.push(JSON.parse(String(ev.data)));
        if (got.length === 30) r();
      };
    });
    for (let i = 0; i < 30; i++) {
      const b = new Uint8Array(4 + streams[0]!.length);
      new DataView(b.buffer).setUint32(0, i, true);
      b.set(streams[0]!, 4);
      ws.send(b);
    }
    await all;
    ws.close();
    expect(got.map((m) => m.id)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const dropped = got.filter((m) => m.type === 'dropped');
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((m) => m.reason === 'behind')).toBe(true);
    expect(got[0]!.type).toBe('detections');
    expect(got[29]!.type).toBe('detections'); // the newest frame is always kept
    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/webvcm_stream_frames_dropped_total\{reason="behind"\} [1-9]/);
  });

  it('close() drains: a request in flight completes, then new work gets 503', async () => {
    await server.queue.idle(); // decodes left from the stream tests (a closed socket's frame in flight) finish first
    const inflight = post(streams[0]!);
    // in flight = on the device (a fixed sleep raced a busy event loop on a loaded box)
    for (let i = 0; i < 400 && !server.queue.busy; i++) await new Promise((r) => setTimeout(r, 25));
    expect(server.queue.busy).toBe(true);
    const closing = server.close();
    const r = await inflight;
    expect(r.status).toBe(200);
    sameDetections((await r.json()) as never, expected[0]!);
    await closing;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});
