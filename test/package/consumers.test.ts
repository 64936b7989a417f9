// The package as its users get it: `npm pack` once, installed (offline, from npm's cache, with a lockfile derived
// from this repository's) into a temporary consumer project, then used four ways:
//   1. plain `node` imports webvcm, encodes and decodes the bundled example with the bundled weights;
//   2. a minimal Vite app builds without warnings and runs encode → decode → detect in headless Chromium, on WebGPU
//      and on the wasm backend (the .wasm loads with no bundler configuration);
//   3. a TypeScript consumer type-checks against the shipped .d.ts with moduleResolution bundler and node16;
//   4. `npx webvcm --version` and `npx webvcm doctor` from the installed package.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, preview, type Logger, type PreviewServer } from 'vite';
import { createDecoder, createEncoder } from '../../src/index.ts';
import { CONTAINER_VERSION } from '../../src/coder/container.ts';
import { launchChromium } from '../helpers/browser.ts';
import { describeGpu } from '../helpers/gpu.ts';

const ROOT = process.cwd();
const PKG = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const EXAMPLE = resolve(ROOT, 'weights/mini-coco/000000000001.png');
const SIZE = { minSize: 160, maxSize: 272 };
const LAVAPIPE_ICD = resolve(ROOT, '.cache/lavapipe/lvp_icd.json');
/** npx exactly as a user types it, kept off the network (the bin is the installed one). */
const OFFLINE = { npm_config_offline: 'true', npm_config_update_notifier: 'false' };

let work = '';
let app = '';
let tarball = '';

/** Runs a command in the consumer project; fails with its output. */
function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): string {
  const r = spawnSync(cmd, args, { cwd: opts.cwd ?? app, env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: opts.timeout ?? 240_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** package-lock.json for a project depending on the tarball only: the dependency closure copied from ours. */
function consumerLock(tgzName: string, integrity: string): unknown {
  const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const pkgs = lock.packages;
  const parent = (p: string): string => { const i = p.lastIndexOf('/node_modules/'); return i < 0 ? '' : p.slice(0, i); };
  const find = (from: string, name: string): string | undefined => {
    for (let p = from; ; p = parent(p)) {
      const cand = `${p ? `${p}/` : ''}node_modules/${name}`;
      if (pkgs[cand]) return cand;
      if (!p) return undefined;
    }
  };
  const out: Record<string, Record<string, unknown>> = {
    '': { name: 'webvcm-consumer', dependencies: { webvcm: `file:${tgzName}` } },
    'node_modules/webvcm': { version: PKG.version, resolved: `file:${tgzName}`, integrity, dependencies: PKG.dependencies, bin: { webvcm: 'bin/webvcm.js' } },
  };
  const queue: [string, string][] = Object.keys(PKG.dependencies).map((n) => ['node_modules/webvcm', n]);
  while (queue.length) {
    const [from, name] = queue.shift()!;
    const at = find(from === 'node_modules/webvcm' ? '' : from, name);
    if (!at) {
      const optional = (pkgs[from]?.optionalDependencies as Record<string, string> | undefined)?.[name];
      if (optional) continue;
      throw new Error(`package-lock.json has no entry for ${name} (needed by ${from}): run npm install`);
    }
    if (out[at]) continue;
    const e = { ...pkgs[at]! };
    delete e.dev;
    delete e.devOptional;
    delete e.peer;
    if (!e.resolved && !e.link) {
      // entries added by a later `npm install` may lack their URL; the tarball is found by integrity in the cache
      const pkgName = at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length);
      e.resolved = `https://registry.npmjs.org/${pkgName}/-/${pkgName.split('/').at(-1)}-${String(e.version)}.tgz`;
    }
    out[at] = e;
    for (const field of ['dependencies', 'optionalDependencies']) {
      for (const n of Object.keys((e[field] as Record<string, string> | undefined) ?? {})) queue.push([at, n]);
    }
  }
  return { name: 'webvcm-consumer', lockfileVersion: 3, requires: true, packages: out };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'webvcm-consumer-'));
  // dist/ is fresh (test/setup/global.ts); pack it as `npm publish` would, once for the four tests
  const name = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  tarball = join(work, name);
  app = join(work, 'app');
  mkdirSync(app);
  cpSync(tarball, join(app, name));
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'webvcm-consumer', private: true, type: 'module', dependencies: { webvcm: `file:${name}` } }, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify(consumerLock(name, integrity), null, 2));
  try {
    sh('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { timeout: 280_000 });
  } catch (e) {
    throw new Error(`installing the tarball offline failed (npm's cache is filled by \`npm run setup\` / npm ci):\n${(e as Error).message}`);
  }
  console.log(`packed ${name}: ${(statSync(tarball).size / 1e6).toFixed(2)} MB; installed into ${app}`);
}, 300_000);

afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe('installed package', () => {
  it('contains the build, the bundled weights and no sources or tests', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const f of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/node.js', 'package/dist/gpu/shaders.gen.js', 'package/dist/cli/commands.json', 'package/bin/webvcm.js', 'package/weights/default/detector.safetensors', 'package/weights/default/codec.safetensors']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test|tools|shaders|bench|demo)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('TypeScript consumer type-checks against the shipped .d.ts (moduleResolution bundler and node16)', () => {
    const src = join(app, 'ts');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'use.ts'), `
import { createEncoder, createDecoder, COCO_CLASS_NAMES, readContainer, type EncodeResult, type Detections, type ImageInput } from 'webvcm';
export async function run(device: GPUDevice, image: ImageInput): Promise<string[]> {
  const enc = await createEncoder({ detector: '/m/detector.safetensors', codec: '/m/codec.safetensors', device, method: 2, mode: 'portable', onProgress: (p) => void p.loaded });
  const r: EncodeResult = await enc.encode(image);
  const header = readContainer(r.bytes);
  const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device });
  const d: Detections = (await dec.decode(r.bytes)).detections;
  enc.dispose();
  dec.dispose();
  void header;
  return Array.from(d.classes, (c) => COCO_CLASS_NAMES[c] ?? '?');
}
// @ts-expect-error method is 1 or 2
void createEncoder({ detector: 'd', codec: 'c', method: 3 });
`);
    writeFileSync(join(src, 'node-only.ts'), `
import { bundledWeights, createEncoder } from 'webvcm';
const w: { detector: string; codec: string } = bundledWeights();
export const enc = createEncoder({ detector: w.detector, codec: w.codec });
`);
    const base = { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', lib: ['ES2022', 'DOM'], types: [] as string[] };
    writeFileSync(join(app, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...base, module: 'ESNext', moduleResolution: 'bundler' }, files: ['ts/use.ts'] }));
    writeFileSync(join(app, 'tsconfig.node16.json'), JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['ts/use.ts', 'ts/node-only.ts'] }));
    const tsc = resolve(ROOT, 'node_modules/typescript/bin/tsc');
    for (const [cfg, entry] of [['tsconfig.bundler.json', 'index'], ['tsconfig.node16.json', 'node']]) {
      const out = sh(process.execPath, [tsc, '-p', cfg!, '--listFiles']); // type-checks, then lists what it read
      expect(out, `${cfg} resolves the shipped types`).toContain(`node_modules/webvcm/dist/${entry}.d.ts`);
    }
    // the browser-facing types must not carry the Node entry's extras
    writeFileSync(join(src, 'wrong.ts'), `import { bundledWeights } from 'webvcm';\nbundledWeights();\n`);
    writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: { ...base, module: 'ESNext', moduleResolution: 'bundler' }, files: ['ts/wrong.ts'] }));
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.wrong.json'], { cwd: app, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/bundledWeights/);
  });

  it('npx webvcm --version prints the package and bitstream format versions; --help lists the commands', () => {
    const v = sh('npx', ['webvcm', '--version'], { env: OFFLINE }).trim();
    expect(v).toBe(`webvcm ${PKG.version} (bitstream format ${CONTAINER_VERSION})`);
    const help = sh('npx', ['webvcm', '--help'], { env: OFFLINE });
    for (const c of ['doctor', 'encode', 'decode', 'detect', 'codec', 'convert', 'inspect', 'eval']) expect(help).toContain(`  ${c}`);
  });
});

