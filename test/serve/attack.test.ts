/**
 * The receiver under attack (issue 21), without a GPU: a stand-in decoder (fake.ts) behind the real server, so each
 * limit, timeout, origin rule and shutdown path is exercised quickly. The real decoder's answers: server.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createServer, type ServeOptions, type VcmServer } from '../../src/serve/server.ts';
import { clientFrame, fakeDecoder, fakeStream, rawWebSocket, serverFrames, type FakeDecoder } from './fake.ts';

const open: VcmServer[] = [];
afterEach(async () => { for (const s of open.splice(0)) await s.close().catch(() => undefined); });

async function start(o: Partial<ServeOptions> = {}, fake: FakeDecoder = fakeDecoder()): Promise<{ server: VcmServer; base: string; fake: FakeDecoder }> {
  const server = await createServer({ detector: '', codecs: [], decoders: [fake.decoder], ...o });
  open.push(server);
  await server.warmup();
  const base = await server.listen(0);
  return { server, base, fake };
}

function post(base: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/detect`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: body as BodyInit });
}

describe('1. padding and the pixel budget', () => {
  it('the budget applies to the padded feature map too (413 before the decoder runs)', async () => {
    const { base, fake } = await start({ maxPixels: 128 * 192 });
    const r = await post(base, fakeStream(128, 192)); // resized 128x192 fits; padded 256x256 does not
    expect(r.status).toBe(413);
    expect(r.headers.get('content-type')).toMatch(/problem\+json/);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/padded feature map covers 256x256/);
    expect(fake.calls).toBe(0);
    const sq = await post(base, fakeStream(256, 256));
    expect(sq.status).toBe(413); // 256x256 image → 64x64 stem, padded 64x64: 65536 px > 24576
  });

  it('a tiny header padded to a huge z is a 400 from the container check, not a decode', async () => {
    const { base, fake } = await start();
    const s = fakeStream(128, 192);
    const dv = new DataView(s.buffer);
    dv.setUint32(60, 1182 * 64 - 32 - 16, true); dv.setUint32(64, 1182 * 64 - 48 - 8, true);
    dv.setUint32(76, 1182, true); dv.setUint32(80, 1182, true);
    const r = await post(base, s);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { detail: string }).detail).toMatch(/below 64/);
    expect(fake.calls).toBe(0);
  });

  it('a valid stream within the budget is decoded', async () => {
    const { base, fake } = await start();
    const r = await post(base, fakeStream(128, 192));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { scores: number[] }).scores).toEqual([0.5]);
    expect(fake.calls).toBe(1);
  });
});

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('2. WebSocket output is bounded', () => {
  it('a client that never reads: the server stops reading its frames, tells it (slow-consumer) and closes it (1008)', async () => {
    const { base } = await start({ streamBufferBytes: 16 << 10, streamStallMs: 500 });
    const { socket, status } = await rawWebSocket(base);
    expect(status).toBe(101);
    socket.on('error', () => undefined);
    // 12-byte frames (u32 id + 8 bytes: each is answered with an invalid-stream error of ~250 bytes), never reading
    const batch = Buffer.concat(Array.from({ length: 1000 }, (_, i) => clientFrame(Uint8Array.from([i & 255, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]))));
    let sent = 0, closedByServer = 0;
    const t0 = performance.now();
    while (sent < 400_000 && performance.now() - t0 < 8000 && !socket.destroyed) {
      const m = await (await fetch(`${base}/metrics`)).text();
      closedByServer = metric(m, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\d+)/);
      if (closedByServer) break;
      if (!socket.write(batch)) await new Promise((r) => { socket.once('drain', r); setTimeout(r, 100); });
      sent += 1000;
    }
    const m = await (await fetch(`${base}/metrics`)).text();
    closedByServer = metric(m, /webvcm_stream_closed_total\{reason="slow-consumer"\} (\d+)/);
    expect(closedByServer, `after ${sent} frames in ${(performance.now() - t0).toFixed(0)} ms`).toBe(1);
    expect(metric(m, /webvcm_stream_frames_total (\d+)/)).toBeLessThan(sent); // it stopped reading
    // now read what the server sent: replies, then the slow-consumer message and a 1008 close
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.resume();
    await new Promise<void>((r) => { socket.once('close', () => r()); setTimeout(r, 3000); });
    const { texts, closeCode } = serverFrames(Buffer.concat(chunks));
    expect(closeCode).toBe(1008);
    expect(JSON.parse(texts.at(-1)!).problem.type).toMatch(/slow-consumer/);
  }, 20000);
});

describe('7. limits within the timer range', () => {
  it('the server refuses a deadline or timeout a timer cannot hold, naming it', async () => {
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], deadlineMs: 2 ** 31 })).rejects.toThrow(/deadlineMs must be at most 2147483647 ms/);
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], requestTimeoutMs: 1e12 })).rejects.toThrow(/requestTimeoutMs must be at most/);
    await expect(createServer({ detector: '', codecs: [], decoders: [fakeDecoder().decoder], deadlineMs: 0.5 })).rejects.toThrow(/deadlineMs must be a positive integer/);
  });

  it('`webvcm serve --deadline-ms 2147483648` stops at start-up with a clear message', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await main(['node', 'webvcm', 'serve', '--deadline-ms', '2147483648']);
      expect(code).not.toBe(0);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--deadline-ms.*2147483648.*at most 2147483647 ms/s);
    } finally {
      err.mockRestore();
    }
  });
});
