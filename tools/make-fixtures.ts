/**
 * Writes test/fixtures/: the small parity set that lets a clone without ../shared/golden still check the coder, the
 * codec and the detector (and COCO scoring) against references. Run from the repository root with the golden data
 * next to it:   npx tsx tools/make-fixtures.ts      (or WEBVCM_GOLDEN_DIR=/path/to/golden npx tsx …)
 *
 *  golden/…                byte copies of a few golden files (same relative paths as under ../shared/golden):
 *                          4 rANS vectors, the tiny 64-channel CompressAI checkpoint, Detectron2 case A's input
 *                          image and final detections, the two pycocotools cases F1/F2.
 *  detector-A.safetensors  golden case A's Detectron2 weights.pkl converted with the project's converter (the
 *                          pickle's protocol-2 encoding is 1.5x larger; the tensors are identical).
 *  codec-tiny/             CompressAI strings of the tiny checkpoint on a seeded 64×64×64 input, from the CPU
 *                          reference codec, written only after the same code has reproduced golden case A's y and z
 *                          strings byte for byte (so they are CompressAI's strings too, up to float32 ties, which
 *                          the golden A check guards); plus a strided sample of x_hat.
 *  manifest.json           sha256 and size of every file and of its golden source.
 * test/fixtures/fixtures.test.ts checks the copies against the golden folder whenever it is present.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CpuCodecBackend } from '../src/cpu/codec-backend.ts';
import { readNpy, writeNpy } from '../src/io/npy.ts';
import { HyperpriorCodec } from '../src/model/codec/codec.ts';
import { hyperpriorParams } from '../src/model/codec/params.ts';
import { readCheckpoint } from '../src/model/weights/checkpoint.ts';
import { convertToSafetensors, loadDetectorWeights } from '../src/model/weights/load.ts';
import { mulberry32 } from '../src/util/random.ts';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const golden = process.env.WEBVCM_GOLDEN_DIR ? resolve(process.env.WEBVCM_GOLDEN_DIR) : resolve(root, '../shared/golden');
const out = resolve(root, 'test/fixtures');
if (!existsSync(golden)) {
  console.error(`golden data not found at ${golden}`);
  process.exit(1);
}

export const COPIES = [
  ...['r02_single_escape_negative', 'r05_small_escape', 'r07_min_frequency_bins', 'r08_multi_cdf_random'].flatMap((d) =>
    ['cdf_lengths.npy', 'cdfs.npy', 'encoded.bin', 'indexes.npy', 'offsets.npy', 'symbols.npy'].map((f) => `compressai/rans/${d}/${f}`),
  ),
  'compressai/keys/tiny_keys_current.pth.tar',
  ...['image.png', 'detections_boxes.npy', 'detections_scores.npy', 'detections_classes.npy'].map((f) => `detectron2/A/${f}`),
  ...['F1', 'F2'].flatMap((c) => ['instances.json', 'detections.json', 'expected.json'].map((f) => `cocoeval/${c}/${f}`)),
];

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const manifest: {
  generatedBy: string;
  files: Record<string, { bytes: number; sha256: string; source?: string; sourceSha256?: string }>;
  codecTiny?: unknown;
} = {
  generatedBy: 'tools/make-fixtures.ts',
  files: {},
};
const record = (path: string, source?: string): void => {
  const b = readFileSync(path);
  manifest.files[relative(out, path)] = {
    bytes: b.length,
    sha256: sha(b),
    ...(source ? { source, sourceSha256: sha(readFileSync(resolve(golden, source))) } : {}),
  };
};

rmSync(out, { recursive: true, force: true });
for (const rel of COPIES) {
  const dst = resolve(out, 'golden', rel);
  mkdirSync(dirname(dst), { recursive: true });
  copyFileSync(resolve(golden, rel), dst);
  record(dst, rel);
}

// Detector: the golden weights through the project's converter.
{
  const src = resolve(golden, 'detectron2/A/weights.pkl');
  const w = await loadDetectorWeights(src);
  const dst = resolve(out, 'detector-A.safetensors');
  writeFileSync(dst, convertToSafetensors(w, sha(readFileSync(src))));
  record(dst, 'detectron2/A/weights.pkl');
}

// Codec: first prove the CPU reference reproduces golden case A's strings, then code the tiny case with it.
{
  const cpu = new CpuCodecBackend();
  const ckpt = (rel: string) => hyperpriorParams(readCheckpoint(new Uint8Array(readFileSync(resolve(golden, rel)))).tensors);
  const a = await HyperpriorCodec.create(ckpt('compressai/A/model.pth.tar'), cpu);
  const xa = readNpy(new Uint8Array(readFileSync(resolve(golden, 'compressai/A/x.npy'))));
  const ra = await a.compress(xa.data as Float32Array, { shape: xa.shape.slice(1) });
  for (const [i, f] of [
    [0, 'y_string.bin'],
    [1, 'z_string.bin'],
  ] as const) {
    const ref = new Uint8Array(readFileSync(resolve(golden, 'compressai/A', f)));
    if (sha(ra.strings[i]) !== sha(ref)) throw new Error(`the CPU reference does not reproduce golden A ${f}: fixtures not written`);
  }
  console.log('CPU reference reproduces golden case A y/z strings byte for byte');

  const tiny = await HyperpriorCodec.create(ckpt('compressai/keys/tiny_keys_current.pth.tar'), cpu);
  const shape = [64, 64, 64] as const;
  const seed = 9;
  const r = mulberry32(seed);
  const x = Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => Math.fround(Math.round(r() * 255) / 255));
  const dir = resolve(out, 'codec-tiny');
  mkdirSync(dir, { recursive: true });
  const cases: Record<string, unknown> = {};
  for (const mode of ['compat', 'portable'] as const) {
    const c = await tiny.compress(x, { shape, mode });
    const d = await tiny.decompress(c.strings, c.zShape, { mode });
    const xHat = await cpu.toCHW(d.xHat);
    const STRIDE = 16;
    const sample = Float32Array.from({ length: Math.ceil(xHat.length / STRIDE) }, (_, i) => xHat[i * STRIDE]!);
    writeFileSync(join(dir, `${mode}_y_string.bin`), c.strings[0]);
    writeFileSync(join(dir, `${mode}_z_string.bin`), c.strings[1]);
    writeFileSync(join(dir, `${mode}_x_hat_stride16.npy`), writeNpy(sample, [sample.length]));
    for (const f of ['y_string.bin', 'z_string.bin', 'x_hat_stride16.npy']) record(join(dir, `${mode}_${f}`));
    cases[mode] = { zShape: c.zShape, yBytes: c.strings[0].length, zBytes: c.strings[1].length, xHatStride: STRIDE };
  }
  manifest.codecTiny = {
    checkpoint: 'golden/compressai/keys/tiny_keys_current.pth.tar',
    input: { shape, seed, rule: 'x = fround(round(mulberry32(seed)() * 255) / 255), C×H×W order' },
    cases,
  };
}

writeFileSync(resolve(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
const total = Object.values(manifest.files).reduce((s, f) => s + f.bytes, 0);
console.log(`wrote ${Object.keys(manifest.files).length} files, ${(total / 1e6).toFixed(2)} MB, to ${relative(root, out)}`);
