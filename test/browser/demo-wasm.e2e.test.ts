/**
 * The demo without WebGPU: the built demo (vite build demo) in headless Chromium launched with WebGPU disabled
 * falls back to the wasm backend, says so on the page, and runs encode → decode → detect on the bundled image; its
 * detections match the Node run of the same input on the wasm backend one to one. No GPU is needed.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, preview, type PreviewServer } from 'vite';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { launchChromium } from '../helpers/browser.ts';
import { matchBoxes } from '../detector/match.ts';

const IMAGE = 'weights/world/example.png';
const OPTS = { detector: 'weights/default/detector.safetensors', codec: 'weights/default/codec.safetensors', method: 1 as const, mode: 'compat' as const, minSize: 320, maxSize: 544 };

let server: PreviewServer;
let url = '';

describe('demo page without WebGPU (headless Chromium, wasm backend)', () => {
  beforeAll(async () => {
    await build({ configFile: 'demo/vite.config.ts', logLevel: 'error' });
    server = await preview({ configFile: 'demo/vite.config.ts', logLevel: 'error', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
    const addr = server.httpServer.address();
    if (!addr || typeof addr === 'string') throw new Error('no preview address');
    url = `http://127.0.0.1:${addr.port}/`;
  });
  afterAll(async () => { await server?.close(); });

  it('falls back to wasm, says so, and detects what Node detects on wasm', async () => {
    const enc = await createEncoder({ ...OPTS, backend: 'wasm' });
    const dec = await createDecoder({ ...OPTS, backend: 'wasm' });
    let node;
    try {
      const e = await enc.encode(new Uint8Array(readFileSync(IMAGE)));
      node = { bytes: e.bytes.length, dets: (await dec.decode(e.bytes)).detections };
    } finally {
      enc.dispose();
      dec.dispose();
    }
    const { browser, close } = await launchChromium([], { webgpu: false });
    try {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (err) => logs.push(String(err)));
      await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
      const gpu = await page.evaluate('navigator.gpu ? navigator.gpu.requestAdapter().then((a) => !!a) : false');
      expect(gpu, 'this Chromium must have no WebGPU adapter').toBe(false);
      await page.waitForFunction('window.__demoReady === true', { timeout: 120_000 });
      await page.evaluate('window.__runDemo()');
      const err = await page.waitForFunction('window.__webvcm !== undefined || window.__webvcmError !== undefined', { timeout: 600_000 }).then(() => page.evaluate('window.__webvcmError'));
      if (err) throw new Error(`demo failed: ${err}\n${logs.join('\n')}`);
      const r = (await page.evaluate('window.__webvcm')) as { bytes: number; backend: string; detections: { boxes: number[]; scores: number[]; classes: number[] } };
      const shown = (await page.$eval('#backend', (el) => el.textContent)) ?? '';
      mkdirSync('artifacts', { recursive: true });
      await page.screenshot({ path: 'artifacts/demo-wasm-e2e.png', fullPage: true });
      expect(r.backend).toBe('wasm');
      expect(shown).toMatch(/^backend: wasm .*no WebGPU adapter/);
      expect(logs.some((l) => /^webvcm: no WebGPU adapter/.test(l)), 'no console notice with onNotice given').toBe(false);
      const got = { boxes: Float32Array.from(r.detections.boxes), scores: Float32Array.from(r.detections.scores), classes: Int32Array.from(r.detections.classes) };
      expect(node.dets.scores.length).toBeGreaterThan(0);
      const m = matchBoxes(node.dets.boxes, got.boxes, {
        refScores: node.dets.scores, gotScores: got.scores, refClasses: node.dets.classes, gotClasses: got.classes, minIou: 0.99, maxDs: 1e-3,
      });
      console.log(`demo without WebGPU: "${shown}"; node wasm ${node.dets.scores.length} dets, browser ${got.scores.length}, matched ${m.matched}; container ${node.bytes} B (node) vs ${r.bytes} B (browser)`);
      expect(got.scores.length).toBe(node.dets.scores.length);
      expect(m.matched).toBe(node.dets.scores.length);
    } finally {
      await close();
    }
  });
});
