// `webvcm serve` on the wasm backend (what backend 'auto' picks in Node over lavapipe): two codecs share the first
// decoder's backend, the server warms up, and its detections equal a local wasm decode of the same stream.
import { readFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';

const DET = 'weights/default/detector.safetensors';
const CODECS = ['weights/default/codec.safetensors', 'weights/world/codec-l0.006.safetensors'];
const CFG = { rpnPreNmsTopK: 200, rpnPostNmsTopK: 50 };
const TOKEN = 'wasm-token-' + 'x'.repeat(20);
let server: VcmServer | undefined;
const saved = process.env.WEBVCM_BACKEND;
afterAll(async () => {
  await server?.close();
  process.env.WEBVCM_BACKEND = saved;
});

it('serves on wasm: every codec on the first decoder\'s backend, detections equal a local wasm decode', async () => {
  process.env.WEBVCM_BACKEND = 'wasm'; // as auto would choose here; the server's decoders take the default
  const enc = await createEncoder({ detector: DET, codec: CODECS[0]!, mode: 'portable', minSize: 128, maxSize: 192, detectorConfig: CFG });
  const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, detectorConfig: CFG });
  const { bytes } = await enc.encode(new Uint8Array(readFileSync('weights/mini-coco/000000000002.png')));
  const local = (await dec.decode(bytes)).detections;
  expect(dec.backend).toBe('wasm');
  enc.dispose();
  dec.dispose();
  server = await createServer({ detector: DET, codecs: CODECS, tokens: [TOKEN], detectorConfig: CFG, warmup: { sizes: [[150, 225]], minSize: 128, maxSize: 192 } });
  const base = await server.listen(0);
  expect((await fetch(`${base}/healthz`)).status).toBe(503);
  await server.warmup();
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  const r = await fetch(`${base}/v1/detect`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${TOKEN}` }, body: bytes as BodyInit });
  expect(r.status).toBe(200);
  const j = (await r.json()) as { scores: number[]; classes: number[]; boxes: number[][] };
  expect(j.scores).toEqual(Array.from(local.scores));
  expect(j.classes).toEqual(Array.from(local.classes));
  expect(j.boxes.flat()).toEqual(Array.from(local.boxes));
});
