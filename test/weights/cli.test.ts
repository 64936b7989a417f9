import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { register as registerConvert } from '../../src/cli/convert.ts';
import { inspectFile } from '../../src/cli/inspect.ts';
import { loadCodecWeights, toHex } from '../../src/model/weights/index.ts';
import { goldenOrFixture } from '../helpers/golden.ts';

describe('convert / inspect CLI', () => {
  it('convert writes a .safetensors that inspect and the loader read back', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'webvcm-')), 'tiny.safetensors');
    const src = goldenOrFixture('compressai/keys/tiny_keys_current.pth.tar');
    const program = new Command().exitOverride();
    registerConvert(program);
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((printed += String(s)), true));
    try {
      await program.parseAsync(['node', 'webvcm', 'convert', src, '-o', out, '--json']);
    } finally {
      write.mockRestore();
    }
    const summary = JSON.parse(printed);
    expect(summary.kind).toBe('compressai-hyperprior');
    expect(summary.config).toEqual({ architecture: 'bmshj2018-hyperprior', C: 64, N: 16, M: 24 });
    const r = await inspectFile(out);
    expect(r.format).toBe('safetensors');
    expect(r.error).toBeNull();
    expect(r.metadata.source_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.tensors.find((t) => t.name === 'g_a.1.gamma')).toEqual({ name: 'g_a.1.gamma', dtype: 'float32', shape: [16, 16] });
    const w = await loadCodecWeights(new Uint8Array(readFileSync(out)));
    expect(toHex(w.fingerprint)).toBe(summary.fingerprint);
    const raw = await inspectFile(src);
    expect(raw.format).toBe('torch-zip');
    expect(raw.tensors.length).toBe(91);
    expect(raw.config).toEqual({ architecture: 'bmshj2018-hyperprior', C: 64, N: 16, M: 24 });
  });
});
