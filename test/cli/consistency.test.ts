/**
 * Issue 13: `detect`, `encode` and `decode` follow one set of CLI conventions (checked through bin/webvcm.js):
 * the input is the positional argument, -o/--output names the file written, --detector (bundled weights/default when
 * not given), --min-size/--max-size, --method 1|2 where it applies, --json for a JSON summary; the summary goes to
 * stdout (errors and Dawn's warnings to stderr); detect and decode write the same detections JSON. `eval` names the
 * CSV and SVG it wrote.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webvcm, type CliResult as Run } from '../helpers/cli.ts';
import { describeGpu } from '../helpers/gpu.ts';

/** stderr without Dawn's adapter warnings (printed by the native module whenever a device is created). */
const ownStderr = (r: Run): string =>
  r.stderr
    .split('\n')
    .filter((l) => l && !/^Warning: /.test(l))
    .join('\n');

const IMAGE = 'weights/world/example.png';
const SMALL = ['--min-size', '160', '--max-size', '272'];
const BUNDLED_CLASSES = ['circle', 'triangle', 'square', 'star', 'ring', 'cross', 'hexagon', 'crescent'];

describe('encode / decode / detect: the same options', () => {
  it('--help: positional input, -o/--output, --detector, --min-size/--max-size, --precision, --json on all three; --method on encode and detect; --backend on decode and detect', async () => {
    const help = Object.fromEntries(
      await Promise.all(['encode', 'decode', 'detect'].map(async (c) => [c, await webvcm(c, '--help')] as const)),
    );
    expect(help.encode.stdout).toMatch(/Usage: webvcm encode \[options\] <image>/);
    expect(help.decode.stdout).toMatch(/Usage: webvcm decode \[options\] <file>/);
    expect(help.detect.stdout).toMatch(/Usage: webvcm detect \[options\] \[image\]/);
    for (const [cmd, r] of Object.entries(help)) {
      expect(r.status, cmd).toBe(0);
      for (const flag of ['-o, --output <file>', '--detector <ckpt>', '--min-size <n>', '--max-size <n>', '--precision <p>', '--json'])
        expect(r.stdout, `${cmd} ${flag}`).toContain(flag);
      expect(r.stdout, cmd).toMatch(/--detector <ckpt>\s+(?:(?!\n\s+-)[\s\S])*default: bundled/);
    }
    expect(help.encode.stdout).toContain('--method <n>');
    expect(help.detect.stdout).toContain('--method <n>');
    for (const c of ['decode', 'detect'] as const) {
      expect(help[c].stdout, c).toContain('--backend <b>');
      expect(help[c].stdout, c).toContain('--threads <n>');
    }
  });

  it('usage errors: non-zero exit, a message on stderr, nothing on stdout, before any GPU work', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-cli-'));
    const cases: [string[], RegExp][] = [
      [['detect', IMAGE], /required option '-o, --output <file>' not specified/],
      [['decode', join(dir, 'x.vcm')], /required option '-o, --output <file>' not specified/],
      [['detect', '-o', join(dir, 'd.json')], /UsageError: missing the input image/],
      [['detect', IMAGE, '--input', 'weights/mini-coco/000000000001.png', '-o', join(dir, 'd.json')], /give the image once/],
      [['detect', IMAGE, '-o', join(dir, 'd.json'), '--method', '3'], /--method must be 1 or 2, got '3'/],
      [['encode', IMAGE, '-o', join(dir, 'x.vcm'), '--method', '3'], /--method must be 1 or 2, got '3'/],
      [['detect', IMAGE, '-o', join(dir, 'd.json'), '--method', '1', '--method2'], /--method 1 and --method2 contradict/],
      [['detect', IMAGE, '-o', join(dir, 'd.json'), '--detector', 'a.pkl', '--weights', 'b.pkl'], /give --detector or --weights/],
      [['detect', join(dir, 'nope.png'), '-o', join(dir, 'd.json')], /cannot read input .*nope\.png: ENOENT/],
      [['detect', IMAGE, '-o', join(dir, 'd.json'), '--precision', 'f64'], /--precision.*expected f32 or f16/],
      [['decode', join(dir, 'x.vcm'), '-o', join(dir, 'd.json'), '--precision', 'f64'], /--precision.*expected f32 or f16/],
      [
        ['detect', IMAGE, '-o', join(dir, 'd.json'), '--backend', 'cuda'],
        /--backend <b>' argument 'cuda' is invalid\. expected auto, webgpu or wasm/,
      ],
      [
        ['decode', join(dir, 'x.vcm'), '-o', join(dir, 'd.json'), '--backend', 'cuda'],
        /--backend <b>' argument 'cuda' is invalid\. expected auto, webgpu or wasm/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await webvcm(...args);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr, args.join(' ')).not.toMatch(/Warning: max|llvmpipe/); // failed before a device was made
      expect(r.stdout, args.join(' ')).toBe('');
    }
  });
});

