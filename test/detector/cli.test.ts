import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { expect, it, vi } from 'vitest';
import { DetectUsageError, imageIdFromName, register } from '../../src/cli/detect.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { ImageFormatError } from '../../src/io/image.ts';
import { describeGpu } from '../helpers/gpu.ts';
import { D2, f32, goldenNpy, npy } from './golden.ts';
import { matchBoxes } from './match.ts';
import { itGolden } from '../helpers/golden.ts';

async function detect(args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  register(program);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'webvcm', 'detect', ...args]);
  } finally {
    err.mockRestore();
  }
}

it('image id from COCO file names', () => {
  expect(imageIdFromName('/x/000000397133.jpg')).toBe(397133);
  expect(imageIdFromName('cat.png')).toBe(0);
});

describeGpu('webvcm detect', () => {
  const W = resolve(D2, 'A/weights.pkl');
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-detect-'));

  itGolden('PNG input → JSON boxes/scores/classes matching the golden, --dump writes the golden names', async () => {
    const out = join(dir, 'dets.json');
    await detect([
      '--weights',
      W,
      '--input',
      resolve(D2, 'A/image.png'),
      '--min-size',
      '320',
      '--max-size',
      '544',
      '--output',
      out,
      '--dump',
      join(dir, 'dump'),
    ]);
    const j = JSON.parse(readFileSync(out, 'utf8')) as { boxes: number[][]; scores: number[]; classes: number[]; sizes: unknown };
    expect(j.sizes).toEqual({ original: [300, 451], resized: [320, 481], padded: [320, 512] });
    const m = matchBoxes(f32(goldenNpy('A', 'detections_boxes.npy')), j.boxes.flat(), {
      refScores: f32(goldenNpy('A', 'detections_scores.npy')),
      gotScores: j.scores,
      refClasses: goldenNpy('A', 'detections_classes.npy').data as Int32Array,
      gotClasses: j.classes,
      minIou: 0.99,
      maxDs: 1e-3,
    });
    expect(m.unmatchedRef).toEqual([]);
    expect(m.unmatchedGot).toEqual([]);
    const files = readdirSync(join(dir, 'dump'));
    for (const n of ['stem', 'res2', 'res3', 'res4', 'res5', 'p2', 'p3', 'p4', 'p5', 'p6', 'proposals_boxes', 'detections_scores'])
      expect(files).toContain(`${n}.npy`);
    const stem = npy(join(dir, 'dump/stem.npy'));
    expect(stem.dtype).toBe('<f4');
    expect(stem.shape).toEqual([1, 64, 80, 128]);
  });

  itGolden('--coco writes COCO results ([x,y,w,h], category ids) for a BGR .npy input', async () => {
    const out = join(dir, 'coco.json');
    await detect([
      '--weights',
      W,
      '--input',
      resolve(D2, 'A/input_bgr_u8.npy'),
      '--min-size',
      '320',
      '--max-size',
      '544',
      '--output',
      out,
      '--coco',
      '--image-id',
      '42',
    ]);
    const r = JSON.parse(readFileSync(out, 'utf8')) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
    const rb = f32(goldenNpy('A', 'detections_boxes.npy'));
    expect(r.length).toBe(rb.length / 4);
    expect(r.every((d) => d.image_id === 42 && d.bbox.length === 4 && d.category_id >= 1 && d.category_id <= 90)).toBe(true);
    expect(r[0]!.bbox[2]).toBeCloseTo(rb[2]! - rb[0]!, 2);
  });

  it('typed errors for a missing input and a non-uint8 .npy', async () => {
    await expect(detect(['--weights', W, '--input', join(dir, 'nope.png'), '--output', join(dir, 'x.json')])).rejects.toThrow(
      DetectUsageError,
    );
    const bad = join(dir, 'bad.npy');
    writeFileSync(bad, writeNpy(new Float32Array(12), [2, 2, 3], '<f4'));
    await expect(detect(['--weights', W, '--input', bad, '--output', join(dir, 'x.json')])).rejects.toThrow(ImageFormatError);
  });
});
