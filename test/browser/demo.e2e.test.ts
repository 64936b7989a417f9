/**
 * End-to-end: the built demo (vite build demo) in headless Chromium (SwiftShader WebGPU) runs encode → decode →
 * detect on the bundled image with the bundled small weights; its detections must match the Node run of the same
 * input (lavapipe) one to one, and a screenshot is saved to artifacts/demo-e2e.png.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { build, preview, type PreviewServer } from 'vite';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';
import { matchBoxes } from '../detector/match.ts';
import { itGolden } from '../helpers/golden.ts';

const IMAGE = 'weights/world/example.png'; // the demo's default image
const OPTS = {
  detector: 'weights/default/detector.safetensors',
  codec: 'weights/default/codec.safetensors',
  method: 1 as const,
  mode: 'compat' as const,
  minSize: 320,
  maxSize: 544,
};

let server: PreviewServer;
let url = '';

describeGpu('demo page end to end (built with Vite, headless Chromium)', () => {
  beforeAll(async () => {
    await build({ configFile: 'demo/vite.config.ts', logLevel: 'error' });
    server = await preview({
      configFile: 'demo/vite.config.ts',
      logLevel: 'error',
      preview: { host: '127.0.0.1', port: 0, strictPort: false },
    });
    const addr = server.httpServer.address();
    if (!addr || typeof addr === 'string') throw new Error('no preview address');
    url = `http://127.0.0.1:${addr.port}/`;
  });
  afterAll(async () => {
    await server?.close();
  });

  async function nodeRun(opts: typeof OPTS) {
    const enc = await createEncoder(opts);
    const dec = await createDecoder({ ...opts, device: enc.device });
    try {
      const e = await enc.encode(new Uint8Array(readFileSync(IMAGE)));
      return { bytes: e.bytes.length, dets: (await dec.decode(e.bytes)).detections };
    } finally {
      dec.dispose();
      enc.dispose();
    }
  }

  /** Open the built demo, optionally upload checkpoints through its file inputs, run it, screenshot. */
  async function pageRun(screenshot: string, uploads: { detector?: string; codec?: string } = {}) {
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (err) => logs.push(String(err)));
      await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
      await page.waitForFunction('window.__demoReady === true', { timeout: 120_000 });
      if (uploads.detector) await (await page.$('input#detFile'))!.uploadFile(uploads.detector);
      if (uploads.codec) await (await page.$('input#codecFile'))!.uploadFile(uploads.codec);
      await page.evaluate('window.__runDemo()');
      const err = await page
        .waitForFunction('window.__webvcm !== undefined || window.__webvcmError !== undefined', { timeout: 600_000 })
        .then(() => page.evaluate('window.__webvcmError'));
      if (err) throw new Error(`demo failed: ${err}\n${logs.join('\n')}`);
      const r = (await page.evaluate('window.__webvcm')) as {
        bytes: number;
        detections: { boxes: number[]; scores: number[]; classes: number[] };
      };
      mkdirSync('artifacts', { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
      return r;
    } finally {
      await close();
    }
  }

  it('detections in the browser equal the Node run of the same input; screenshot saved', async () => {
    const node = await nodeRun(OPTS);
    const nodeDets = node.dets;
    const r = await pageRun('artifacts/demo-e2e.png');
    const browserDets = {
      boxes: Float32Array.from(r.detections.boxes),
      scores: Float32Array.from(r.detections.scores),
      classes: Int32Array.from(r.detections.classes),
    };
    expect(nodeDets.scores.length).toBeGreaterThan(0);
    const m = matchBoxes(nodeDets.boxes, browserDets.boxes, {
      refScores: nodeDets.scores,
      gotScores: browserDets.scores,
      refClasses: nodeDets.classes,
      gotClasses: browserDets.classes,
      minIou: 0.99,
      maxDs: 1e-3,
    });
    console.log(
      `demo e2e: node ${nodeDets.scores.length} dets, browser ${browserDets.scores.length} dets, matched ${m.matched}; container ${node.bytes} B (node) vs ${r.bytes} B (browser)`,
    );
    expect(browserDets.scores.length).toBe(nodeDets.scores.length);
    expect(m.matched).toBe(nodeDets.scores.length);
  });

  itGolden('loads original checkpoints (Detectron2 .pkl, CompressAI .pth.tar) supplied as files in the page', async () => {
    const det = '../shared/golden/detectron2/A/weights.pkl';
    const codec = '../shared/golden/pipeline/P_A/codec.pth.tar';
    const node = await nodeRun({ ...OPTS, detector: det, codec });
    const r = await pageRun('artifacts/demo-e2e-original-checkpoints.png', { detector: det, codec });
    const got = {
      boxes: Float32Array.from(r.detections.boxes),
      scores: Float32Array.from(r.detections.scores),
      classes: Int32Array.from(r.detections.classes),
    };
    const m = matchBoxes(node.dets.boxes, got.boxes, {
      refScores: node.dets.scores,
      gotScores: got.scores,
      refClasses: node.dets.classes,
      gotClasses: got.classes,
      minIou: 0.99,
      maxDs: 1e-3,
    });
    console.log(
      `demo e2e (original checkpoints): node ${node.dets.scores.length} dets / ${node.bytes} B, browser ${got.scores.length} dets / ${r.bytes} B, matched ${m.matched}`,
    );
    expect(node.dets.scores.length).toBeGreaterThan(0);
    expect(m.matched).toBeGreaterThanOrEqual(Math.ceil(0.95 * node.dets.scores.length));
  });
});
