import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const GOLDEN = resolve(process.cwd(), '../shared/golden/cocoeval');
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
    const csv = join(dir, 'r.csv'), svg = join(dir, 'r.svg');
    const r = spawnSync(process.execPath, ['bin/webvcm.js', 'eval', '--annotations', 'weights/mini-coco/instances.json', '--images', 'weights/mini-coco',
      '--method', '1,2', '--limit', '1', '--min-size', '160', '--max-size', '272', '--csv', csv, '--plot', svg], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    console.log(r.stdout);
    expect(r.stdout).toMatch(/AP/);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows.length).toBeGreaterThanOrEqual(4); // header, per-image rows for 2 methods, per-method rows
    expect(rows[0]).toMatch(/bpp/);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg|<\?xml/);
  }, 600_000);
});
