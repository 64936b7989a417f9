import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  EvalImageError,
  planRows,
  RD_CSV_COLUMNS,
  runRdExperiment,
  type ExperimentRunner,
  type RowOutput,
  type RowPlan,
} from '../../src/eval/experiment.ts';
import { CategoryMappingError } from '../../src/eval/coco-categories.ts';

class Sink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

// A small ground truth: 3 images, categories named like the shapes world (ids 1..3).
function makeSet(): { dir: string; ann: string; gt: any } {
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-rd-'));
  const images = [1, 2, 3].map((id) => ({ id, file_name: `im${id}.png`, height: 100, width: 200 }));
  const annotations: any[] = [];
  let aid = 1;
  for (const im of images) {
    for (let k = 0; k < 3; k++) {
      annotations.push({
        id: aid++,
        image_id: im.id,
        category_id: k + 1,
        bbox: [10 + 50 * k, 20, 30 + 5 * k, 40],
        area: (30 + 5 * k) * 40,
        iscrowd: 0,
      });
    }
    writeFileSync(join(dir, im.file_name), 'not read by the fake runner');
  }
  const gt = { images, annotations, categories: ['circle', 'triangle', 'square'].map((name, i) => ({ id: i + 1, name })) };
  const ann = join(dir, 'instances.json');
  writeFileSync(ann, JSON.stringify(gt));
  return { dir, ann, gt };
}

/** The detector's classes, in an order different from the category ids: mapping must go by name. */
const DET_NAMES = ['square', 'circle', 'triangle'];

/** GT boxes shifted right by `shift` px (AP falls with the shift), classes in the detector's order. */
function dets(gt: any, imageId: number, shift: number): RowOutput['dets'] {
  const anns = gt.annotations.filter((a: any) => a.image_id === imageId);
  const catName = (id: number) => gt.categories.find((c: any) => c.id === id).name;
  return {
    boxes: new Float32Array(anns.flatMap((a: any) => [a.bbox[0] + shift, a.bbox[1], a.bbox[0] + shift + a.bbox[2], a.bbox[1] + a.bbox[3]])),
    scores: new Float32Array(anns.map((_: any, i: number) => 0.9 - 0.1 * i)),
    classes: new Int32Array(anns.map((a: any) => DET_NAMES.indexOf(catName(a.category_id)))),
  };
}

function fakeRunner(gt: any, opts: { failOn?: number; classNames?: string[] } = {}): ExperimentRunner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    classNames: opts.classNames ?? DET_NAMES,
    async runImage(job, rows, done) {
      calls.push(job.fileName);
      const out = new Map<string, RowOutput>();
      for (const r of rows) {
        if (job.id === opts.failOn && r.kind === 'anchor') throw new Error('corrupt PNG');
        // rate point i / quality q: higher rate -> smaller shift -> higher AP
        const level = r.kind === 'reference' ? 100 : r.kind === 'feature' ? 20 * (r.codecIndex + 1) + (r.method === 2 ? 10 : 0) : r.quality;
        const bytes =
          r.kind === 'reference'
            ? null
            : (r.kind === 'feature' ? 0.8 : 1) * (50 + 10 * level) * (r.kind === 'anchor' && r.anchor === 'webp' ? 0.9 : 1);
        out.set(r.key, {
          dets: dets(gt, job.id, Math.max(0, (100 - level) / 5)),
          bytes: bytes === null ? null : Math.round(bytes),
          stringBytes: r.kind === 'feature' ? 10 : undefined,
        });
        done(r.key);
      }
      return { size: [100, 200], rows: out };
    },
  };
}

const PLAN: RowPlan = {
  methods: [1, 2],
  codecNames: ['l1', 'l2', 'l3', 'l4'],
  anchors: [
    { codec: 'jpeg', qualities: [10, 30, 50, 70, 90] },
    { codec: 'webp', qualities: [10, 30, 50, 70, 90] },
  ],
};

