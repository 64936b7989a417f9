/**
 * The receiver reads each stream's container once per request: `route` parses it (parseStream: the 400/409/413
 * checks) and the decoder decodes that parsed form, over HTTP and the WebSocket, with the stand-in decoder and with
 * the real one (wasm backend, no adapter needed). A counter wraps the container reader every path goes through.
 */
import { readFileSync } from 'node:fs';
import { afterEach, expect, it, vi } from 'vitest';
import { createDecoder, createEncoder, parseStream } from '../../src/api/index.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';
import { fakeDecoder, fakeStream } from './fake.ts';

const reads = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../src/coder/container.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/coder/container.ts')>();
  return {
    ...m,
    readContainer: (...a: Parameters<typeof m.readContainer>) => {
      reads.n++;
      return m.readContainer(...a);
    },
  };
});

const open: VcmServer[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

async function start(decoders: Parameters<typeof createServer>[0]['decoders']): Promise<string> {
  const server = await createServer({ detector: '', codecs: [], decoders, warmup: { sizes: [[128, 192]], minSize: 128, maxSize: 192 } });
  open.push(server);
  await server.warmup();
  return server.listen(0);
}

async function post(base: string, body: Uint8Array): Promise<{ status: number; json: { scores: number[]; boxes: number[][] } }> {
  const r = await fetch(`${base}/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: body as BodyInit,
  });
  return { status: r.status, json: (await r.json()) as { scores: number[]; boxes: number[][] } };
}

/** One WebSocket frame (u32 id + stream) and its one reply. */
async function frame(base: string, id: number, stream: Uint8Array): Promise<{ type: string; id: number; scores?: number[] }> {
  const { WebSocket: WS } = (await import('ws')) as unknown as { WebSocket: typeof WebSocket };
  const ws = new WS(`${base.replace('http', 'ws')}/v1/stream`);
  await new Promise<void>((r, j) => {
    ws.onopen = () => r();
    ws.onerror = () => j(new Error('ws open failed'));
  });
  const reply = new Promise<{ type: string; id: number; scores?: number[] }>((r) => {
    ws.onmessage = (ev) => r(JSON.parse(String(ev.data)));
  });
  const b = new Uint8Array(4 + stream.length);
  new DataView(b.buffer).setUint32(0, id, true);
  b.set(stream, 4);
  ws.send(b);
  const m = await reply;
  ws.close();
  return m;
}

it('the stand-in decoder: one container read per request, HTTP and WebSocket; a hostile stream is still a 400', async () => {
  const fake = fakeDecoder(1);
  const base = await start([fake.decoder]);
  const s = fakeStream(128, 192);
  reads.n = 0;
  expect((await post(base, s)).status).toBe(200);
  expect(fake.calls).toBe(1);
  expect(reads.n).toBe(1);
  reads.n = 0;
  const m = await frame(base, 7, s);
  expect(m).toMatchObject({ type: 'detections', id: 7, scores: [0.5] });
  expect(reads.n).toBe(1);
  // the route's parse still refuses a bad stream before the decoder (one read, no decode)
  reads.n = 0;
  const bad = s.slice();
  bad[0] = 0;
  expect((await post(base, bad)).status).toBe(400);
  expect(reads.n).toBe(1);
  expect(fake.calls).toBe(2);
});

it('the real decoder (wasm): one container read per request, and the detections of a decode from bytes', async () => {
  const cfg = { rpnPreNmsTopK: 200, rpnPostNmsTopK: 50 };
  const enc = await createEncoder({
    detector: 'weights/default/detector.safetensors',
    codec: 'weights/default/codec.safetensors',
    backend: 'wasm',
    mode: 'portable',
    minSize: 128,
    maxSize: 192,
    detectorConfig: cfg,
  });
  const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, backend: 'wasm', detectorConfig: cfg });
  try {
    const { bytes } = await enc.encode(new Uint8Array(readFileSync('weights/mini-coco/000000000002.png')));
    reads.n = 0;
    const local = (await dec.decode(bytes)).detections; // from bytes: the decoder reads the container
    expect(reads.n).toBe(1);
    reads.n = 0;
    const viaParsed = (await dec.decode(parseStream(bytes))).detections; // parsed once, not read again
    expect(reads.n).toBe(1);
    expect(Array.from(viaParsed.scores)).toEqual(Array.from(local.scores));
    expect(local.scores.length).toBeGreaterThan(0);

    const base = await start([dec]);
    reads.n = 0;
    const r = await post(base, bytes);
    expect(r.status).toBe(200);
    expect(reads.n).toBe(1);
    expect(r.json.scores).toEqual(Array.from(local.scores));
    expect(r.json.boxes.flat()).toEqual(Array.from(local.boxes));
  } finally {
    enc.dispose();
    dec.dispose();
  }
}, 180_000);
