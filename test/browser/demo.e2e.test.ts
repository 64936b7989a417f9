/**
 * End-to-end: the built demo (vite build demo) in headless Chromium (SwiftShader WebGPU) runs encode → decode →
 * detect on the bundled image with the bundled small weights; its detections must match the Node run of the same
 * input (lavapipe) one to one, and a screenshot is saved to artifacts/demo-e2e.png.
 */
import { expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';
import { itGolden } from '../helpers/golden.ts';
import { DEMO_OPTS, matchDemo, nodeRun, openDemo, runDemo, serveBuiltDemo, type DemoResult } from '../helpers/demo.ts';

describeGpu('demo page end to end (built with Vite, headless Chromium)', () => {
  const demo = serveBuiltDemo();

  /** Open the built demo, optionally upload checkpoints through its file inputs, run it, screenshot. */
  async function pageRun(screenshot: string, uploads: { detector?: string; codec?: string } = {}): Promise<DemoResult> {
    const { browser, close } = await launchChromium();
    try {
      const { page, logs } = await openDemo(browser, demo.url(), { width: 1280, height: 900 });
      if (uploads.detector) await (await page.$('input#detFile'))!.uploadFile(uploads.detector);
      if (uploads.codec) await (await page.$('input#codecFile'))!.uploadFile(uploads.codec);
      return await runDemo(page, logs, screenshot);
    } finally {
      await close();
    }
  }

  it('detections in the browser equal the Node run of the same input; screenshot saved', async () => {
    const node = await nodeRun(DEMO_OPTS);
    const nodeDets = node.dets;
    const r = await pageRun('artifacts/demo-e2e.png');
    expect(nodeDets.scores.length).toBeGreaterThan(0);
    const { got: browserDets, matched } = matchDemo(nodeDets, r.detections);
    console.log(
      `demo e2e: node ${nodeDets.scores.length} dets, browser ${browserDets.scores.length} dets, matched ${matched}; container ${node.bytes} B (node) vs ${r.bytes} B (browser)`,
    );
    expect(browserDets.scores.length).toBe(nodeDets.scores.length);
    expect(matched).toBe(nodeDets.scores.length);
  });

  itGolden('loads original checkpoints (Detectron2 .pkl, CompressAI .pth.tar) supplied as files in the page', async () => {
    const det = '../shared/golden/detectron2/A/weights.pkl';
    const codec = '../shared/golden/pipeline/P_A/codec.pth.tar';
    const node = await nodeRun({ ...DEMO_OPTS, detector: det, codec });
    const r = await pageRun('artifacts/demo-e2e-original-checkpoints.png', { detector: det, codec });
    const { got, matched } = matchDemo(node.dets, r.detections);
    console.log(
      `demo e2e (original checkpoints): node ${node.dets.scores.length} dets / ${node.bytes} B, browser ${got.scores.length} dets / ${r.bytes} B, matched ${matched}`,
    );
    expect(node.dets.scores.length).toBeGreaterThan(0);
    expect(matched).toBeGreaterThanOrEqual(Math.ceil(0.95 * node.dets.scores.length));
  });
});
