/** Decompression budget of the checkpoint reader, with generated bombs: every one is refused before inflating. */
import { zipSync } from 'fflate';
import { expect, it } from 'vitest';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { CheckpointError } from '../../src/model/weights/errors.ts';
import { MAX_PICKLE_BYTES, ZipArchive } from '../../src/model/weights/zip.ts';

/** Central-directory offset of `name` (to make its declared size lie, as a hostile archive does). */
function patchDeclaredSize(zip: Uint8Array, name: string, size: number): Uint8Array {
  const out = zip.slice();
  const dv = new DataView(out.buffer);
  const enc = new TextEncoder().encode(name);
  for (let p = 0; p + 46 < out.length; p++) {
    if (dv.getUint32(p, true) !== 0x02014b50) continue;
    const n = dv.getUint16(p + 28, true);
    if (n === enc.length && enc.every((b, i) => out[p + 46 + i] === b)) { dv.setUint32(p + 24, size, true); return out; }
  }
  throw new Error('entry not found');
}

it('an honest bomb: data.pkl that inflates past the budget is refused from its declared size, fast', () => {
  const zeros = new Uint8Array(MAX_PICKLE_BYTES + (1 << 20));
  const bomb = zipSync({ 'archive/data.pkl': [zeros, { level: 9 }], 'archive/byteorder': new TextEncoder().encode('little') });
  expect(bomb.length).toBeLessThan(200_000); // ~65 MiB from a few hundred KB
  const t0 = performance.now();
  expect(() => readCheckpoint(bomb)).toThrow(CheckpointError);
  expect(() => readCheckpoint(bomb)).toThrow(/data\.pkl' declares 68157440 bytes, over the decompression budget/);
  expect(performance.now() - t0).toBeLessThan(1000);
});

it('a lying bomb: a declared size beyond what DEFLATE can expand is refused before inflating', () => {
  const small = zipSync({ 'archive/data.pkl': [new Uint8Array(4000), { level: 9 }] });
  const lie = patchDeclaredSize(small, 'archive/data.pkl', 1_500_000_000);
  expect(() => readCheckpoint(lie)).toThrow(CheckpointError);
  const z = new ZipArchive(lie);
  expect(() => z.read('archive/data.pkl', { maxBytes: 2 ** 31 })).toThrow(/more than DEFLATE can expand/);
});

it('a storage entry must have exactly the size its tensors need', () => {
  const z = new ZipArchive(zipSync({ 'archive/data/0': [new Uint8Array(4096), { level: 9 }] }));
  expect(() => z.read('archive/data/0', { expectBytes: 1024, file: 'model.pth.tar' })).toThrow(/model\.pth\.tar: zip entry 'archive\/data\/0' declares 4096 bytes, but the tensors stored in it need 1024/);
  expect(z.read('archive/data/0', { expectBytes: 4096 }).length).toBe(4096);
});
