// `webvcm codec compress|decompress` on golden case C (RGB): CompressAI's strings byte for byte via --strings-out,
// decoded tensor (clamped, RGB) within 1e-4 of CompressAI's x_hat, a portable stream round-trips, wrong weights are
// rejected with a ContainerError.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { compressCommand, decompressCommand } from '../../src/cli/codec.ts';
import { readContainer } from '../../src/coder/index.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { CodecInputError } from '../../src/model/codec/codec.ts';
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
    expectClose(
      readNpy(new Uint8Array(readFileSync(join(dir, 'raw.npy')))).data as Float32Array,
      f32('compressai/C/x_hat.npy'),
      1e-4,
      0,
      'raw strings x_hat',
    );
    await expect(
      decompressCommand({
        weights: resolve(GOLDEN, 'compressai/A/model.pth.tar'),
        input: join(dir, 'c.wvcm'),
        output: join(dir, 'bad.npy'),
      }),
    ).rejects.toThrow(/fingerprint mismatch/);
  });
});

describeGpu('webvcm codec compress: inputs it cannot code are refused by name', () => {
  it("NaN names the file and the position; huge values say they are out of the codec's range", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-codec-bad-'));
    const weights = resolve('weights/default/codec.safetensors');
    const x = new Float32Array(64 * 16 * 16).map((_, i) => (i % 97) / 97);
    const nan = x.slice();
    nan[3 * 256 + 4 * 16 + 5] = NaN;
    writeFileSync(join(dir, 'nan.npy'), writeNpy(nan, [1, 64, 16, 16]));
    const e1 = await compressCommand({ weights, input: join(dir, 'nan.npy'), output: join(dir, 'nan.vcm'), mode: 'compat' }).catch(
      (e: unknown) => e,
    );
    expect(e1).toBeInstanceOf(CodecInputError);
    expect((e1 as Error).message).toMatch(/nan\.npy: value at \[0, 3, 4, 5\] is NaN; the codec codes finite values only/);
    const big = x.slice();
    big[100] = 1e30;
    writeFileSync(join(dir, 'big.npy'), writeNpy(big, [1, 64, 16, 16]));
    const e2 = await compressCommand({ weights, input: join(dir, 'big.npy'), output: join(dir, 'big.vcm'), mode: 'compat' }).catch(
      (e: unknown) => e,
    );
    expect(e2).toBeInstanceOf(CodecInputError);
    expect((e2 as Error).message).toMatch(/out of the codec's range/);
    // an ordinary input of the same shape still compresses
    writeFileSync(join(dir, 'ok.npy'), writeNpy(x, [1, 64, 16, 16]));
    await compressCommand({ weights, input: join(dir, 'ok.npy'), output: join(dir, 'ok.vcm'), mode: 'portable' });
    expect(readContainer(new Uint8Array(readFileSync(join(dir, 'ok.vcm')))).featureShape).toEqual([64, 16, 16]);
  });
});
