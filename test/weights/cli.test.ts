import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { register as registerConvert, RoundF16Error } from '../../src/cli/convert.ts';
import { inspectFile } from '../../src/cli/inspect.ts';
import { loadCodecWeights, loadDetectorWeights, toHex } from '../../src/model/weights/index.ts';
import { roundToF16 } from '../../src/util/f16.ts';
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

  async function convert(args: string[]): Promise<Record<string, unknown>> {
    const program = new Command().exitOverride();
    registerConvert(program);
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((printed += String(s)), true));
    try {
      await program.parseAsync(['node', 'webvcm', 'convert', ...args, '--json']);
    } finally {
      write.mockRestore();
    }
    return JSON.parse(printed) as Record<string, unknown>;
  }

  it('convert --round-f16 stores a detector as F16 (about half the bytes), each value the float16 rounding of the original', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'webvcm-'));
    const src = 'weights/random/detector.safetensors';
    const out = path.join(dir, 'det16.safetensors');
    const summary = await convert([src, '-o', out, '--round-f16']);
    expect(summary.kind).toBe('detectron2-rcnn-fpn');
    const before = readFileSync(src).length;
    const after = readFileSync(out).length;
    expect(after).toBeLessThan(before * 0.52);
    const orig = await loadDetectorWeights(new Uint8Array(readFileSync(src)));
    const rounded = await loadDetectorWeights(new Uint8Array(readFileSync(out)));
    expect(toHex(rounded.fingerprint)).toBe(summary.fingerprint);
    expect(toHex(rounded.fingerprint)).not.toBe(toHex(orig.fingerprint));
    expect([...rounded.tensors.keys()].sort()).toEqual([...orig.tensors.keys()].sort());
    const bytes = readFileSync(out);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype?: string }>;
    const dtypes = new Set(Object.entries(header).flatMap(([k, v]) => (k === '__metadata__' ? [] : [v.dtype])));
    expect([...dtypes]).toEqual(['F16']);
    let changed = 0;
    for (const [name, t] of orig.tensors) {
      const want = roundToF16(t.data as Float32Array);
      const got = rounded.tensors.get(name)!.data as Float32Array;
      expect(got.length, name).toBe(want.length);
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) throw new Error(`${name}[${i}]: ${got[i]} != ${want[i]}`);
      changed += want.some((v, i) => v !== (t.data as Float32Array)[i]) ? 1 : 0;
    }
    expect(changed).toBeGreaterThan(0); // the random detector's values are not all float16 already
  });

  it('convert --round-f16 refuses a codec with a clear error', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'webvcm-')), 'c.safetensors');
    await expect(convert([goldenOrFixture('compressai/keys/tiny_keys_current.pth.tar'), '-o', out, '--round-f16'])).rejects.toThrow(RoundF16Error);
    await expect(convert([goldenOrFixture('compressai/keys/tiny_keys_current.pth.tar'), '-o', out, '--round-f16'])).rejects.toThrow(
      /detectors only/,
    );
  });
});
