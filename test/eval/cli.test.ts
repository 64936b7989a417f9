import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { full, world } from '../helpers/cli.ts';
import { goldenOrFixture } from '../helpers/golden.ts';

const GOLDEN = dirname(dirname(goldenOrFixture('cocoeval/F1/expected.json')));
const run = (...args: string[]) => spawnSync(process.execPath, ['bin/webvcm.js', 'eval', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('webvcm eval (scoring mode)', () => {
  it('--json prints {"stats": {...}} matching pycocotools on F2', () => {
    const r = run('--annotations', join(GOLDEN, 'F2/instances.json'), '--detections', join(GOLDEN, 'F2/detections.json'), '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(['stats']);
    const expected = JSON.parse(readFileSync(join(GOLDEN, 'F2/expected.json'), 'utf8'));
    expect(Object.keys(out.stats)).toEqual(expected.stats_names);
    for (const [k, v] of Object.entries(expected.stats_by_name)) expect(Math.abs(out.stats[k] - (v as number))).toBeLessThan(1e-12);
  });

  it('without --json prints the 12 pycocotools summary lines', () => {
    const r = run('--annotations', join(GOLDEN, 'F1/instances.json'), '--detections', join(GOLDEN, 'F1/detections.json'));
    expect(r.status).toBe(0);
    const expected = JSON.parse(readFileSync(join(GOLDEN, 'F1/expected.json'), 'utf8'));
    expect(r.stdout.trimEnd().split('\n')).toEqual(expected.summary_lines);
  });

  it('bad input: clear typed errors and a non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-eval-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"not json');
    let r = run('--annotations', join(GOLDEN, 'F1/instances.json'), '--detections', bad);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CocoFormatError: detections file .* is not valid JSON/);
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify([{ image_id: 123456789, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]));
    r = run('--annotations', join(GOLDEN, 'F1/instances.json'), '--detections', unknown);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CocoFormatError: results refer to 1 image id\(s\) not in the ground truth \(123456789\)/);
    r = run('--annotations', join(GOLDEN, 'F1/instances.json'));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/EvalUsageError: give --detections/);
    r = run('--annotations', join(dir, 'missing.json'), '--detections', unknown);
    expect(r.stderr).toMatch(/cannot read annotations file .*ENOENT/);
    r = run('--annotations', join(GOLDEN, 'F1/instances.json'), '--images', dir, '--method', '1,x');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/comma-separated list/);
  });

  it('full mode (--images) runs the real pipeline on the bundled mini set: table, CSV and SVG plot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-evalfull-'));
    const csv = join(dir, 'r.csv'),
      svg = join(dir, 'r.svg');
    const r = spawnSync(
      process.execPath,
      [
        'bin/webvcm.js',
        'eval',
        '--annotations',
        'weights/mini-coco/instances.json',
        '--images',
        'weights/mini-coco',
        '--method',
        '1,2',
        '--limit',
        '1',
        '--min-size',
        '160',
        '--max-size',
        '272',
        '--csv',
        csv,
        '--plot',
        svg,
        '--out',
        dir,
        '--detector',
        'weights/random/detector.safetensors',
        '--codec',
        'weights/random/codec.safetensors',
      ],
      { encoding: 'utf8', timeout: 600_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    console.log(r.stdout);
    expect(r.stdout).toMatch(/AP/);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows.length).toBeGreaterThanOrEqual(4); // header, per-image rows for 2 methods, per-method rows
    expect(rows[0]).toMatch(/bpp/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg|<\?xml/);
  }, 600_000);
});

const RANDOM = ['--detector', 'weights/random/detector.safetensors'];

