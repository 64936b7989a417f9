// Pipeline golden P_A through the command line, once (method 2, compat):
//   node bin/webvcm.js encode input_bgr_u8.npy -o x.vcm --method 2 --detector weights.pkl --codec codec.pth.tar --min-size 320 --max-size 544
//   node bin/webvcm.js decode x.vcm -o dets.json --detector … --codec … --features fhat.npy
// Asserted: the stream is the one createEncoder writes in-process (byte-identical: same code, same device), its
// fields follow the contract and quant.json, the z string is CompressAI's, F̂ and the detections equal the in-process
// createDecoder's exactly, and the detections match the golden compressed run as e2e.golden.test.ts requires
// (strict parity when y_symbols equal the golden's, else the regression bound explained there).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { createDecoder, createEncoder } from '../../src/api/index.ts';
import { readContainer } from '../../src/coder/index.ts';
import { readNpy } from '../../src/io/npy.ts';
import { loadCodecWeights, loadDetectorWeights } from '../../src/model/weights/index.ts';
import { matchBoxes } from '../detector/match.ts';
import { checked, gpuContext } from '../helpers/gpu.ts';
import {
  CODEC_PTH,
  DETECTOR_PKL,
  IMAGE_NPY,
  MAX_SIZE,
  MIN_SIZE,
  bytesEqual,
  describeMatch,
  goldenImage,
  loadRun,
  matchDetections,
} from '../helpers/pipeline.ts';
import { describeGpuGolden } from '../helpers/golden.ts';

const run = promisify(execFile);
const CLI = resolve(process.cwd(), 'bin/webvcm.js');

async function webvcm(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    cwd: process.cwd(),
    env: process.env,
    timeout: 240_000,
    maxBuffer: 1 << 24,
  });
  return stdout;
}