describeGpu('installed package on a GPU adapter', () => {
  it('npx webvcm doctor finds an adapter and passes its self-test', () => {
    const out = sh('npx', ['webvcm', 'doctor', '--json'], { env: OFFLINE, timeout: 240_000 });
    const r = JSON.parse(out) as { adapter: { description: string; backend: string; icd?: string }; selfTest: { ok: boolean; maxAbsErr: number } };
    console.log(`installed doctor: ${r.adapter.description} (${r.adapter.backend}, ICD ${r.adapter.icd ?? 'system'}), self-test ${r.selfTest.ok ? 'PASS' : 'FAIL'} max |gpu-cpu| ${r.selfTest.maxAbsErr}`);
    expect(r.adapter.backend).toBe('node-dawn');
    expect(r.selfTest.ok).toBe(true);
  });

  it('plain node: encodes and decodes the example with the bundled weights, byte-identical to the sources', async () => {
    writeFileSync(join(app, 'run.mjs'), `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundledWeights, createDecoder, createEncoder } from 'webvcm';
const w = bundledWeights();
const detector = fileURLToPath(import.meta.resolve('webvcm/weights/default/detector.safetensors'));
if (detector !== w.detector) throw new Error('weights subpath and bundledWeights() disagree: ' + detector + ' vs ' + w.detector);
const enc = await createEncoder({ detector, codec: w.codec, minSize: ${SIZE.minSize}, maxSize: ${SIZE.maxSize} });
const e = await enc.encode(new Uint8Array(readFileSync(process.argv[2])));
const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: enc.device });
const d = await dec.decode(e.bytes);
console.log(JSON.stringify({ adapter: enc.adapter.description, hex: Buffer.from(e.bytes).toString('hex'), dets: d.detections.scores.length, scores: Array.from(d.detections.scores) }));
dec.dispose();
enc.dispose();
`);
    // same adapter as this process (lavapipe when installed) so that the bytes are comparable
    const env = { WEBVCM_VK_ICD: statSync(LAVAPIPE_ICD, { throwIfNoEntry: false }) ? LAVAPIPE_ICD : '' };
    const got = JSON.parse(sh(process.execPath, ['run.mjs', EXAMPLE], { env, timeout: 280_000 }).trim().split('\n').at(-1)!) as { adapter: string; hex: string; dets: number; scores: number[] };
    const enc = await createEncoder({ detector: 'weights/default/detector.safetensors', codec: 'weights/default/codec.safetensors', ...SIZE });
    const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: enc.device });
    try {
      const e = await enc.encode(new Uint8Array(readFileSync(EXAMPLE)));
      const d = await dec.decode(e.bytes);
      console.log(`installed package in node (${got.adapter}): ${got.hex.length / 2} B, ${got.dets} detections`);
      expect(got.hex).toBe(Buffer.from(e.bytes).toString('hex'));
      expect(got.scores).toEqual(Array.from(d.detections.scores));
    } finally {
      dec.dispose();
      enc.dispose();
    }
  }, 300_000);

  describe('a Vite app that imports webvcm', () => {
    let server: PreviewServer | undefined;
    afterAll(async () => { await server?.close(); });

    it('builds without warnings and runs encode → decode → detect in headless Chromium', async () => {
      const web = join(app, 'web');
      mkdirSync(web, { recursive: true });
      cpSync(EXAMPLE, join(web, 'example.png'));
      writeFileSync(join(web, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><title>webvcm consumer</title></head><body><script type="module" src="./main.js"></script></body></html>\n');
      writeFileSync(join(web, 'main.js'), `
import { createDecoder, createEncoder } from 'webvcm';
import detectorUrl from 'webvcm/weights/default/detector.safetensors?url';
import codecUrl from 'webvcm/weights/default/codec.safetensors?url';
import imageUrl from './example.png?url';
try {
  const image = new Uint8Array(await (await fetch(imageUrl)).arrayBuffer());
  const enc = await createEncoder({ detector: detectorUrl, codec: codecUrl, minSize: ${SIZE.minSize}, maxSize: ${SIZE.maxSize} });
  const e = await enc.encode(image);
  const dec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, device: enc.device });
  const d = await dec.decode(e.bytes);
  // the same on the wasm backend: its module must load from the package with this plain Vite config
  const wenc = await createEncoder({ detector: enc.detectorWeights, codec: enc.codecWeights, backend: 'wasm', minSize: ${SIZE.minSize}, maxSize: ${SIZE.maxSize} });
  const we = await wenc.encode(image);
  const wdec = await createDecoder({ detector: enc.detectorWeights, codec: enc.codecWeights, backend: 'wasm' });
  const wd = await wdec.decode(we.bytes);
  window.__result = { ok: true, adapter: enc.adapter, bytes: e.bytes.length, dets: d.detections.scores.length,
    wasm: { backend: wenc.backend, threads: wenc.threads, bytes: we.bytes.length, dets: wd.detections.scores.length } };
  wdec.dispose();
  wenc.dispose();
  dec.dispose();
  enc.dispose();
} catch (err) {
  window.__result = { ok: false, error: String(err && err.stack || err) };
}
`);
      const warnings: string[] = [];
      const logger: Logger = {
        hasWarned: false,
        info: () => {},
        warn: (m) => { warnings.push(m); },
        warnOnce: (m) => { warnings.push(m); },
        error: (m) => { warnings.push(`error: ${m}`); },
        clearScreen: () => {},
        hasErrorLogged: () => false,
      };
      // A consumer's plain config: no aliases, no polyfills, no optimizeDeps tweaks.
      await build({ root: web, configFile: false, logLevel: 'warn', customLogger: logger, build: { outDir: join(web, 'dist'), target: 'es2022' } });
      expect(warnings, 'vite build warnings').toEqual([]);
      const html = readFileSync(join(web, 'dist/index.html'), 'utf8');
      expect(html).toContain('<script type="module"');
      // no Node-only module reached the browser bundle (Dawn and node:* are only ever imported by computed names)
      const js = readdirSync(join(web, 'dist/assets')).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(web, 'dist/assets', f), 'utf8')).join('\n');
      expect(js).not.toMatch(/from\s*["'](node:|fs["']|zlib["']|path["']|webgpu["'])|require\(["'](node:|fs|zlib|path|webgpu)/);
      expect(js).not.toMatch(/pngjs|inherits is not a function/);
      server = await preview({ root: web, configFile: false, logLevel: 'error', build: { outDir: join(web, 'dist') }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
      const addr = server.httpServer.address();
      if (!addr || typeof addr === 'string') throw new Error('no preview address');
      const { browser, close } = await launchChromium();
      try {
        const page = await browser.newPage();
        const logs: string[] = [];
        page.on('console', (m) => logs.push(m.text()));
        page.on('pageerror', (err) => logs.push(String(err)));
        await page.goto(`http://127.0.0.1:${addr.port}/`, { waitUntil: 'load', timeout: 120_000 });
        await page.waitForFunction('window.__result !== undefined', { timeout: 280_000 });
        const r = (await page.evaluate('window.__result')) as { ok: boolean; error?: string; bytes?: number; dets?: number; adapter?: { description: string; backend: string };
          wasm?: { backend: string; threads: number; bytes: number; dets: number } };
        if (!r.ok) throw new Error(`page failed: ${r.error}\n${logs.join('\n')}`);
        console.log(`vite app in chromium (${r.adapter?.description}): ${r.bytes} B, ${r.dets} detections`);
        expect(r.adapter?.backend).toBe('browser');
        expect(r.bytes).toBeGreaterThan(64);
        expect(r.dets).toBeGreaterThanOrEqual(0);
        console.log(`  the same page on wasm (${r.wasm?.threads} thread): ${r.wasm?.bytes} B, ${r.wasm?.dets} detections`);
        expect(r.wasm?.backend).toBe('wasm');
        expect(r.wasm?.threads).toBe(1); // not cross-origin isolated
        expect(r.wasm?.bytes).toBeGreaterThan(64);
        expect(Math.abs(r.wasm!.dets - r.dets!), 'wasm and WebGPU detection counts (float noise at the score threshold at most)').toBeLessThanOrEqual(2);
      } finally {
        await close();
      }
    }, 300_000);
  });
});
