// `webvcm eval --backend auto|webgpu|wasm [--threads N]` (full mode): the options and their errors as `detect` has
// them, scoring mode refusing them, and the same small experiment on wasm and on WebGPU (lavapipe).
//
// What the docs promise across backends (docs/architecture.md "Same results", docs/codec.md "Modes"): portable
// mode's h_s → index path is exact integer arithmetic, so a stream decodes to the same symbols everywhere; the stem
// and g_a are float, so two backends' containers may differ in the last bits of the stored min/max (a symbol could flip
// only for a value within float error of a rounding tie; on these fixed inputs the sizes were measured equal); the detections
// match within float tolerance. So the test asserts: every row's container bytes, string bytes and bpp per image
// identical; the detections one to one (same count and classes, boxes within 1e-2 px, scores within 1e-4;
// measured 1.5e-4 px and 4e-6); every COCO statistic equal (|Δ| ≤ 1e-12, i.e. the same matches).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { full, webvcm, world, type CliResult } from '../helpers/cli.ts';
import { describeGpu } from '../helpers/gpu.ts';
import { runtimeBackend } from '../../src/eval/rd-runner.ts';

/** One level of the bundled variable-rate codec: its top level has gain 1 (docs/eval.md, "--scales"). */
const ONE_LEVEL = ['--codec', 'weights/default/codec.safetensors', '--scales', '1', '--method', '1'];

function worldArgs(dir: string, out: string, ...more: string[]): string[] {
  return ['--images', dir, '--annotations', join(dir, 'instances.json'), ...ONE_LEVEL, '--out', out, '--progress', 'none', ...more];
}

interface CacheRow {
  b: number[];
  s: number[];
  c: number[];
  bytes: number | null;
  sb?: number;
}
function readCache(out: string): { settings: Record<string, unknown>; images: Map<number, Record<string, CacheRow>> } {
  const [head, ...lines] = readFileSync(join(out, 'detections.jsonl'), 'utf8').trim().split('\n');
  const images = new Map<number, Record<string, CacheRow>>();
  for (const l of lines) {
    const e = JSON.parse(l) as { id: number; rows: Record<string, CacheRow> };
    images.set(e.id, e.rows);
  }
  return { settings: JSON.parse(JSON.parse(head!).settings as string), images };
}

const summary = (out: string) =>
  JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    backend: { kind: string; detail: string };
    rows: { key: string; bpp: number | null; stringsBpp: number | null; stats: Record<string, number> }[];
  };

const ok = (r: CliResult) => expect(r.status, r.stderr).toBe(0);

describe('webvcm eval --backend / --threads (no GPU needed)', () => {
  it('runtimeBackend: what the outputs say ran the models', () => {
    const info = {
      vendor: 'mesa',
      architecture: '',
      device: 'llvmpipe',
      description: '',
      isFallbackAdapter: false,
      backend: 'node-dawn' as const,
    };
    expect(runtimeBackend({ backend: 'wasm', threads: 1, adapterInfo: null })).toEqual({
      kind: 'wasm',
      detail: 'WebAssembly SIMD, 1 thread',
    });
    expect(runtimeBackend({ backend: 'wasm', threads: 4, adapterInfo: null }).detail).toBe('WebAssembly SIMD, 4 threads');
    expect(runtimeBackend({ backend: 'webgpu', threads: 0, adapterInfo: { ...info, description: 'llvmpipe (LLVM 15)' } })).toEqual({
      kind: 'webgpu',
      detail: 'llvmpipe (LLVM 15)',
    });
    expect(runtimeBackend({ backend: 'webgpu', threads: 0, adapterInfo: info }).detail).toBe('llvmpipe'); // no description
  });

  it('bad values: the same errors as detect, before any work', async () => {
    const ann = 'weights/mini-coco/instances.json';
    for (const [opt, value, re] of [
      ['--backend', 'cuda', /option '--backend <b>' argument 'cuda' is invalid\. expected auto, webgpu or wasm/],
      ['--threads', '0', /option '--threads <n>' argument '0' is invalid\. expected a positive integer/],
      ['--threads', '1.5', /option '--threads <n>' argument '1\.5' is invalid\. expected a positive integer/],
      ['--precision', 'f8', /option '--precision <p>' argument 'f8' is invalid\. expected f32 or f16/],
    ] as const) {
      const t0 = Date.now();
      const ev = await full('--annotations', ann, '--images', 'weights/mini-coco', opt, value);
      const det = await webvcm('detect', 'weights/mini-coco/000000000001.png', '-o', '/dev/null', opt, value);
      expect(ev.status, `${opt} ${value}`).not.toBe(0);
      expect(ev.stderr, `${opt} ${value}`).toMatch(re);
      expect(ev.stderr).toBe(det.stderr);
      expect(ev.stderr).not.toMatch(/llvmpipe|Warning: max|eval: /); // nothing was loaded or run
      expect(Date.now() - t0).toBeLessThan(30_000);
    }
  });

  it('scoring mode (--detections) refuses the runtime options: it runs no model', async () => {
    const base = ['--annotations', 'weights/mini-coco/instances.json', '--detections', 'weights/mini-coco/instances.json'];
    let r = await full(...base, '--backend', 'wasm', '--threads', '2');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /EvalUsageError: --backend, --threads only apply with --images \(scoring mode reads a results file and runs no model\)/,
    );
    r = await full(...base, '--precision', 'f32');
    expect(r.stderr).toMatch(/EvalUsageError: --precision only apply with --images/);
    r = await full(...base, '--adapter', 'lavapipe');
    expect(r.stderr).toMatch(/EvalUsageError: --adapter only apply with --images/);
  });

  it('--help lists the options as full-mode options', async () => {
    const r = await full('--help');
    ok(r);
    const help = r.stdout.replace(/\s+/g, ' '); // commander wraps the help at 80 columns
    expect(help).toMatch(/--backend <b> full mode: auto \(WebGPU when an adapter exists, else wasm/);
    expect(help).toMatch(/--threads <n> full mode: wasm backend: kernel threads/);
    expect(help).toMatch(/--precision <p> full mode: f32 \(default\) or f16: .*wasm: weights and inputs rounded to binary16/);
  });

  it('--backend wasm --precision f16: the detector in binary16 on wasm, as detect runs it; recorded in the cache settings', async () => {
    const dir = world();
    const out = join(dir, 'f16');
    const r = await full(...worldArgs(dir, out, '--backend', 'wasm', '--threads', '1', '--precision', 'f16', '--limit', '1', '--json'));
    ok(r);
    expect(r.stderr).toMatch(/^eval: backend wasm \(WebAssembly SIMD, 1 thread\); detector /m);
    expect(r.stderr).not.toMatch(/llvmpipe/);
    const res = JSON.parse(r.stdout) as { backend: { kind: string }; rows: { key: string; stats: { AP: number } }[] };
    expect(res.backend).toEqual({ kind: 'wasm', detail: 'WebAssembly SIMD, 1 thread' });
    expect(res.rows.map((x) => x.key)).toEqual(['uncompressed', 'm1/0']);
    expect(res.rows[0]!.stats.AP).toBeGreaterThan(0.3); // the trained detector still finds the shapes in f16
    const { settings } = readCache(out);
    expect(settings).toMatchObject({ precision: 'f16', backend: 'wasm' });
    expect(readFileSync(join(out, 'bd-rate.md'), 'utf8')).toMatch(/^Backend: wasm \(WebAssembly SIMD, 1 thread\)\.$/m);
  }, 600_000);
});