describe('the rate-accuracy experiment (fake runner)', () => {
  it('plans rows: uncompressed, method × codec, anchor × quality', () => {
    const rows = planRows(PLAN);
    expect(rows.map((r) => r.key)).toEqual([
      'uncompressed',
      'm1/0',
      'm1/1',
      'm1/2',
      'm1/3',
      'm2/0',
      'm2/1',
      'm2/2',
      'm2/3',
      'jpeg/q10',
      'jpeg/q30',
      'jpeg/q50',
      'jpeg/q70',
      'jpeg/q90',
      'webp/q10',
      'webp/q30',
      'webp/q50',
      'webp/q70',
      'webp/q90',
    ]);
    expect(new Set(rows.map((r) => r.curve))).toEqual(new Set(['uncompressed', 'method 1', 'method 2', 'JPEG', 'WebP']));
  });

  it('plans one curve per tagged rate-point group (e.g. two variable-rate checkpoints)', () => {
    const rows = planRows({ ...PLAN, codecCurves: ['paper', 'paper', 'task-aware', 'task-aware'] });
    expect(rows.filter((r) => r.kind === 'feature').map((r) => r.curve)).toEqual([
      'method 1 · paper',
      'method 1 · paper',
      'method 1 · task-aware',
      'method 1 · task-aware',
      'method 2 · paper',
      'method 2 · paper',
      'method 2 · task-aware',
      'method 2 · task-aware',
    ]);
  });

  it('bpp over the original pixels, AP per row with classes mapped by name, CSVs, SVG, BD-rates, progress', async () => {
    const { dir, ann, gt } = makeSet();
    const sink = new Sink();
    const out = join(dir, 'out');
    const res = await runRdExperiment({
      annotations: ann,
      images: dir,
      plan: PLAN,
      runner: fakeRunner(gt),
      outDir: out,
      progress: 'lines',
      progressStream: sink,
    });
    expect(res.mapping.by).toBe('name');
    expect(res.imageIds).toEqual([1, 2, 3]);
    const ref = res.rows.find((r) => r.key === 'uncompressed')!;
    expect(ref.stats.AP).toBeCloseTo(1, 12); // perfect boxes AND the right categories (by name, not by index)
    expect(ref.bpp).toBeNull();
    const j10 = res.rows.find((r) => r.key === 'jpeg/q10')!;
    expect(j10.bpp).toBeCloseTo((150 * 8) / (100 * 200), 12);
    expect(j10.stats.AP).toBeLessThan(res.rows.find((r) => r.key === 'jpeg/q90')!.stats.AP);
    // per-image details
    const perImage = readFileSync(join(out, 'rd-images.csv'), 'utf8').trim().split('\n');
    expect(perImage).toHaveLength(1 + 3 * 19);
    expect(perImage[0]).toBe('row,curve,label,image_id,file_name,height,width,bytes,bpp,string_bytes,detections');
    const rd = readFileSync(join(out, 'rd.csv'), 'utf8').trim().split('\n');
    expect(rd[0]).toBe(RD_CSV_COLUMNS.join(','));
    expect(rd).toHaveLength(20);
    const svg = readFileSync(join(out, 'rd.svg'), 'utf8');
    for (const c of ['method 1', 'method 2', 'JPEG', 'WebP']) expect(svg).toContain(`data-series="${c}"`);
    expect(svg).toMatch(/bits per pixel/);
    expect(svg).toMatch(/mAP/);
    // BD-rates: WebP costs 0.9× JPEG's bytes at the same AP -> exactly −10 %; best anchor WebP
    const bd = JSON.parse(readFileSync(join(out, 'bd-rate.json'), 'utf8'));
    expect(bd.bestAnchor).toBe('WebP');
    const webp = bd.entries.find((e: any) => e.metric === 'AP' && e.anchor === 'JPEG' && e.curve === 'WebP');
    expect(webp.bdRateCubic.value).toBeCloseTo(-10, 9);
    expect(webp.bdRatePchip.value).toBeCloseTo(-10, 9);
    const m1 = bd.entries.find((e: any) => e.metric === 'AP' && e.anchor === 'WebP' && e.curve === 'method 1');
    expect(Number.isFinite(m1.bdRatePchip.value)).toBe(true);
    expect(readFileSync(join(out, 'bd-rate.md'), 'utf8')).toMatch(/\| method 1 \| WebP \(best\) \|/);
    // the paper's comparison: method 2 against method 1, on each metric
    for (const metric of ['AP', 'AP50']) {
      const m21 = bd.entries.find((e: any) => e.metric === metric && e.anchor === 'method 1' && e.curve === 'method 2');
      expect(m21, metric).toBeDefined();
      expect(Number.isFinite(m21.bdRatePchip.value), metric).toBe(true);
    }
    expect(readFileSync(join(out, 'bd-rate.md'), 'utf8')).toMatch(/\| method 2 \| method 1 \|/);
    expect(Object.keys(res.files).sort()).toEqual(['bdJson', 'bdMarkdown', 'cache', 'csv', 'imagesCsv', 'plot', 'summary']);
    // progress: one line per image with an ETA
    const lines = sink.text.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^eval: 57\/57 rows, \d+ s elapsed, ETA 0 s \| im3.png/);
  });

  it('a failing image: --on-error fail names it; skip leaves it out of the evaluation and lists it', async () => {
    const { dir, ann, gt } = makeSet();
    const plan: RowPlan = { methods: [1], codecNames: ['a'], anchors: [{ codec: 'jpeg', qualities: [10] }] };
    await expect(
      runRdExperiment({ annotations: ann, images: dir, plan, runner: fakeRunner(gt, { failOn: 2 }), progress: 'none' }),
    ).rejects.toThrow(/image 2 \(im2.png\): Error: corrupt PNG \(use --on-error skip/);
    await expect(
      runRdExperiment({ annotations: ann, images: dir, plan, runner: fakeRunner(gt, { failOn: 2 }), progress: 'none' }),
    ).rejects.toBeInstanceOf(EvalImageError);
    const sink = new Sink();
    const res = await runRdExperiment({
      annotations: ann,
      images: dir,
      plan,
      runner: fakeRunner(gt, { failOn: 2 }),
      onError: 'skip',
      progress: 'lines',
      progressStream: sink,
      outDir: join(dir, 'o'),
    });
    expect(res.imageIds).toEqual([1, 3]);
    expect(res.skipped.map((s) => s.fileName)).toEqual(['im2.png']);
    expect(res.rows[0]!.stats.AP).toBeCloseTo(1, 12); // the skipped image's GT does not count as misses
    expect(sink.text).toMatch(/skipping image 2 \(im2.png\)/);
    expect(JSON.parse(readFileSync(join(dir, 'o/summary.json'), 'utf8')).skipped[0].fileName).toBe('im2.png');
  });

  it('--limit, size mismatch, no matching class names, missing files', async () => {
    const { dir, ann, gt } = makeSet();
    const plan: RowPlan = { methods: [1], codecNames: ['a'], anchors: [] };
    const r = fakeRunner(gt);
    const res = await runRdExperiment({ annotations: ann, images: dir, plan, runner: r, limit: 2, progress: 'none' });
    expect(res.imageIds).toEqual([1, 2]);
    expect(r.calls).toEqual(['im1.png', 'im2.png']);
    const wrongSize = {
      ...fakeRunner(gt),
      async runImage(...a: Parameters<ExperimentRunner['runImage']>) {
        const o = await fakeRunner(gt).runImage(...a);
        return { ...o, size: [50, 200] as [number, number] };
      },
    };
    await expect(runRdExperiment({ annotations: ann, images: dir, plan, runner: wrongSize, progress: 'none' })).rejects.toThrow(
      /im1.png\): CocoFormatError: the file is 50x200 \(HxW\) but the annotations say 100x200/,
    );
    await expect(
      runRdExperiment({
        annotations: ann,
        images: dir,
        plan,
        runner: fakeRunner(gt, { classNames: ['cat', 'dog', 'bird'] }),
        progress: 'none',
      }),
    ).rejects.toThrow(CategoryMappingError);
    const gt2 = { ...gt, images: [...gt.images, { id: 9, file_name: 'gone.png', height: 10, width: 10 }] };
    writeFileSync(join(dir, 'more.json'), JSON.stringify(gt2));
    await expect(
      runRdExperiment({ annotations: join(dir, 'more.json'), images: dir, plan, runner: fakeRunner(gt), progress: 'none' }),
    ).rejects.toThrow(/1 image file\(s\) not found under .*: gone.png/);
  });

  it('--resume reuses the cached per-image detections of an interrupted run (same settings only)', async () => {
    const { dir, ann, gt } = makeSet();
    const out = join(dir, 'out');
    const plan: RowPlan = { methods: [1], codecNames: ['a'], anchors: [{ codec: 'jpeg', qualities: [10, 90] }] };
    const first = await runRdExperiment({
      annotations: ann,
      images: dir,
      plan,
      runner: { ...fakeRunner(gt), settings: 'S' },
      outDir: out,
      progress: 'none',
    });
    expect(first.files.cache).toBe(join(out, 'detections.jsonl'));
    // simulate a run killed while writing image 3: drop its line and leave a torn one
    const lines = readFileSync(join(out, 'detections.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    writeFileSync(join(out, 'detections.jsonl'), [...lines.slice(0, 3), lines[3]!.slice(0, 40)].join('\n'));
    const r = fakeRunner(gt);
    const again = await runRdExperiment({
      annotations: ann,
      images: dir,
      plan,
      runner: { ...r, settings: 'S', runImage: r.runImage },
      outDir: out,
      resume: true,
      progress: 'none',
    });
    expect(r.calls).toEqual(['im3.png']); // only the image without a complete cached line runs
    expect(again.rows.map((x) => [x.key, x.bpp, x.stats.AP])).toEqual(first.rows.map((x) => [x.key, x.bpp, x.stats.AP]));
    expect(readFileSync(join(out, 'detections.jsonl'), 'utf8').trim().split('\n')).toHaveLength(4);
    await expect(
      runRdExperiment({
        annotations: ann,
        images: dir,
        plan,
        runner: { ...fakeRunner(gt), settings: 'other' },
        outDir: out,
        resume: true,
        progress: 'none',
      }),
    ).rejects.toThrow(/written by a run with other settings or rows; remove it or run without --resume/);
    // without --resume the cache starts afresh
    const r2 = fakeRunner(gt);
    await runRdExperiment({
      annotations: ann,
      images: dir,
      plan,
      runner: { ...r2, settings: 'other', runImage: r2.runImage },
      outDir: out,
      progress: 'none',
    });
    expect(r2.calls).toHaveLength(3);
  });
});
