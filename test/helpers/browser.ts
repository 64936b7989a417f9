/**
 * Headless Debian Chromium (SwiftShader WebGPU) driven by puppeteer-core, pages served by a Vite dev server on
 * 127.0.0.1 (a secure context). Shared by the smoke test and the demo end-to-end test.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.WEBVCM_CHROMIUM ?? '/usr/bin/chromium';

/** `extraArgs`: more Chromium switches (e.g. a fake camera); `webgpu: false` launches it with WebGPU disabled. */
export async function launchChromium(extraArgs: string[] = [], opts: { webgpu?: boolean } = {}): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const gpuArgs = opts.webgpu === false ? ['--disable-features=WebGPU,Vulkan'] : ['--enable-unsafe-webgpu', '--enable-dawn-features=disable_robustness'];
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run npm run setup (apt-get install chromium)`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'webvcm-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    protocolTimeout: 900_000,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage',
      ...gpuArgs, `--user-data-dir=${userDataDir}`, ...extraArgs,
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