describeGpu('webvcm eval: the same experiment on wasm and on WebGPU (lavapipe)', () => {
  it('portable mode, 2 world images, one level: identical bytes and bpp, matching detections, equal COCO stats', async () => {
    const dir = world();
    const outW = join(dir, 'wasm'),
      outG = join(dir, 'webgpu');
    const rw = await full(...worldArgs(dir, outW, '--backend', 'wasm', '--threads', '2', '--mode', 'portable'));
    ok(rw);
    // fails (not skips) without an adapter: --backend webgpu refuses to fall back
    const rg = await full(...worldArgs(dir, outG, '--backend', 'webgpu', '--mode', 'portable'));
    ok(rg);
    expect(rw.stderr).toMatch(/^eval: backend wasm \(WebAssembly SIMD, 2 threads\); detector /m);
    expect(rg.stderr).toMatch(/^eval: backend webgpu \(.+\); detector /m);
    const sw = summary(outW),
      sg = summary(outG);
    expect(sw.backend).toEqual({ kind: 'wasm', detail: 'WebAssembly SIMD, 2 threads' });
    expect(sg.backend.kind).toBe('webgpu');

    // per (row, image): container bytes, bpp, string bytes, number of detections — the whole file
    const imagesW = readFileSync(join(outW, 'rd-images.csv'), 'utf8');
    expect(imagesW.trim().split('\n')).toHaveLength(1 + 2 * 2);
    expect(imagesW).toBe(readFileSync(join(outG, 'rd-images.csv'), 'utf8'));
    // per row: bpp, strings bpp and every COCO statistic
    expect(sw.rows.map((x) => x.key)).toEqual(['uncompressed', 'm1/0']);
    expect(sw.rows[1]!.bpp).toBeGreaterThan(0);
    expect(sw.rows[0]!.stats.AP).toBeGreaterThan(0.3); // the trained detector: the comparison is not of zeros
    for (const [i, a] of sw.rows.entries()) {
      const b = sg.rows[i]!;
      expect(b.key).toBe(a.key);
      expect(b.bpp).toBe(a.bpp);
      expect(b.stringsBpp).toBe(a.stringsBpp);
      for (const [k, v] of Object.entries(a.stats)) expect(Math.abs(b.stats[k]! - v), `${a.key} ${k}`).toBeLessThanOrEqual(1e-12);
    }
    // the detections, one to one
    const cw = readCache(outW),
      cg = readCache(outG);
    expect(cw.settings).toEqual({ ...cg.settings, backend: 'wasm' }); // --resume never mixes the two
    expect([...cw.images.keys()]).toEqual([...cg.images.keys()]);
    let maxBox = 0,
      maxScore = 0;
    for (const [id, rows] of cw.images) {
      for (const [key, a] of Object.entries(rows)) {
        const b = cg.images.get(id)![key]!;
        expect(b.bytes, `${id} ${key}`).toBe(a.bytes);
        expect(b.sb).toBe(a.sb);
        expect(b.c, `${id} ${key}`).toEqual(a.c);
        a.b.forEach((v, j) => (maxBox = Math.max(maxBox, Math.abs(v - b.b[j]!))));
        a.s.forEach((v, j) => (maxScore = Math.max(maxScore, Math.abs(v - b.s[j]!))));
      }
    }
    console.log(`wasm vs webgpu: max |Δbox| ${maxBox.toExponential(2)} px, max |Δscore| ${maxScore.toExponential(2)}`);
    expect(maxBox).toBeLessThanOrEqual(1e-2);
    expect(maxScore).toBeLessThanOrEqual(1e-4);

    // a wasm run cannot resume from the WebGPU cache
    const rr = await full(...worldArgs(dir, outG, '--backend', 'wasm', '--mode', 'portable', '--resume'));
    expect(rr.status).not.toBe(0);
    expect(rr.stderr).toMatch(/detections\.jsonl was written by a run with other settings or rows/);
  }, 600_000);
});
