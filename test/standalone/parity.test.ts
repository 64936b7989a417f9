// The small parity set in test/fixtures (tools/make-fixtures.ts): runs with or without ../shared/golden, so a clone
// of the repository alone still checks the rANS coder, the codec and the detector against references.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CdfTables, decodeWithIndexes, encodeWithIndexes } from '../../src/coder/index.ts';
import { CpuCodecBackend } from '../../src/cpu/codec-backend.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { GpuDetectorBackend } from '../../src/gpu/detector-backend.ts';
import { readNpy } from '../../src/io/npy.ts';
import { HyperpriorCodec } from '../../src/model/codec/codec.ts';
import { hyperpriorParams } from '../../src/model/codec/params.ts';
import { Detector } from '../../src/model/detector/detector.ts';
import { bgrFromFileBytes } from '../../src/io/image-file.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { loadDetectorWeights } from '../../src/model/weights/load.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { matchBoxes } from '../detector/match.ts';
import { FIXTURES_ROOT, goldenPath, itGolden } from '../helpers/golden.ts';
import { checked, describeGpu, expectClose, gpuContext } from '../helpers/gpu.ts';

interface Manifest {
  files: Record<string, { bytes: number; sha256: string; source?: string; sourceSha256?: string }>;
  codecTiny: {
    input: { shape: [number, number, number]; seed: number };
    cases: Record<'compat' | 'portable', { zShape: [number, number]; xHatStride: number }>;
  };
}
const fx = (rel: string): string => resolve(FIXTURES_ROOT, rel);
const bytes = (rel: string): Uint8Array => new Uint8Array(readFileSync(fx(rel)));
const npy = (rel: string) => readNpy(bytes(rel));
const manifest = JSON.parse(readFileSync(fx('manifest.json'), 'utf8')) as Manifest;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('fixture set', () => {
  it('every file is present and matches the manifest (sha256), a few MB in all', () => {
    let total = 0;
    for (const [rel, f] of Object.entries(manifest.files)) {
      expect(existsSync(fx(rel)), rel).toBe(true);
      expect(sha(bytes(rel)), rel).toBe(f.sha256);
      total += f.bytes;
    }
    expect(Object.keys(manifest.files).length).toBeGreaterThan(20);
    expect(total).toBeLessThan(6e6);
  });
  itGolden('the copies and the sources of derived files still equal ../shared/golden (else: npx tsx tools/make-fixtures.ts)', () => {
    for (const [rel, f] of Object.entries(manifest.files)) {
      if (!f.source) continue;
      expect(sha(new Uint8Array(readFileSync(goldenPath(f.source)))), `${rel} ← ${f.source}`).toBe(f.sourceSha256);
    }
  });
});

describe('rANS: CompressAI vectors from the fixture set', () => {
  const dirs = [
    ...new Set(
      Object.keys(manifest.files)
        .filter((k) => k.startsWith('golden/compressai/rans/'))
        .map((k) => k.split('/')[3]!),
    ),
  ].sort();
  it('has the four vectors', () => expect(dirs.length).toBe(4));
  for (const d of dirs) {
    it(`${d}: encodes to CompressAI's bytes and decodes them back`, () => {
      const p = `golden/compressai/rans/${d}`;
      const cdf = npy(`${p}/cdfs.npy`);
      const [nrows, stride] = cdf.shape as [number, number];
      const flat = cdf.data as Int32Array;
      const rows = Array.from({ length: nrows }, (_, r) => flat.subarray(r * stride, (r + 1) * stride));
      const symbols = npy(`${p}/symbols.npy`).data as Int32Array;
      const indexes = npy(`${p}/indexes.npy`).data as Int32Array;
      const lengths = npy(`${p}/cdf_lengths.npy`).data as Int32Array;
      const offsets = npy(`${p}/offsets.npy`).data as Int32Array;
      const encoded = bytes(`${p}/encoded.bin`);
      expect(hex(encodeWithIndexes(symbols, indexes, rows, lengths, offsets))).toBe(hex(encoded));
      expect(decodeWithIndexes(encoded, indexes, CdfTables.from(rows, lengths, offsets))).toEqual(symbols);
    });
  }
});

