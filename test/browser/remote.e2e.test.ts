/**
 * Browser client → `webvcm serve`. Pages in headless Chromium (SwiftShader WebGPU) encode the bundled example image
 * with the library and ask a server for the detections; the server runs in this process (Dawn on lavapipe), with CORS
 * for exactly the pages' origins and a bearer token.
 *  1. test/browser/remote.html: createEncoder → createRemoteDecoder({ url }).decode(bytes), and the same bytes as one
 *     WebSocket frame (stream().send).
 *  2. The demo's "detect on a server" mode (demo/remote.ts), still image: the page draws and lists the server's
 *     detections; the test reads its state (window.__webvcmRemote) and DOM (#remoteStats, #remoteDets), not pixels.
 *  3. The same mode's webcam stream over the WebSocket, on Chromium's fake camera (640×480 test pattern).
 * Tolerance: none. The server decodes the page's bytes on the same kind of adapter as the local decode in Node (both
 * lavapipe, same code, same bytes), so boxes, scores and classes must be bit-identical. (Encoder and decoder adapters
 * differ — SwiftShader vs lavapipe — which is why the pages encode portable streams: exact across devices.)
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer as createVite, type ViteDevServer } from 'vite';
import type { Page } from 'puppeteer-core';
import { createDecoder, type DecodeResult } from '../../src/api/index.ts';
import { readContainer } from '../../src/coder/container.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';
import { bgrFromFileBytes } from '../../src/io/image-file.ts';
import { DRAW_SCORE, type RemoteStillState, type RemoteStreamState } from '../../demo/remote.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/default/detector.safetensors';
const COD = 'weights/default/codec.safetensors';
const IMAGE = 'weights/world/example.png'; // the demo's default image too
const TOKEN = 'browser-test-token';
const PAGE_TIMEOUT_MS = 840_000; // SwiftShader on a shared 2-core box: the encode alone takes 30–120 s
let vite: ViteDevServer, demo: ViteDevServer;
let server: VcmServer;
let testOrigin = '',
  demoOrigin = '',
  api = '';

interface PlainDets {
  boxes: number[];
  scores: number[];
  classes: number[];
}
interface PageResult {
  ok: boolean;
  error?: string;
  adapter?: { backend: string; architecture: string; description: string };
  encodeMs: number;
  bytes: number[];
  http: PlainDets & { names: string[]; fingerprint: string; roundTripMs: number };
  stream: PlainDets & { type: string; id: number };
}

// jpeg-js is CommonJS: pre-bundle it, or the page's ESM import of src/io/image.ts fails to load
const DEPS = { noDiscovery: true, include: ['jpeg-js'] };

async function origin(v: ViteDevServer): Promise<string> {
  await v.listen();
  const addr = v.httpServer!.address();
  if (!addr || typeof addr === 'string') throw new Error('no vite address');
  return `http://127.0.0.1:${addr.port}`;
}

/** Console lines of the page, and a promise that rejects on the first uncaught page error (fail now, not at the timeout). */
function watch(p: Page): { logs: string[]; crashed: Promise<never> } {
  const logs: string[] = [];
  p.on('console', (m) => logs.push(m.text()));
  const crashed = new Promise<never>((_, reject) =>
    p.on('pageerror', (e) => reject(new Error(`page error: ${String(e)}\n${logs.join('\n')}`))),
  );
  return { logs, crashed };
}

/** Decode `bytes` in Node (lavapipe) with the bundled models. */
async function localDecode(bytes: number[]): Promise<{ dets: DecodeResult['detections']; classNames: readonly string[] }> {
  const dec = await createDecoder({ detector: DET, codec: COD });
  try {
    return { dets: (await dec.decode(Uint8Array.from(bytes))).detections, classNames: dec.classNames };
  } finally {
    dec.dispose();
  }
}

function expectIdentical(got: PlainDets, ref: DecodeResult['detections'], what: string): void {
  expect(got.scores, `${what} scores`).toEqual(Array.from(ref.scores));
  expect(got.classes, `${what} classes`).toEqual(Array.from(ref.classes));
  expect(got.boxes, `${what} boxes`).toEqual(Array.from(ref.boxes));
}

