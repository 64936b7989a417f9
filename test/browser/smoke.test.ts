import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer, type ViteDevServer } from 'vite';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';

let server: ViteDevServer;
let base = '';

describeGpu('browser smoke test (headless Chromium, SwiftShader WebGPU)', () => {
  beforeAll(async () => {
    server = await createServer({
      root: process.cwd(),
      logLevel: 'error',
      server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    const addr = server.httpServer!.address();
    if (!addr || typeof addr === 'string') throw new Error('no server address');
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs the conv kernel in the page and matches the CPU reference', async () => {
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      const logs: string[] = [];
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(String(e)));
      await page.goto(`${base}/test/browser/smoke.html`, { waitUntil: 'load', timeout: 120_000 });
      await page.waitForFunction('window.__result !== undefined', { timeout: 240_000 });
      const r = (await page.evaluate('window.__result')) as {
        ok: boolean;
        maxAbsErr?: number;
        error?: string;
        adapter?: { description: string; backend: string; architecture: string };
      };
      if (!r.ok) throw new Error(`page result: ${JSON.stringify(r)}\nlogs:\n${logs.join('\n')}`);
      expect(r.adapter?.backend).toBe('browser');
      expect(r.adapter?.architecture).toMatch(/swiftshader/i);
      expect(r.maxAbsErr).toBeLessThanOrEqual(1e-4);
      console.log(`browser adapter: ${JSON.stringify(r.adapter)}; max |gpu-cpu| ${r.maxAbsErr}`);
    } finally {
      await close();
    }
  });
});
