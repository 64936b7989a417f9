/**
 * The demo end-to-end tests' shared set-up (demo.e2e: SwiftShader WebGPU; demo-wasm.e2e: no WebGPU): the built demo
 * served by `vite preview`, the Node reference run of the same input, driving the page, and the one-to-one match of
 * the two detection lists.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { build, preview, type PreviewServer } from 'vite';
import type { Browser, Page } from 'puppeteer-core';
import { createDecoder, createEncoder, type EncoderOptions } from '../../src/api/index.ts';
import type { Detections } from '../../src/model/detector/types.ts';
import { matchBoxes } from '../detector/match.ts';

/** The demo's default image and the bundled small models at the demo's settings. */
export const DEMO_IMAGE = 'weights/world/example.png';
export const DEMO_OPTS = {
  detector: 'weights/default/detector.safetensors',
  codec: 'weights/default/codec.safetensors',
  method: 1 as const,
  mode: 'compat' as const,
  minSize: 320,
  maxSize: 544,
};

/** Build the demo and serve it for the enclosing describe (beforeAll / afterAll); `url()` is its address. */
export function serveBuiltDemo(): { url: () => string } {
  let server: PreviewServer | undefined;
  let url = '';
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
  return { url: () => url };
}

/** Encode and decode the demo image in Node (the decoder on the encoder's device on WebGPU). */
export async function nodeRun(opts: EncoderOptions): Promise<{ bytes: number; dets: Detections }> {
  const enc = await createEncoder(opts);
  try {
    const dec = await createDecoder(enc.backend === 'webgpu' ? { ...opts, device: enc.device } : opts);
    try {
      const e = await enc.encode(new Uint8Array(readFileSync(DEMO_IMAGE)));
      return { bytes: e.bytes.length, dets: (await dec.decode(e.bytes)).detections };
    } finally {
      dec.dispose();
    }
  } finally {
    enc.dispose();
  }
}

export interface DemoResult {
  bytes: number;
  backend?: string;
  detections: { boxes: number[]; scores: number[]; classes: number[] };
}

/** A page of the demo, loaded and ready to run (its console and page errors collected in `logs`). */
export async function openDemo(
  browser: Browser,
  url: string,
  viewport?: { width: number; height: number },
): Promise<{ page: Page; logs: string[] }> {
  const page = await browser.newPage();
  if (viewport) await page.setViewport(viewport);
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (err) => logs.push(String(err)));
  await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
  await page.waitForFunction('window.__demoReady === true', { timeout: 120_000 });
  return { page, logs };
}

/** Run the demo on an open page and take a screenshot; a failed run throws with the page's log. */
export async function runDemo(page: Page, logs: string[], screenshot: string): Promise<DemoResult> {
  await page.evaluate('window.__runDemo()');
  const err = await page
    .waitForFunction('window.__webvcm !== undefined || window.__webvcmError !== undefined', { timeout: 600_000 })
    .then(() => page.evaluate('window.__webvcmError'));
  if (err) throw new Error(`demo failed: ${err}\n${logs.join('\n')}`);
  const r = (await page.evaluate('window.__webvcm')) as DemoResult;
  mkdirSync('artifacts', { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  return r;
}

/** Match the page's detections to the Node run's one to one (IoU ≥ 0.99, |Δscore| ≤ 1e-3, same class). */
export function matchDemo(node: Detections, page: DemoResult['detections']): { got: Detections; matched: number } {
  const got = {
    boxes: Float32Array.from(page.boxes),
    scores: Float32Array.from(page.scores),
    classes: Int32Array.from(page.classes),
  };
  const m = matchBoxes(node.boxes, got.boxes, {
    refScores: node.scores,
    gotScores: got.scores,
    refClasses: node.classes,
    gotClasses: got.classes,
    minIou: 0.99,
    maxDs: 1e-3,
  });
  return { got, matched: m.matched };
}
