/**
 * The demo without WebGPU: the built demo (vite build demo) in headless Chromium launched with WebGPU disabled
 * falls back to the wasm backend, says so on the page, and runs encode → decode → detect on the bundled image; its
 * detections match the Node run of the same input on the wasm backend one to one. No GPU is needed.
 */
import { describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { DEMO_OPTS, matchDemo, nodeRun, openDemo, runDemo, serveBuiltDemo } from '../helpers/demo.ts';

describe('demo page without WebGPU (headless Chromium, wasm backend)', () => {
  const demo = serveBuiltDemo();

  it('falls back to wasm, says so, and detects what Node detects on wasm', async () => {
    const node = await nodeRun({ ...DEMO_OPTS, backend: 'wasm' });
    const { browser, close } = await launchChromium([], { webgpu: false });
    try {
      const { page, logs } = await openDemo(browser, demo.url());
      const gpu = await page.evaluate('navigator.gpu ? navigator.gpu.requestAdapter().then((a) => !!a) : false');
      expect(gpu, 'this Chromium must have no WebGPU adapter').toBe(false);
      const r = await runDemo(page, logs, 'artifacts/demo-wasm-e2e.png');
      const shown = (await page.$eval('#backend', (el) => el.textContent)) ?? '';
      expect(r.backend).toBe('wasm');
      expect(shown).toMatch(/^backend: wasm .*no WebGPU adapter/);
      expect(
        logs.some((l) => /^webvcm: no WebGPU adapter/.test(l)),
        'no console notice with onNotice given',
      ).toBe(false);
      const { got, matched } = matchDemo(node.dets, r.detections);
      expect(node.dets.scores.length).toBeGreaterThan(0);
      console.log(
        `demo without WebGPU: "${shown}"; node wasm ${node.dets.scores.length} dets, browser ${got.scores.length}, matched ${matched}; container ${node.bytes} B (node) vs ${r.bytes} B (browser)`,
      );
      expect(got.scores.length).toBe(node.dets.scores.length);
      expect(matched).toBe(node.dets.scores.length);
    } finally {
      await close();
    }
  });
});