it('detect --backend wasm (as decode): detections without a WebGPU adapter; the backend named in both summaries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-cli-wasm-'));
  const out = join(dir, 'wasm.json');
  const r = await webvcm('detect', IMAGE, '-o', out, ...SMALL, '--backend', 'wasm', '--threads', '1', '--json');
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).not.toMatch(/Warning: |llvmpipe/); // no device was made
  const sum = JSON.parse(r.stdout) as { backend: string; threads: number; detections: number; output: string };
  expect([sum.backend, sum.threads, sum.output]).toEqual(['wasm', 1, out]);
  const j = JSON.parse(readFileSync(out, 'utf8')) as { format: string; scores: number[]; boxes: number[][]; labels: string[] };
  expect(j.format).toBe('webvcm.detections');
  expect(j.scores.length).toBeGreaterThan(0);
  expect(sum.detections).toBe(j.scores.length);
  expect(j.boxes.every((b) => b.length === 4 && b.every(Number.isFinite))).toBe(true);
  for (const l of j.labels) expect(BUNDLED_CLASSES).toContain(l);
  // the text summary names the backend, as decode's does
  const t = await webvcm('detect', IMAGE, '-o', join(dir, 'wasm2.json'), ...SMALL, '--backend', 'wasm', '--threads', '1');
  expect(t.status, t.stderr).toBe(0);
  expect(t.stdout.split('\n')[0]).toMatch(/ detections \(image 456x320 .*, backend wasm, 1 threads\)$/);
  expect(readFileSync(join(dir, 'wasm2.json'), 'utf8')).toBe(readFileSync(out, 'utf8'));
}, 600_000);