const tiny = () => hyperpriorParams(readCheckpoint(bytes('golden/compressai/keys/tiny_keys_current.pth.tar')).tensors);
function tinyInput(): { x: Float32Array; shape: [number, number, number] } {
  const { shape, seed } = manifest.codecTiny.input;
  const r = mulberry32(seed);
  return { x: Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, () => Math.fround(Math.round(r() * 255) / 255)), shape };
}
const MODES = ['compat', 'portable'] as const;
// x_hat: float32 convolutions in a different order (GPU) differ from the CPU reference by ~1e-6 of the range.
const XHAT_ATOL = 1e-4,
  XHAT_RTOL = 1e-4;

describe('codec: tiny CompressAI checkpoint (CPU reference)', () => {
  it('compat and portable strings equal the fixture; decode gives the fixture x_hat sample', async () => {
    const cpu = new CpuCodecBackend();
    const codec = await HyperpriorCodec.create(tiny(), cpu);
    const { x, shape } = tinyInput();
    for (const mode of MODES) {
      const c = await codec.compress(x, { shape, mode });
      expect(hex(c.strings[0]), `${mode} y`).toBe(hex(bytes(`codec-tiny/${mode}_y_string.bin`)));
      expect(hex(c.strings[1]), `${mode} z`).toBe(hex(bytes(`codec-tiny/${mode}_z_string.bin`)));
      expect(c.zShape).toEqual(manifest.codecTiny.cases[mode].zShape);
      const d = await codec.decompress(c.strings, c.zShape, { mode });
      const xHat = await cpu.toCHW(d.xHat);
      const stride = manifest.codecTiny.cases[mode].xHatStride;
      const ref = npy(`codec-tiny/${mode}_x_hat_stride16.npy`).data as Float32Array;
      expect(Float32Array.from({ length: ref.length }, (_, i) => xHat[i * stride]!)).toEqual(ref);
    }
  });
});

describeGpu('codec and detector on the GPU against the fixture set', () => {
  it('tiny codec: GPU compat and portable strings equal the fixture; x_hat within tolerance', async () => {
    const ctx = await gpuContext();
    const gpu = new GpuCodecBackend(ctx);
    const { x, shape } = tinyInput();
    await checked(ctx, 'tiny codec', async () => {
      const codec = await HyperpriorCodec.create(tiny(), gpu);
      for (const mode of MODES) {
        const c = await codec.compress(x, { shape, mode });
        expect(hex(c.strings[0]), `${mode} y`).toBe(hex(bytes(`codec-tiny/${mode}_y_string.bin`)));
        expect(hex(c.strings[1]), `${mode} z`).toBe(hex(bytes(`codec-tiny/${mode}_z_string.bin`)));
        const d = await codec.decompress(c.strings, c.zShape, { mode });
        const xHat = await gpu.toCHW(d.xHat);
        gpu.release(d.xHat);
        const stride = manifest.codecTiny.cases[mode].xHatStride;
        const ref = npy(`codec-tiny/${mode}_x_hat_stride16.npy`).data as Float32Array;
        expectClose(
          Float32Array.from({ length: ref.length }, (_, i) => xHat[i * stride]!),
          ref,
          XHAT_ATOL,
          XHAT_RTOL,
          `${mode} x_hat`,
        );
      }
      codec.release();
    });
  });

  it('detector (golden case A weights, converted): detections match Detectron2 one to one', async () => {
    const ctx = await gpuContext();
    const weights = await loadDetectorWeights(fx('detector-A.safetensors'));
    const image = bgrFromFileBytes(bytes('golden/detectron2/A/image.png'));
    expect([image.height, image.width]).toEqual([300, 451]);
    const det = await Detector.create(weights, new GpuDetectorBackend(ctx), { minSize: 320, maxSize: 544 });
    try {
      const { detections: got } = await checked(ctx, 'detector', () => det.detect(image));
      const m = matchBoxes(npy('golden/detectron2/A/detections_boxes.npy').data as Float32Array, got.boxes, {
        refScores: npy('golden/detectron2/A/detections_scores.npy').data as Float32Array,
        gotScores: got.scores,
        refClasses: npy('golden/detectron2/A/detections_classes.npy').data as Int32Array,
        gotClasses: got.classes,
        minIou: 0.99,
        maxDs: 1e-3,
      });
      expect(m.matched).toBeGreaterThan(0);
      expect(m.unmatchedRef, 'unmatched Detectron2 detections').toEqual([]);
      expect(m.unmatchedGot, 'extra detections').toEqual([]);
    } finally {
      det.dispose();
    }
  });
});
