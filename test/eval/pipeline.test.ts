import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  runEvalPipeline, writeEvalCsv, renderRatePlot, PipelineUnavailableError, EVAL_CSV_COLUMNS,
  type EvalRunner, type Detections,
} from '../../src/eval/pipeline.ts';
import { evaluateBoxes, STAT_NAMES, type CocoResult } from '../../src/eval/cocoeval.ts';
import { toCocoResults, cocoIdToContiguous } from '../../src/eval/coco-categories.ts';

const MINI = resolve(process.cwd(), 'weights/mini-coco');
const gt = JSON.parse(readFileSync(join(MINI, 'instances.json'), 'utf8'));
const byFile = new Map<string, any>(gt.images.map((im: any) => [im.file_name, im]));

/** Detections from the GT boxes of an image, each box shifted right by `shift` px; optionally drop the last box. */
function fakeDets(path: string, shift: number, dropLast: boolean): Detections {
  const im = byFile.get(basename(path));
  let anns = gt.annotations.filter((a: any) => a.image_id === im.id);
  if (dropLast && anns.length > 1) anns = anns.slice(0, -1);
  const boxes = new Float32Array(anns.flatMap((a: any) => [a.bbox[0] + shift, a.bbox[1], a.bbox[0] + shift + a.bbox[2], a.bbox[1] + a.bbox[3]]));
  const scores = new Float32Array(anns.map((_: any, i: number) => 0.9 - 0.1 * i));
  return { boxes, scores, classes: new Int32Array(anns.map((a: any) => cocoIdToContiguous(a.category_id))) };
}

