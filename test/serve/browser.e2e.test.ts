/**
 * A page in headless Chromium (SwiftShader WebGPU) encodes the bundled image and sends it to `webvcm serve` (CORS +
 * bearer token); the server's detections must be identical to a local decode of the same bytes in Node.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer as createVite, type ViteDevServer } from 'vite';
import { createDecoder } from '../../src/api/index.ts';
import { createServer, type VcmServer } from '../../src/serve/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';

const DET = 'weights/default/detector.safetensors';
const COD = 'weights/default/codec.safetensors';
const TOKEN = 'browser-test-token';
let vite: ViteDevServer;
let server: VcmServer;
let page = '';
let api = '';

describeGpu('browser client → webvcm serve', () => {
  beforeAll(async () => {
    vite = await createVite({ root: process.cwd(), logLevel: 'error', server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false }, optimizeDeps: { noDiscovery: true, include: [] } });
    await vite.listen();
    const addr = vite.httpServer!.address();
    if (!addr || typeof addr === 'string') throw new Error('no vite address');
    page = `http://127.0.0.1:${addr.port}`;
    server = await createServer({ detector: DET, codecs: [COD], tokens: [TOKEN], cors: [page], warmup: { sizes: [[150, 225]], minSize: 128, maxSize: 192 } });
    api = await server.listen(0);
    await server.warmup();
  });
  afterAll(async () => { await server?.close(); await vite?.close(); });

  it('the page encodes, the server decodes: detections identical to a local decode of the same bytes', async () => {
    const { browser, close } = await launchChromium();
    try {
      const p = await browser.newPage();
      const logs: string[] = [];
      p.on('console', (m) => logs.push(m.text()));
      p.on('pageerror', (e) => logs.push(String(e)));
      await p.goto(`${page}/test/serve/remote.html?server=${encodeURIComponent(api)}&token=${TOKEN}`, { waitUntil: 'load', timeout: 120_000 });
      await p.waitForFunction('window.__result !== undefined', { timeout: 280_000 });
      const r = (await p.evaluate('window.__result')) as { ok: boolean; error?: string; bytes: number[]; boxes: number[]; scores: number[]; classes: number[] };
      if (!r.ok) throw new Error(`page: ${r.error}\n${logs.join('\n')}`);
      const dec = await createDecoder({ detector: DET, codec: COD });
      try {
        const local = (await dec.decode(Uint8Array.from(r.bytes))).detections;
        expect(r.scores).toEqual(Array.from(local.scores));
        expect(r.classes).toEqual(Array.from(local.classes));
        expect(r.boxes).toEqual(Array.from(local.boxes));
      } finally {
        dec.dispose();
      }
    } finally {
      await close();
    }
  });
});