describe('webvcm eval (the rate-accuracy experiment)', () => {
  it('validates options before any work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-evalv-'));
    const ann = join(GOLDEN, 'F1/instances.json');
    const cases: [string[], RegExp][] = [
      [['--method', '3'], /--method: expected a comma-separated list of 1 and\/or 2/],
      [['--method', '1,1'], /lists a method twice/],
      [['--anchors', 'jpeg,gif'], /unknown image codec\(s\) gif/],
      [['--anchors', 'jpeg', '--anchor-q', '0,50'], /qualities 1\.\.100/],
      [['--anchors', 'jpeg', '--anchor-q', 'webp=5'], /names 'webp', which is not in --anchors/],
      [['--on-error', 'ignore'], /--on-error must be skip or fail/],
      [['--codec', join(dir, 'nope.safetensors')], /cannot read codec checkpoint .*nope.safetensors: ENOENT/],
      [['--detector', join(dir, 'nope.pkl')], /cannot read detector checkpoint .*ENOENT/],
      [[], /image file\(s\) not found under/],
    ];
    for (const [args, re] of cases) {
      const t0 = Date.now();
      const r = await full('--annotations', ann, '--images', dir, ...args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/llvmpipe|Warning: max/); // failed before the GPU was touched
      expect(Date.now() - t0).toBeLessThan(30_000);
    }
  });

  it('world images: uncompressed + 2 methods × 2 rate points + JPEG/WebP anchors → CSVs, SVG, BD-rate files', async () => {
    const dir = world();
    const out = join(dir, 'rd');
    const lo = join(dir, 'lo.safetensors'),
      hi = join(dir, 'hi.safetensors');
    copyFileSync('weights/random/codec.safetensors', lo);
    copyFileSync('weights/random/codec.safetensors', hi);
    const r = await full(
      '--images',
      dir,
      '--annotations',
      join(dir, 'instances.json'),
      ...RANDOM,
      '--codec',
      `${lo},${hi}`,
      '--method',
      '1,2',
      '--anchors',
      'jpeg,webp',
      '--anchor-q',
      '10,50',
      '--limit',
      '1',
      '--min-size',
      '160',
      '--max-size',
      '272',
      '--out',
      out,
      '--progress',
      'lines',
    );
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['rd.csv', 'rd-images.csv', 'rd.svg', 'bd-rate.json', 'bd-rate.md', 'summary.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
      expect(r.stdout).toContain(join(out, f));
    }
    const rows = readFileSync(join(out, 'rd.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    expect(rows.map((x) => x[0])).toEqual([
      'row',
      'uncompressed',
      'm1/0',
      'm1/1',
      'm2/0',
      'm2/1',
      'jpeg/q10',
      'jpeg/q50',
      'webp/q10',
      'webp/q50',
    ]);
    expect(rows.slice(1).map((x) => x[2])).toEqual(['uncompressed', 'lo', 'hi', 'lo', 'hi', 'q10', 'q50', 'q10', 'q50']);
    const bppCol = rows[0]!.indexOf('bpp');
    for (const x of rows.slice(2)) expect(Number(x[bppCol])).toBeGreaterThan(0);
    // same codec twice → same stream, and the per-image bpp is bytes·8/(H·W) of the original image
    const img = readFileSync(join(out, 'rd-images.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const h = img[0]!;
    const get = (row: string, col: string) => img.find((x) => x[0] === row)![h.indexOf(col)]!;
    expect(get('m1/0', 'bytes')).toBe(get('m1/1', 'bytes'));
    expect(Number(get('jpeg/q50', 'bpp'))).toBeCloseTo(
      (Number(get('jpeg/q50', 'bytes')) * 8) / (Number(get('jpeg/q50', 'height')) * Number(get('jpeg/q50', 'width'))),
      12,
    );
    expect(Number(get('jpeg/q50', 'bytes'))).toBeGreaterThan(Number(get('jpeg/q10', 'bytes')));
    const bd = JSON.parse(readFileSync(join(out, 'bd-rate.json'), 'utf8'));
    expect(bd.entries.length).toBeGreaterThan(0);
    for (const e of bd.entries) if (e.bdRateCubic.value === null) expect(e.bdRateCubic.reason).toMatch(/point|overlap|distinct/);
    expect(readFileSync(join(out, 'rd.svg'), 'utf8')).toMatch(/data-series="WebP"/);
    expect(r.stderr).toMatch(/eval: 9\/9 rows, \d+ s elapsed, ETA 0 s/);
  }, 600_000);

  it('a corrupt image: fails naming the file by default, --on-error skip evaluates the rest', async () => {
    const dir = world(true);
    const args = [
      '--images',
      dir,
      '--annotations',
      join(dir, 'instances.json'),
      ...RANDOM,
      '--codec',
      'weights/random/codec.safetensors',
      '--min-size',
      '160',
      '--max-size',
      '272',
      '--out',
      join(dir, 'rd'),
      '--progress',
      'none',
    ];
    let r = await full(...args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/EvalImageError: image 2 \(000001.png\): ImageFormatError: .*--on-error skip/);
    r = await full(...args, '--on-error', 'skip');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/skipped 1 image\(s\): 000001.png/);
    expect(JSON.parse(readFileSync(join(dir, 'rd/summary.json'), 'utf8')).evaluated).toBe(1);
  }, 600_000);
});
