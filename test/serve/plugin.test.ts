/**
 * The receiver as a Fastify plugin inside an application (docs/serve.md, "Embedding"): its routes under a prefix
 * next to the application's own JSON route, which its auth, parsers, hooks and error handler leave alone; the
 * receiver decorated on the app; schemas on requests and replies; drain and dispose on app.close(). No GPU
 * (a stand-in decoder, fake.ts).
 */
import Fastify from 'fastify';
import { afterEach, expect, it } from 'vitest';
import { webvcmReceiver } from '../../src/serve/plugin.ts';
import { fakeDecoder, fakeStream } from './fake.ts';

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function app(tokens: string[] = []) {
  const a = Fastify();
  apps.push(a);
  a.post('/echo', async (req) => ({ got: req.body })); // the application's own JSON route
  a.get('/hello', async () => 'hi');
  await a.register(webvcmReceiver, { decoders: [fakeDecoder().decoder], prefix: '/vcm', tokens });
  const base = await a.listen({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 100 && !a.webvcm.isReady; i++) await new Promise((r) => setTimeout(r, 10)); // autoWarmup on ready
  return { a, base };
}

it('registers next to the application routes; the receiver is app.webvcm', async () => {
  const { a, base } = await app();
  expect(a.webvcm.isReady).toBe(true);
  const r = await fetch(`${base}/vcm/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: fakeStream() as BodyInit,
  });
  expect(r.status).toBe(200);
  expect(((await r.json()) as { scores: number[] }).scores).toEqual([0.5]);
  expect((await fetch(`${base}/vcm/healthz`)).status).toBe(200);
  expect(await (await fetch(`${base}/vcm/metrics`)).text()).toMatch(/webvcm_requests_total\{route="\/vcm\/v1\/detect",status="200"\} 1/);
  // the application's JSON parser and routes are untouched
  const e = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  expect(await e.json()).toEqual({ got: { a: 1 } });
  expect(await (await fetch(`${base}/hello`)).text()).toBe('hi');
  // and app code can call the receiver directly
  expect((await a.webvcm.detect(fakeStream())).scores).toEqual([0.5]);
});

it("the receiver's tokens guard its routes only", async () => {
  const { base } = await app(['secret-token-123']);
  expect((await fetch(`${base}/vcm/v1/models`)).status).toBe(401);
  expect((await fetch(`${base}/vcm/v1/models`, { headers: { authorization: 'Bearer secret-token-123' } })).status).toBe(200);
  expect((await fetch(`${base}/vcm/healthz`)).status).toBe(200);
  expect((await fetch(`${base}/hello`)).status).toBe(200);
});

it('schemas: a bad deadline header is a 400 problem from validation; replies are serialised by their schema', async () => {
  const { base } = await app();
  const bad = await fetch(`${base}/vcm/v1/detect`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'x-webvcm-deadline-ms': 'soon' },
    body: fakeStream() as BodyInit,
  });
  expect(bad.status).toBe(400);
  expect(bad.headers.get('content-type')).toMatch(/problem\+json/);
  expect(((await bad.json()) as { detail: string }).detail).toMatch(/x-webvcm-deadline-ms/);
  const m = (await (await fetch(`${base}/vcm/v1/models`)).json()) as { codecs: { C: number }[]; limits: Record<string, number> };
  expect(m.codecs[0]!.C).toBe(64);
  expect(m.limits.deadlineMs).toBe(30000);
});

it('app.close() drains the receiver (new work 503 draining) and finishes', async () => {
  const { a } = await app();
  const inflight = a.webvcm.detect(fakeStream());
  await a.close();
  expect((await inflight).scores).toEqual([0.5]);
  await expect(a.webvcm.detect(fakeStream())).rejects.toMatchObject({ status: 503, slug: 'draining' });
});

it('app.close() during the warm-up waits for it (bounded) before disposing', async () => {
  const fake = fakeDecoder();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  (fake.decoder as unknown as { warmup: () => Promise<unknown> }).warmup = async () => {
    await gate;
    return {};
  };
  const a = Fastify();
  await a.register(webvcmReceiver, { decoders: [fake.decoder] });
  await a.ready(); // starts the warm-up
  let closed = false;
  const closing = a.close().then(() => {
    closed = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  expect(closed).toBe(false); // still warming: nothing is disposed under it
  release();
  await closing;
  expect(a.webvcm.isReady).toBe(false);
});
