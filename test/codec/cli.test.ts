// `webvcm codec compress|decompress` on golden case C (RGB): CompressAI's strings byte for byte via --strings-out,
// decoded tensor (clamped, RGB) within 1e-4 of CompressAI's x_hat, a portable stream round-trips, wrong weights are
// rejected with a ContainerError.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { compressCommand, decompressCommand } from '../../src/cli/codec.ts';
import { readContainer } from '../../src/coder/index.ts';
import { readNpy } from '../../src/io/npy.ts';
import { describeGpu, expectClose } from '../helpers/gpu.ts';
import { GOLDEN, bin, f32, firstDiff } from './golden.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

describeGpuGolden('webvcm codec CLI', () => {
  it('compress / decompress golden C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-codec-'));
    const weights = resolve(GOLDEN, 'compressai/C/model.pth.tar');
    const input = resolve(GOLDEN, 'compressai/C/x.npy');
    await compressCommand({ weights, input, output: join(dir, 'c.wvcm'), mode: 'compat', stringsOut: join(dir, 's') });
    expect(firstDiff(new Uint8Array(readFileSync(join(dir, 's/y_string.bin'))), bin('compressai/C/y_string.bin'))).toBe(-1);
    expect(firstDiff(new Uint8Array(readFileSync(join(dir, 's/z_string.bin'))), bin('compressai/C/z_string.bin'))).toBe(-1);
    const f = readContainer(new Uint8Array(readFileSync(join(dir, 'c.wvcm'))));
    expect(f.mode).toBe('compat');
    expect(f.zShape).toEqual([2, 3]);
    await decompressCommand({ weights, input: join(dir, 'c.wvcm'), output: join(dir, 'x_hat.npy') });
    const xh = readNpy(new Uint8Array(readFileSync(join(dir, 'x_hat.npy'))));
    expect(xh.shape).toEqual([1, 3, 128, 192]);
    expectClose(xh.data as Float32Array, f32('compressai/C/x_hat.npy'), 1e-4, 0, 'CLI x_hat');
    await compressCommand({ weights, input, output: join(dir, 'p.wvcm'), mode: 'portable' });
    expect(readContainer(new Uint8Array(readFileSync(join(dir, 'p.wvcm')))).mode).toBe('portable');
    await decompressCommand({ weights, input: join(dir, 'p.wvcm'), output: join(dir, 'p.npy') });
    expect(firstDiff(readNpy(new Uint8Array(readFileSync(join(dir, 'p.npy')))).data as Float32Array, xh.data as Float32Array)).toBe(-1);
    // CompressAI's own raw strings
    await decompressCommand({ weights, stringsIn: resolve(GOLDEN, 'compressai/C'), zShape: [2, 3], output: join(dir, 'raw.npy') });
    expectClose(readNpy(new Uint8Array(readFileSync(join(dir, 'raw.npy')))).data as Float32Array, f32('compressai/C/x_hat.npy'), 1e-4, 0, 'raw strings x_hat');
    await expect(decompressCommand({ weights: resolve(GOLDEN, 'compressai/A/model.pth.tar'), input: join(dir, 'c.wvcm'), output: join(dir, 'bad.npy') }))
      .rejects.toThrow(/fingerprint mismatch/);
  });
});