describeGpu('encode / decode / detect: bundled defaults, summary on stdout, --json, one detections format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webvcm-cli-gpu-'));

  it('with no checkpoints given all three use the bundled models; text and --json summaries on stdout', async () => {
    const vcm = join(dir, 'x.vcm'),
      dec = join(dir, 'dec.json'),
      det = join(dir, 'det.json');
    const enc = await webvcm('encode', IMAGE, '-o', vcm, ...SMALL);
    expect(enc.status, enc.stderr).toBe(0);
    expect(enc.stdout).toMatch(new RegExp(`^wrote ${vcm.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+ bytes`));
    const d = await webvcm('decode', vcm, '-o', dec);
    expect(d.status, d.stderr).toBe(0);
    const t = await webvcm('detect', IMAGE, '-o', det, ...SMALL);
    expect(t.status, t.stderr).toBe(0);
    for (const [r, out] of [
      [d, dec],
      [t, det],
    ] as const) {
      expect(r.stdout.split('\n')[0]).toMatch(
        new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+ detections \\(image 456x320`),
      );
    }
    for (const r of [enc, d, t]) {
      expect(ownStderr(r)).toBe(''); // the summary is not on stderr
      expect(r.stderr).not.toMatch(/wrote|detections/);
    }
    // one detections format, named with the bundled detector's classes (so the bundled default was used)
    const jd = JSON.parse(readFileSync(dec, 'utf8')) as Record<string, unknown>,
      jt = JSON.parse(readFileSync(det, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(jt)).toEqual(Object.keys(jd));
    expect(Object.keys(jt)).toEqual(['format', 'version', 'boxes', 'scores', 'classes', 'labels', 'sizes']);
    expect([jt.format, jt.version]).toEqual(['webvcm.detections', 1]);
    expect(jt.sizes).toEqual(jd.sizes);
    expect((jt.scores as number[]).length).toBeGreaterThan(0);
    for (const j of [jd, jt]) for (const l of j.labels as string[]) expect(BUNDLED_CLASSES).toContain(l);
    // the summary lines list the detections the same way (name, score, box)
    const listed = (r: Run) => r.stdout.split('\n').filter((l) => /^ {2}\S+\s+\d\.\d{3} {2}\[/.test(l));
    expect(listed(t).length).toBe(Math.min(10, (jt.scores as number[]).length));
    expect(listed(d).length).toBe(Math.min(10, (jd.scores as number[]).length));

    // --json: one JSON document on stdout, naming the file written
    const ej = await webvcm('encode', IMAGE, '-o', join(dir, 'y.vcm'), ...SMALL, '--json');
    const dj = await webvcm('decode', vcm, '-o', join(dir, 'dec2.json'), '--json');
    const tj = await webvcm('detect', IMAGE, '-o', join(dir, 'det2.json'), ...SMALL, '--json');
    const sums = [ej, dj, tj].map((r) => {
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    });
    expect(sums.map((s) => s.output)).toEqual([join(dir, 'y.vcm'), join(dir, 'dec2.json'), join(dir, 'det2.json')]);
    expect(sums[1]!.detections).toBe((jd.scores as number[]).length);
    expect(sums[2]!.detections).toBe((jt.scores as number[]).length);
    expect(sums[1]!.sizes).toEqual(sums[2]!.sizes);
    expect(readFileSync(join(dir, 'det2.json'), 'utf8')).toBe(readFileSync(det, 'utf8'));
  }, 900_000);

  it('detect: --weights / --input / --method2 (the older spellings) still work and mean the same; --precision f16', async () => {
    const a = join(dir, 'a.json'),
      b = join(dir, 'b.json');
    const ra = await webvcm('detect', IMAGE, '-o', a, ...SMALL, '--method', '2', '--detector', 'weights/default/detector.safetensors');
    const rb = await webvcm(
      'detect',
      '--input',
      IMAGE,
      '--output',
      b,
      ...SMALL,
      '--method2',
      '--weights',
      'weights/default/detector.safetensors',
    );
    expect(ra.status, ra.stderr).toBe(0);
    expect(rb.status, rb.stderr).toBe(0);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
    const j = JSON.parse(readFileSync(a, 'utf8')) as { sizes: { resized: number[] } };
    expect(j.sizes.resized.every((s) => s % 256 === 0)).toBe(true); // method 2: sides resized to multiples of 256
    // --precision as on encode/decode (lavapipe has 'shader-f16'); reported in the --json summary
    const rf = await webvcm('detect', IMAGE, '-o', join(dir, 'f16.json'), ...SMALL, '--precision', 'f16', '--json');
    expect(rf.status, rf.stderr).toBe(0);
    const sf = JSON.parse(rf.stdout) as { precision: string; detections: number };
    expect(sf.precision).toBe('f16');
    expect(sf.detections).toBe((JSON.parse(readFileSync(join(dir, 'f16.json'), 'utf8')) as { scores: number[] }).scores.length);
  }, 900_000);

  it('eval names the CSV and the SVG it wrote', async () => {
    const out = join(dir, 'eval');
    const r = await webvcm(
      'eval',
      '--annotations',
      'weights/mini-coco/instances.json',
      '--images',
      'weights/mini-coco',
      '--method',
      '1',
      '--limit',
      '1',
      '--min-size',
      '128',
      '--max-size',
      '192',
      '--out',
      out,
      '--detector',
      'weights/random/detector.safetensors',
      '--codec',
      'weights/random/codec.safetensors',
    );
    expect(r.status, r.stderr).toBe(0);
    for (const [label, file] of [
      ['csv', join(out, 'rd.csv')],
      ['plot', join(out, 'rd.svg')],
    ]) {
      expect(existsSync(file)).toBe(true);
      expect(r.stdout).toMatch(new RegExp(`^\\s+${label}\\s+${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
  }, 900_000);
});