function fakeRunner(log: string[]): EvalRunner {
  return {
    async detect(p) {
      log.push(`detect ${basename(p)}`);
      return fakeDets(p, 0, false);
    },
    async encodeDecodeDetect(p, method) {
      log.push(`codec ${basename(p)} ${method}`);
      const id = byFile.get(basename(p)).id;
      return { dets: fakeDets(p, method === 1 ? 12 : 0, method === 2), bytes: 1000 * method + id, stringBytes: 900 * method + id };
    },
    close() {
      log.push('close');
    },
  };
}

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('runEvalPipeline with a fake runner', () => {
  it('computes bpp per image over the original H*W, metrics per method + reference, CSV, plot, progress', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-pipe-'));
    const log: string[] = [];
    const sink = new Sink();
    const res = await runEvalPipeline({
      annotations: join(MINI, 'instances.json'), images: MINI, methods: [1, 2], runner: fakeRunner(log),
      csv: join(dir, 'out.csv'), plot: join(dir, 'out.svg'), progressStream: sink,
    });
    expect(res.imageIds).toEqual([1, 2, 3, 4]);
    expect(log.filter((l) => l.startsWith('detect'))).toHaveLength(4);
    expect(log.filter((l) => l.startsWith('codec'))).toHaveLength(8);
    expect(log[log.length - 1]).toBe('close');

    // bpp
    expect(res.perImage).toHaveLength(8);
    for (const r of res.perImage) {
      const im = gt.images.find((i: any) => i.id === r.imageId);
      expect([r.width, r.height]).toEqual([im.width, im.height]);
      expect(r.bpp).toBe(((1000 * r.method + r.imageId) * 8) / (im.width * im.height));
      expect(r.stringsBpp).toBe(((900 * r.method + r.imageId) * 8) / (im.width * im.height));
    }
    const m1 = res.summaries[1]!;
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(m1.meanBpp).toBeCloseTo(mean(res.perImage.filter((r) => r.method === 1).map((r) => r.bpp)), 12);

    // metrics: reference is perfect; method results equal a direct evaluation of the same detections
    expect(res.summaries.map((s) => s.method)).toEqual(['reference', 1, 2]);
    expect(res.summaries[0]!.meanBpp).toBeNull();
    expect(res.summaries[0]!.stats.AP).toBeCloseTo(1, 12);
    for (const [k, method] of [[1, 1], [2, 2]] as const) {
      const expected: CocoResult[] = [];
      for (const im of gt.images) {
        const d = fakeDets(join(MINI, im.file_name), method === 1 ? 12 : 0, method === 2);
        expected.push(...toCocoResults(im.id, d.boxes, d.scores, d.classes));
      }
      expect(res.summaries[k]!.statsArray).toEqual(evaluateBoxes(gt, expected).statsArray);
    }
    expect(res.summaries[1]!.stats.AP).toBeLessThan(res.summaries[0]!.stats.AP); // shifted boxes lose AP at high IoU
    expect(res.summaries[2]!.stats.AR100).toBeCloseTo(4 / 5, 12); // one of 5 cats dropped
    expect(res.table).toMatch(/^method\s+images\s+bpp\s+bpp\(str\)\s+AP\s+AP50/);
    expect(res.table).toMatch(/\nreference\s+4\s+-\s+-\s+100\.00/);

    // CSV
    const csv = readFileSync(join(dir, 'out.csv'), 'utf8').trimEnd().split('\n').map((l) => l.split(','));
    expect(csv[0]).toEqual([...EVAL_CSV_COLUMNS]);
    expect(csv).toHaveLength(1 + 8 + 3);
    const col = (name: string): number => csv[0]!.indexOf(name);
    const imgRows = csv.filter((r) => r[0] === 'image');
    expect(imgRows).toHaveLength(8);
    const r0 = imgRows[0]!;
    expect(Number(r0[col('bpp')])).toBe(res.perImage[0]!.bpp);
    expect(r0[col('file_name')]).toBe('000000000001.png');
    const metricRows = csv.filter((r) => r[0] === 'metrics');
    expect(metricRows.map((r) => r[col('method')])).toEqual(['reference', '1', '2']);
    expect(metricRows[0]![col('bpp')]).toBe('');
    expect(Number(metricRows[2]![col('AR100')])).toBe(res.summaries[2]!.stats.AR100);

    // plot
    const svg = readFileSync(join(dir, 'out.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<g class="series"/g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(4);
    expect(svg).toContain('class="reference"');
    expect(svg.match(/<polyline /g)).toHaveLength(2);

    // progress: plain lines on a non-TTY stream
    const lines = sink.text.trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toBe('eval: [1/12] 000000000001.png reference');
    expect(lines[11]).toBe('eval: [12/12] 000000000004.png method 2');
  });

  it('--limit evaluates the first N images only (and restricts the GT to them)', async () => {
    const res = await runEvalPipeline({
      annotations: join(MINI, 'instances.json'), images: MINI, methods: [1], limit: 2, runner: fakeRunner([]), progress: 'none',
    });
    expect(res.imageIds).toEqual([1, 2]);
    expect(res.perImage).toHaveLength(2);
    expect(res.summaries[0]!.stats.AR100).toBe(1); // GT of images 3 and 4 not counted as missed
  });

  it('progress bar mode renders through cli-progress', async () => {
    const sink = new Sink();
    sink.isTTY = true;
    await runEvalPipeline({
      annotations: join(MINI, 'instances.json'), images: MINI, methods: [2], limit: 1, runner: fakeRunner([]), progressStream: sink,
    });
    expect(sink.text).toMatch(/eval \[.*\] 2\/2/);
  });

  it('errors: no runner, missing image files, bad runner output', async () => {
    await expect(runEvalPipeline({ annotations: join(MINI, 'instances.json'), images: MINI, methods: [1] }))
      .rejects.toThrow(new PipelineUnavailableError().message);
    await expect(runEvalPipeline({ annotations: join(MINI, 'instances.json'), images: MINI, methods: [1] })).rejects.toBeInstanceOf(PipelineUnavailableError);
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-pipe-'));
    copyFileSync(join(MINI, '000000000001.png'), join(dir, '000000000001.png'));
    await expect(runEvalPipeline({ annotations: join(MINI, 'instances.json'), images: dir, methods: [1], runner: fakeRunner([]), progress: 'none' }))
      .rejects.toThrow(/3 image file\(s\) not found .*000000000002\.png/);
    const broken: EvalRunner = { ...fakeRunner([]), encodeDecodeDetect: async (p) => ({ dets: fakeDets(p, 0, false), bytes: NaN, stringBytes: 1 }) };
    await expect(runEvalPipeline({ annotations: join(MINI, 'instances.json'), images: MINI, methods: [1], runner: broken, progress: 'none' }))
      .rejects.toThrow(/invalid byte counts/);
    await expect(runEvalPipeline({ annotations: join(MINI, 'instances.json'), images: MINI, methods: [], runner: fakeRunner([]) }))
      .rejects.toThrow(/methods/);
    const noSize = join(dir, 'nosize.json');
    writeFileSync(noSize, JSON.stringify({ ...gt, images: gt.images.map((i: any) => ({ id: i.id, file_name: i.file_name })) }));
    await expect(runEvalPipeline({ annotations: noSize, images: MINI, methods: [1], runner: fakeRunner([]) })).rejects.toThrow(/width.*height/);
  });
});

describe('writeEvalCsv / renderRatePlot', () => {
  it('quotes cells with commas and quotes; empty cells for null', () => {
    const stats = Object.fromEntries(STAT_NAMES.map((n, i) => [n, i / 100])) as any;
    const csv = writeEvalCsv([
      { kind: 'image', method: 3, imageId: 7, fileName: 'a,"b".png', height: 10, width: 20, bytes: 25, stringBytes: 20, bpp: 1, stringsBpp: 0.8 },
      { kind: 'metrics', method: 'reference', images: 1, meanBpp: null, meanStringsBpp: null, stats },
    ]);
    const lines = csv.trimEnd().split('\n');
    expect(lines[1]).toBe('image,3,7,"a,""b"".png",10,20,25,20,1,0.8,,,,,,,,,,,,,');
    expect(lines[2]).toBe('metrics,reference,,,,,,,,,1,0,0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09,0.1,0.11');
  });

  it('plot escapes labels and skips undefined (-1) APs', () => {
    const svg = renderRatePlot([
      { series: 'a<b', label: 'q&1', bpp: 0.5, ap: 0.3 },
      { series: 'a<b', label: 'q2', bpp: 1.0, ap: -1 },
    ], { referenceAP: -1 });
    expect(svg).toContain('a&lt;b');
    expect(svg).toContain('q&amp;1');
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg).not.toContain('class="reference"');
  });
});

describe('weights/mini-coco', () => {
  it('is a valid COCO set: PNGs < 150 KB whose sizes match instances.json, 80 categories, cat boxes inside the images', async () => {
    const { statSync } = await import('node:fs');
    const { decodeImageFile } = await import('../../src/io/image.ts');
    const { COCO } = await import('../../src/eval/cocoeval.ts');
    const { COCO_CATEGORIES } = await import('../../src/eval/coco-categories.ts');
    const coco = COCO.fromGroundTruth(gt);
    expect(gt.categories).toEqual(COCO_CATEGORIES);
    expect(coco.getImgIds()).toHaveLength(4);
    for (const im of gt.images) {
      const path = join(MINI, im.file_name);
      expect(statSync(path).size).toBeLessThan(150 * 1024);
      const img = decodeImageFile(readFileSync(path));
      expect([img.width, img.height]).toEqual([im.width, im.height]);
      for (const a of coco.imgToAnns.get(im.id) ?? []) {
        const [x, y, w, h] = a.bbox as number[];
        expect(x! >= 0 && y! >= 0 && x! + w! <= im.width && y! + h! <= im.height).toBe(true);
      }
    }
    expect(gt.annotations).toHaveLength(5);
  });
});