describeGpuGolden('pipeline golden P_A through `webvcm encode` / `webvcm decode` (method 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-pipeline-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('CLI stream = API stream, contract fields, decode = API decode, detections vs the golden', async () => {
    const g = loadRun('m2');
    const vcm = join(dir, 'a.vcm'),
      dets = join(dir, 'dets.json'),
      fhat = join(dir, 'fhat.npy');
    const common = ['--detector', DETECTOR_PKL, '--codec', CODEC_PTH];
    const encOut = JSON.parse(
      await webvcm([
        'encode',
        IMAGE_NPY,
        '-o',
        vcm,
        '--method',
        '2',
        '--mode',
        'compat',
        ...common,
        '--min-size',
        String(MIN_SIZE),
        '--max-size',
        String(MAX_SIZE),
        '--json',
      ]),
    ) as { bytes: number; yBytes: number; zBytes: number; bppStrings: number; sizes: unknown };
    const decOut = await webvcm(['decode', vcm, '-o', dets, ...common, '--features', fhat]);
    expect(decOut).toMatch(/detections/);
    const bytes = new Uint8Array(readFileSync(vcm));
    expect(encOut.bytes).toBe(bytes.length);
    expect(encOut.sizes).toEqual(g.sizes);

    // Contract fields.
    const c = readContainer(bytes);
    expect(c.mode).toBe('compat');
    expect(c.method).toBe(2);
    expect(c.originalSize).toEqual([300, 451]);
    expect(c.resizedSize).toEqual([256, 512]);
    expect(c.featureShape).toEqual([64, 64, 128]);
    expect(c.padding).toEqual([0, 0, 0, 0]);
    expect(c.zShape).toEqual(g.bpp.compress_shape);
    expect(c.mn).toBe(0);
    expect(Math.abs(c.mx - g.quant.mx)).toBeLessThanOrEqual(2e-5 * g.quant.mx); // the stem tolerance of the detector tests
    expect(bytesEqual(c.zString, g.zString), 'z string = CompressAI').toBe(true);
    expect(encOut.yBytes).toBe(c.yString.length);
    expect(encOut.zBytes).toBe(c.zString.length);
    expect(encOut.bppStrings).toBeCloseTo((8 * (c.yString.length + c.zString.length)) / (300 * 451), 12);

    // The same through the library in-process.
    const ctx = await gpuContext();
    const [codecW, detW] = await Promise.all([loadCodecWeights(CODEC_PTH), loadDetectorWeights(DETECTOR_PKL)]);
    const enc = await createEncoder({
      detector: detW,
      codec: codecW,
      device: ctx.device,
      method: 2,
      mode: 'compat',
      minSize: MIN_SIZE,
      maxSize: MAX_SIZE,
    });
    const api = await checked(ctx, 'api encode', () => enc.encode(goldenImage())).finally(() => enc.dispose());
    expect(bytesEqual(bytes, api.bytes), 'CLI .vcm = createEncoder bytes').toBe(true);
    const dec = await createDecoder({ detector: detW, codec: codecW, device: ctx.device });
    const ad = await checked(ctx, 'api decode', () => dec.decode(bytes, { returnFeatures: true })).finally(() => dec.dispose());
    const f = readNpy(new Uint8Array(readFileSync(fhat)));
    expect(f.shape).toEqual([1, 64, 64, 128]);
    expect(
      bytesEqual(
        new Uint8Array((f.data as Float32Array).buffer, (f.data as Float32Array).byteOffset, (f.data as Float32Array).byteLength),
        new Uint8Array(ad.features!.data.buffer, ad.features!.data.byteOffset, ad.features!.data.byteLength),
      ),
      'CLI F̂ = createDecoder F̂',
    ).toBe(true);
    const j = JSON.parse(readFileSync(dets, 'utf8')) as { boxes: number[][]; scores: number[]; classes: number[]; sizes: unknown };
    expect(j.sizes).toEqual(g.sizes);
    expect(j.classes).toEqual(Array.from(ad.detections.classes));
    expect(j.scores.length).toBe(ad.detections.scores.length);
    for (let i = 0; i < j.scores.length; i++) {
      expect(j.scores[i]).toBeCloseTo(ad.detections.scores[i]!, 6);
      for (let k = 0; k < 4; k++) expect(j.boxes[i]![k]).toBeCloseTo(ad.detections.boxes[4 * i + k]!, 3);
    }

    // Against the golden compressed run.
    const got = { boxes: j.boxes.flat(), scores: j.scores, classes: j.classes };
    const m = matchDetections(g.dets, got);
    const yIdentical = bytesEqual(c.yString, g.yString);
    const need = Math.ceil(0.95 * Math.max(g.dets.scores.length, got.scores.length));
    console.log(
      `CLI P_A m2: ${bytes.length} B (y ${c.yString.length} B, identical to CompressAI's ${yIdentical}; z ${c.zString.length} B, identical true), ` +
        `bpp (strings) ${encOut.bppStrings.toFixed(6)} vs golden ${g.bpp.bpp.toFixed(6)}`,
    );
    console.log(
      describeMatch('CLI P_A m2 detections (IoU ≥ 0.99, |Δscore| ≤ 1e-3)', g.dets, got, m) +
        ` → 95 % criterion ${m.matched >= need ? 'met' : 'NOT met'}`,
    );
    if (yIdentical) {
      expect(m.matched).toBeGreaterThanOrEqual(need);
    } else {
      const loose = matchBoxes(g.dets.boxes, got.boxes, {
        refScores: g.dets.scores,
        gotScores: got.scores,
        refClasses: g.dets.classes,
        gotClasses: got.classes,
        minIou: 0.95,
        maxDs: 1e-2,
      });
      console.log(
        describeMatch('CLI P_A m2 detections (IoU ≥ 0.95, |Δscore| ≤ 1e-2; y string differs from the golden)', g.dets, got, loose),
      );
      expect(loose.matched).toBeGreaterThanOrEqual(need);
    }
  });
});
