// Backend selection: the pure decision (auto / webgpu / wasm against no adapter, a hardware adapter, lavapipe and
// SwiftShader, in Node and in a browser), option parsing, and the CLI end to end: `--backend` on encode/decode, the
// one-line notice when auto falls back, and `doctor` reporting the choice and its reason without an adapter.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendChoiceError, decideBackend, parseBackend, softwareAdapterOf, type BackendProbe } from '../../src/api/backend-choice.ts';
import { createEncoder } from '../../src/api/index.ts';
import type { AdapterSummary } from '../../src/gpu/device.ts';

const adapter = (description: string, vendor = '', isFallbackAdapter = false): AdapterSummary =>
  ({ vendor, architecture: '', device: '', description, isFallbackAdapter, backend: 'node-dawn' });
const LVP = adapter('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)', 'mesa', true);
const SWS = adapter('SwiftShader Device (Subzero)', 'google', true);
const NV = adapter('NVIDIA GeForce RTX 4090', 'nvidia');
const probe = (p: Partial<BackendProbe>): BackendProbe => ({ adapter: null, node: true, role: 'decoder', ...p });

describe('backend selection', () => {
  it('decideBackend: every choice against every kind of adapter', () => {
    expect(softwareAdapterOf(LVP)).toBe('lavapipe');
    expect(softwareAdapterOf(SWS)).toBe('swiftshader');
    expect(softwareAdapterOf(NV)).toBeNull();
    // auto
    expect(decideBackend('auto', probe({ adapter: NV }))).toMatchObject({ backend: 'webgpu', fallback: false });
    expect(decideBackend('auto', probe({ adapter: null, error: 'navigator.gpu is undefined', node: false }))).toMatchObject({ backend: 'wasm', fallback: true });
    expect(decideBackend('auto', probe({ adapter: null, error: 'x' })).reason).toMatch(/no WebGPU adapter \(x\)/);
    for (const a of [LVP, SWS]) for (const role of ['encoder', 'decoder'] as const) {
      expect(decideBackend('auto', probe({ adapter: a, role }))).toMatchObject({ backend: 'wasm', fallback: true });
      // browsers: a software adapter is still WebGPU (the page asked the browser; no measurement there)
      expect(decideBackend('auto', probe({ adapter: a, role, node: false }))).toMatchObject({ backend: 'webgpu' });
    }
    expect(decideBackend('auto', probe({ adapter: LVP, external: true })).backend).toBe('webgpu');
    // explicit choices
    expect(decideBackend('wasm', probe({ adapter: NV }))).toMatchObject({ backend: 'wasm', fallback: false });
    expect(decideBackend('webgpu', probe({ adapter: LVP }))).toMatchObject({ backend: 'webgpu', fallback: false });
    expect(() => decideBackend('webgpu', probe({ adapter: null, error: 'none' }))).toThrow(BackendChoiceError);
  });

  it('parseBackend and the API reject unknown names before loading anything', async () => {
    expect(parseBackend('wasm')).toBe('wasm');
    expect(() => parseBackend('cuda')).toThrow(/one of auto, webgpu, wasm/);
    await expect(createEncoder({ detector: 'nonexistent', codec: 'nonexistent', backend: 'cuda' as 'wasm' })).rejects.toThrow(BackendChoiceError);
  });
});

describe('CLI --backend, the fallback notice and doctor without an adapter', () => {
  const NO_ADAPTER = { ...process.env, WEBVCM_VK_ICD: '/nonexistent/icd.json', VK_ICD_FILENAMES: '', WEBVCM_BACKEND: '' };
  const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, ['bin/webvcm.js', ...args], { env, encoding: 'utf8', timeout: 240_000 });

  it('doctor with auto and no adapter: exit 0, backend wasm with the reason; with webgpu: exit 2', () => {
    const r = cli(['doctor', '--json'], NO_ADAPTER);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { adapter: null; backend: { choice: string; encoder: { backend: string; reason: string }; decoder: { backend: string }; wasm: { ok: boolean } } };
    expect(j.adapter).toBeNull();
    expect(j.backend.choice).toBe('auto');
    expect(j.backend.wasm.ok).toBe(true);
    expect(j.backend.encoder.backend).toBe('wasm');
    expect(j.backend.decoder.backend).toBe('wasm');
    expect(j.backend.encoder.reason).toMatch(/no WebGPU adapter/);
    expect(cli(['doctor', '--json', '--backend', 'webgpu'], NO_ADAPTER).status).toBe(2);
  });

  it('encode/decode with auto and no adapter: one notice line, backend wasm; --backend wasm decodes it the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-wasm-cli-'));
    const vcm = join(dir, 'x.vcm');
    const e = cli(['encode', 'weights/world/example.png', '-o', vcm, '--mode', 'portable', '--json'], NO_ADAPTER);
    expect(e.status, e.stderr).toBe(0);
    const notices = e.stderr.split('\n').filter((l) => l.startsWith('webvcm: '));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/no WebGPU adapter .*WebAssembly SIMD/);
    expect(JSON.parse(e.stdout).backend).toBe('wasm');
    const outs = ['a', 'b'].map((n) => join(dir, `${n}.json`));
    const d1 = cli(['decode', vcm, '-o', outs[0]!, '--json'], NO_ADAPTER);
    const d2 = cli(['decode', vcm, '-o', outs[1]!, '--json', '--backend', 'wasm']);
    expect(d1.status, d1.stderr).toBe(0);
    expect(d2.status, d2.stderr).toBe(0);
    expect(JSON.parse(d2.stdout).backend).toBe('wasm');
    expect(d2.stderr).not.toMatch(/^webvcm: /m); // asked for: no notice
    expect(readFileSync(outs[0]!, 'utf8')).toBe(readFileSync(outs[1]!, 'utf8'));
    expect(cli(['encode', 'weights/world/example.png', '-o', vcm, '--backend', 'cuda']).status).not.toBe(0);
  });
});