describeGpu('browser client → webvcm serve (headless Chromium, SwiftShader WebGPU)', () => {
  beforeAll(async () => {
    vite = await createVite({
      root: process.cwd(),
      logLevel: 'error',
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      optimizeDeps: DEPS,
    });
    testOrigin = await origin(vite);
    demo = await createVite({
      configFile: 'demo/vite.config.ts',
      logLevel: 'error',
      server: { port: 0, strictPort: false, hmr: false },
      optimizeDeps: DEPS,
    });
    demoOrigin = await origin(demo);
    // warm up for the example image and the fake camera's 480×640 frames, at the detector's trained resize
    const img = bgrFromFileBytes(new Uint8Array(readFileSync(IMAGE)), IMAGE);
    // deadline far above the default 30 s: the server's own run-time estimate on a loaded CI box must not refuse the pages
    server = await createServer({
      detector: DET,
      codecs: [COD],
      tokens: [TOKEN],
      cors: [testOrigin, demoOrigin],
      deadlineMs: 600_000,
      warmup: {
        sizes: [
          [img.height, img.width],
          [480, 640],
        ],
      },
    });
    api = await server.listen(0);
    await server.warmup();
  });
  afterAll(async () => {
    await server?.close();
    await demo?.close();
    await vite?.close();
  });

  it('the page encodes, the server decodes: HTTP and WebSocket detections identical to a local decode of the same bytes', async () => {
    const { browser, close } = await launchChromium();
    let r: PageResult;
    try {
      const p = await browser.newPage();
      const { logs, crashed } = watch(p);
      await p.goto(`${testOrigin}/test/browser/remote.html?server=${encodeURIComponent(api)}&token=${TOKEN}`, {
        waitUntil: 'load',
        timeout: 120_000,
      });
      await Promise.race([p.waitForFunction('window.__result !== undefined', { timeout: PAGE_TIMEOUT_MS }), crashed]);
      console.log(logs.filter((l) => l.startsWith('[remote.html]')).join('\n'));
      r = (await p.evaluate('window.__result')) as PageResult;
      if (!r.ok) throw new Error(`page: ${r.error}\n${logs.join('\n')}`);
    } finally {
      await close();
    }
    expect(r.adapter?.backend).toBe('browser');
    expect(readContainer(Uint8Array.from(r.bytes)).mode).toBe('portable');
    const { dets, classNames } = await localDecode(r.bytes);
    console.log(
      `browser → serve: page adapter ${r.adapter?.architecture}, encode ${r.encodeMs.toFixed(0)} ms, ${r.bytes.length} B; server ${r.http.scores.length} detections (round trip ${r.http.roundTripMs.toFixed(0)} ms), local ${dets.scores.length}`,
    );
    expect(dets.scores.length).toBeGreaterThan(0);
    expect(r.http.fingerprint).toBe(server.fingerprints[0]);
    expectIdentical(r.http, dets, 'HTTP');
    expect(r.http.names).toEqual(Array.from(dets.classes, (k) => classNames[k]));
    expect(r.stream.type).toBe('detections');
    expect(r.stream.id).toBe(7);
    expectIdentical(r.stream, dets, 'WebSocket');
  }, 900_000);

  /** Load the demo, wait until it is ready and point its server mode at the test server (URL and token). */
  async function openDemoForServer(p: Page, crashed: Promise<never>): Promise<void> {
    await p.goto(`${demoOrigin}/`, { waitUntil: 'load', timeout: 120_000 });
    await Promise.race([p.waitForFunction('window.__demoReady === true', { timeout: 120_000 }), crashed]);
    await p.$eval(
      '#remoteUrl',
      (el, v) => {
        (el as HTMLInputElement).value = v;
      },
      api,
    );
    await p.$eval(
      '#remoteToken',
      (el, v) => {
        (el as HTMLInputElement).value = v;
      },
      TOKEN,
    );
  }

  it("the demo's 'detect on a server' mode (still image) draws and lists the server's detections of the page's stream", async () => {
    const { browser, close } = await launchChromium();
    let st: RemoteStillState;
    let dom: { stats: string; mode: string; items: { cls: string; score: string; box: string }[] };
    try {
      const p = await browser.newPage();
      const { logs, crashed } = watch(p);
      await openDemoForServer(p, crashed);
      await p.click('#remoteStill');
      await Promise.race([
        p.waitForFunction("['done', 'error'].includes(document.querySelector('#remote')?.dataset.state)", { timeout: PAGE_TIMEOUT_MS }),
        crashed,
      ]);
      st = (await p.evaluate('window.__webvcmRemote')) as RemoteStillState;
      if (!st.ok) throw new Error(`demo: ${st.error}\n${logs.join('\n')}`);
      dom = await p.evaluate(() => ({
        stats: document.querySelector('#remoteStats')!.textContent ?? '',
        mode: (document.querySelector('#mode') as HTMLSelectElement).value,
        items: Array.from(document.querySelectorAll<HTMLLIElement>('#remoteDets li'), (li) => ({
          cls: li.dataset.class ?? '',
          score: li.dataset.score ?? '',
          box: li.dataset.box ?? '',
        })),
      }));
    } finally {
      await close();
    }
    expect(dom.mode).toBe('portable'); // remote mode switches the page to portable streams
    expect(readContainer(Uint8Array.from(st.bytes)).mode).toBe('portable');
    const { dets, classNames } = await localDecode(st.bytes);
    expectIdentical(st.detections, dets, 'demo');
    expect(st.names).toEqual(Array.from(dets.classes, (k) => classNames[k]));
    // what the page drew and listed: the detections with score >= DRAW_SCORE, in order
    const shown = [...dets.scores.keys()].filter((i) => dets.scores[i]! >= DRAW_SCORE).slice(0, 50);
    console.log(`demo remote: ${st.bytes.length} B, ${dets.scores.length} detections, ${shown.length} drawn; "${dom.stats}"`);
    expect(shown.length).toBeGreaterThan(0);
    expect(st.drawn).toBe(shown.length);
    expect(dom.items).toEqual(
      shown.map((i) => ({
        cls: String(dets.classes[i]),
        score: String(dets.scores[i]),
        box: Array.from(dets.boxes.subarray(4 * i, 4 * i + 4)).join(','),
      })),
    );
    expect(dom.stats).toContain(`${st.bytes.length} B`);
    expect(dom.stats).toContain(`${dets.scores.length} detections (${shown.length} drawn`);
  }, 900_000);

  it("the demo's webcam stream (fake camera) gets the server's detections over the WebSocket, identical to a local decode", async () => {
    const { browser, close } = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    let st: RemoteStreamState;
    let stats = '';
    try {
      const p = await browser.newPage();
      const { logs, crashed } = watch(p);
      await openDemoForServer(p, crashed);
      await p.click('#remoteCam');
      await Promise.race([
        p.waitForFunction('(window.__webvcmRemoteStream?.replies ?? 0) >= 1', { timeout: PAGE_TIMEOUT_MS }),
        crashed,
      ]).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\nstats: ${await p.$eval('#remoteStats', (el) => el.textContent)}\n${logs.join('\n')}`);
      });
      // one evaluate: the state and the text of the same reply (both are set in one message handler)
      ({ st, stats } = (await p.evaluate(
        "({ st: window.__webvcmRemoteStream, stats: document.querySelector('#remoteStats').textContent })",
      )) as { st: RemoteStreamState; stats: string });
      await p.click('#remoteCam'); // stop
      expect(await p.$eval('#remoteCam', (el) => el.textContent)).toBe('webcam stream');
    } finally {
      await close();
    }
    const last = st.last!;
    expect(readContainer(Uint8Array.from(last.bytes)).mode).toBe('portable');
    const { dets } = await localDecode(last.bytes);
    expectIdentical(last.detections, dets, 'stream');
    const shown = Array.from(dets.scores)
      .filter((v) => v >= DRAW_SCORE)
      .slice(0, 50).length;
    console.log(
      `demo webcam stream: frame ${last.id}, ${last.bytes.length} B, ${dets.scores.length} detections, ${shown} drawn, round trip ${last.roundTripMs.toFixed(0)} ms, ${st.dropped} dropped; "${stats}"`,
    );
    expect(last.drawn).toBe(shown);
    expect(stats).toMatch(new RegExp(`^frame ${last.id}: ${last.bytes.length} B, ${dets.scores.length} detections \\(${shown} drawn\\)`));
  }, 900_000);
});
