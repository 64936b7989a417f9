// `webvcm eval`: COCO box mAP.
//   scoring mode:  webvcm eval --annotations instances.json --detections results.json [--json]
//   full mode:     webvcm eval --annotations instances.json --images <dir> [--detector D] [--codec c1,c2,…]
//                              [--method 1,2] [--anchors jpeg,webp] [--anchor-q …] [--out dir] [--limit N]
//                              [--on-error skip|fail] [--csv out.csv] [--plot out.svg] [--json]
//                              [--backend auto|webgpu|wasm] [--threads N] [--adapter …] [--precision f32|f16]
//   (the rate-accuracy experiment, docs/eval.md)
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve, sep } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { runtimeOptions, type RuntimeCliOptions } from './defaults.ts';
import { ANCHOR_CODECS, anchorQualityRange, DEFAULT_ANCHOR_QUALITIES, isAnchorCodec, type AnchorCodec } from '../eval/anchors.ts';
import { CocoFormatError, evaluateBoxes } from '../eval/cocoeval.ts';
import type { ExperimentResult, ExperimentRunner } from '../eval/experiment.ts';
import type { RatePoint } from '../eval/rd-runner.ts';
import { VcmError } from '../util/errors.ts';

export class EvalUsageError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'EvalUsageError';
  }
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EvalUsageError(`cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CocoFormatError(`${what} file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

interface EvalCliOptions extends RuntimeCliOptions {
  annotations: string;
  detections?: string;
  images?: string;
  method: string;
  limit?: number;
  csv?: string;
  plot?: string;
  out?: string;
  json?: boolean;
  detector?: string;
  codec: string[];
  scales?: number[];
  anchors?: string;
  anchorQ?: string;
  onError: string;
  mode: string;
  minSize?: number;
  maxSize?: number;
  progress?: string;
  resume?: boolean;
}

/** The options that only full mode reads: scoring mode refuses them when given on the command line. */
const FULL_ONLY = ['limit', 'csv', 'plot', 'backend', 'threads', 'adapter', 'precision'] as const;

function collect(v: string, prev: string[]): string[] {
  return [
    ...prev,
    ...v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

/** `--anchors jpeg,webp` (or none) and `--anchor-q 5,10,20` / `jpeg=5,10;webp=1,5` → the anchor plan. */
export function parseAnchors(list: string | undefined, q: string | undefined): { codec: AnchorCodec; qualities: number[] }[] {
  const names = (list ?? 'none')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'none') {
    if (q !== undefined) throw new EvalUsageError('--anchor-q needs --anchors');
    return [];
  }
  const bad = names.filter((n) => !isAnchorCodec(n));
  if (bad.length)
    throw new EvalUsageError(`--anchors: unknown image codec(s) ${bad.join(', ')} (choose from ${ANCHOR_CODECS.join(', ')}, or none)`);
  if (new Set(names).size !== names.length) throw new EvalUsageError('--anchors lists a codec twice');
  const parseList = (text: string, what: string, codecs: readonly string[]): number[] => {
    const v = text
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map(Number);
    for (const c of codecs) {
      const [lo, hi] = anchorQualityRange(c as AnchorCodec);
      const unit = c === 'hevc' ? 'QPs' : 'qualities';
      if (!v.length || !v.every((n) => Number.isInteger(n) && n >= lo && n <= hi))
        throw new EvalUsageError(`${what}: expected ${c} ${unit} ${lo}..${hi}, got '${text}'`);
    }
    if (new Set(v).size !== v.length) throw new EvalUsageError(`${what}: a quality is listed twice`);
    return v;
  };
  const per = new Map<string, number[]>();
  let common: number[] | undefined;
  if (q !== undefined) {
    if (q.includes('=')) {
      for (const part of q
        .split(';')
        .map((x) => x.trim())
        .filter(Boolean)) {
        const [k, v] = part.split('=');
        const name = (k ?? '').trim().toLowerCase();
        if (!names.includes(name)) throw new EvalUsageError(`--anchor-q names '${name}', which is not in --anchors`);
        per.set(name, parseList(v ?? '', `--anchor-q ${name}`, [name]));
      }
    } else common = parseList(q, '--anchor-q', names);
  }
  return names.map((n) => ({
    codec: n as AnchorCodec,
    qualities: per.get(n) ?? common ?? [...DEFAULT_ANCHOR_QUALITIES[n as AnchorCodec]],
  }));
}

export function parseMethodList(v: string): (1 | 2)[] {
  const parts = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (!parts.length || !parts.every((p) => p === '1' || p === '2')) {
    throw new EvalUsageError(
      `--method: expected a comma-separated list of 1 and/or 2 (1: pad & crop, 2: resize to multiples of 256), got '${v}'`,
    );
  }
  const m = parts.map(Number) as (1 | 2)[];
  if (new Set(m).size !== m.length) throw new EvalUsageError(`--method lists a method twice: '${v}'`);
  return m;
}

/** `--scales a,b,c`: finite positive gains. */
export function parseScales(v: string): number[] {
  const xs = v.split(',').map((t) => Number(t.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x <= 0))
    throw new EvalUsageError(`--scales must be comma-separated positive gains, got '${v}'`);
  if (new Set(xs).size !== xs.length) throw new EvalUsageError('--scales lists a gain twice');
  return xs;
}

/** Short labels for the codec checkpoints: the base name without extension, with parent folders where names collide. */
export function codecLabels(paths: string[]): string[] {
  const strip = (p: string) => p.replace(/\.(safetensors|pth\.tar|pth|tar)$/, '');
  const parts = paths.map((p) => strip(resolve(p)).split(sep));
  for (let depth = 1; depth <= Math.max(...parts.map((x) => x.length)); depth++) {
    const names = parts.map((x) => x.slice(-depth).join('/'));
    if (new Set(names).size === names.length) return names;
  }
  return paths.map((p, i) => `${basename(p)}#${i}`);
}

function checkReadable(path: string, what: string): void {
  try {
    if (!statSync(path).isFile()) throw new EvalUsageError(`${what} ${path} is not a file`);
  } catch (e) {
    if (e instanceof EvalUsageError) throw e;
    throw new EvalUsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function register(program: Command): void {
  const command = program
    .command('eval')
    .description(
      'COCO box mAP (pycocotools semantics). With --detections: score an existing COCO results file. ' +
        'With --images: the rate-accuracy experiment (docs/eval.md) — uncompressed detector, each method at each codec ' +
        'rate point, image-codec anchors; bpp and AP/AP50/AP75 per row, CSV, SVG RD plot and BD-rates.',
    )
    .requiredOption('--annotations <file>', 'COCO instances JSON (ground truth)')
    .option('--detections <file>', 'COCO results JSON to score (scoring mode)')
    .option('--images <dir>', 'image folder for the experiment (full mode)')
    .option('--method <list>', 'full mode: codec methods, comma separated (1, 2)', '1')
    .option(
      '--codec <ckpt>',
      'full mode: feature-codec checkpoint(s), one per rate point (a variable-rate checkpoint: one point per level, one curve); comma separated or repeated (default: every bundled rate point, weights/world/rate-points.json)',
      collect,
      [],
    )
    .option(
      '--scales <list>',
      'full mode: variable-rate checkpoints code at these gains instead of their levels, e.g. 0.1,0.2,0.45,1',
      parseScales,
    )
    .option('--anchors <list>', `full mode: image-codec anchors, comma separated: ${ANCHOR_CODECS.join(', ')} or none`, 'none')
    .option(
      '--anchor-q <list>',
      'full mode: anchor qualities, e.g. 5,10,20,35,50,75 or jpeg=5,10,20;webp=5,10 (default per codec, docs/eval.md)',
    )
    .option('--limit <n>', 'full mode: only the first N images (ascending id)', parseLimit)
    .option('--out <dir>', 'full mode: write rd.csv, rd-images.csv, rd.svg, bd-rate.json, bd-rate.md, summary.json here', 'artifacts/eval')
    .option('--csv <file>', 'full mode: write the per-row CSV here instead of <out>/rd.csv')
    .option('--plot <file>', 'full mode: write the SVG RD plot here instead of <out>/rd.svg')
    .option('--on-error <what>', 'full mode: an unreadable or failing image: fail (default, names the file) or skip', 'fail')
    .option(
      '--resume',
      'full mode: reuse the per-image detections cached in <out>/detections.jsonl by an interrupted run with the same settings',
    )
    .option('--progress <how>', 'full mode: auto | bar | lines | none', 'auto')
    .option('--json', 'print JSON to stdout instead of a table')
    .option('--detector <ckpt>', 'full mode: detector checkpoint (default: bundled weights/default)')
    .option('--mode <mode>', 'full mode: codec mode, compat | portable', 'compat')
    .option('--min-size <n>', 'full mode: detector short side', parseLimit)
    .option('--max-size <n>', 'full mode: detector long-side cap', parseLimit);
  // full mode runs the detector and the codecs: the same runtime options as detect (scoring mode refuses them)
  runtimeOptions(command, { codec: true, scope: 'full mode: ' }).action(async (opts: EvalCliOptions, cmd: Command) => {
    if (opts.detections && opts.images)
      throw new EvalUsageError('give either --detections (scoring mode) or --images (full mode), not both');
    if (!opts.detections && !opts.images)
      throw new EvalUsageError('give --detections <results.json> to score a results file, or --images <dir> to run the pipeline');
    if (opts.detections) {
      const fullOnly = FULL_ONLY.filter((k) => cmd.getOptionValueSource(k) === 'cli');
      if (fullOnly.length)
        throw new EvalUsageError(
          `--${fullOnly.join(', --')} only apply with --images (scoring mode reads a results file and runs no model)`,
        );
      const gt = readJson(opts.annotations, 'annotations');
      const dets = readJson(opts.detections, 'detections');
      const r = evaluateBoxes(gt, dets);
      if (opts.json) process.stdout.write(JSON.stringify({ stats: r.stats }) + '\n');
      else process.stdout.write(r.summaryLines.join('\n') + '\n');
      return;
    }
    // Validate everything before any work.
    if (opts.mode !== 'compat' && opts.mode !== 'portable')
      throw new EvalUsageError(`--mode must be compat or portable, got '${opts.mode}'`);
    const { bundledRatePoints, DEFAULT_DETECTOR } = await import('./defaults.ts');
    const detector = opts.detector ?? DEFAULT_DETECTOR;
    const codecs = opts.codec.length ? opts.codec : bundledRatePoints();
    const { methods, anchors } = await checkFullEval({ ...opts, images: opts.images! }, detector, codecs);
    const { createRdRunner } = await import('../eval/rd-runner.ts');
    const runner = await createRdRunner({
      detector,
      codecs,
      method2: methods.includes(2),
      mode: opts.mode as 'compat' | 'portable',
      minSize: opts.minSize,
      maxSize: opts.maxSize,
      precision: opts.precision,
      scales: opts.scales,
      adapter: opts.adapter,
      backend: opts.backend,
      threads: opts.threads,
    });
    await runFullEval({ ...opts, images: opts.images! }, runner, methods, anchors, codecs, 'eval');
  });
}

/** The options of the full experiment that `webvcm eval` and tools/rd-torch.ts share. */
export interface FullEvalOptions {
  annotations: string;
  images: string;
  method: string;
  anchors?: string;
  anchorQ?: string;
  limit?: number;
  out?: string;
  csv?: string;
  plot?: string;
  onError: string;
  progress?: string;
  resume?: boolean;
  json?: boolean;
}

/** Check every option, the annotation file, every image file and every checkpoint before any work. */
export async function checkFullEval(
  opts: FullEvalOptions,
  detector: string,
  codecs: string[],
): Promise<{ methods: (1 | 2)[]; anchors: { codec: AnchorCodec; qualities: number[] }[] }> {
  const methods = parseMethodList(opts.method);
  if (opts.onError !== 'skip' && opts.onError !== 'fail')
    throw new EvalUsageError(`--on-error must be skip or fail, got '${opts.onError}'`);
  if (!['auto', 'bar', 'lines', 'none'].includes(opts.progress ?? 'auto'))
    throw new EvalUsageError(`--progress must be auto, bar, lines or none, got '${opts.progress}'`);
  const anchors = parseAnchors(opts.anchors, opts.anchorQ);
  checkReadable(opts.annotations, 'annotations');
  checkReadable(detector, 'detector checkpoint');
  for (const c of codecs) checkReadable(c, 'codec checkpoint');
  if (new Set(codecs.map((c) => resolve(c))).size !== codecs.length) throw new EvalUsageError('--codec lists a checkpoint twice');
  const { loadImageJobs } = await import('../eval/experiment.ts');
  loadImageJobs(opts.annotations, opts.images, opts.limit); // annotations and every image file exist
  if (anchors.length) {
    const { checkAnchorSupport } = await import('../eval/anchors.ts');
    await checkAnchorSupport(anchors.map((a) => a.codec));
  }
  return { methods, anchors };
}

/** Run the experiment with a built runner (labels from the checkpoint names) and print the result. */
export async function runFullEval(
  opts: FullEvalOptions,
  runner: ExperimentRunner & { detectorInfo: string; points: readonly RatePoint[] },
  methods: (1 | 2)[],
  anchors: { codec: AnchorCodec; qualities: number[] }[],
  codecs: string[],
  who: string,
): Promise<void> {
  process.stderr.write(`${who}: ${runner.detectorInfo}; class mapping ${runner.classNames ? 'by name' : 'COCO ids'}\n`);
  const names = codecLabels(codecs);
  // each variable-rate checkpoint of several is its own curve (fixed-rate checkpoints share one curve per method)
  const curves = codecs.length > 1 ? runner.points.map((p) => (p.gain !== undefined ? names[p.codec] : undefined)) : undefined;
  const { runRdExperiment } = await import('../eval/experiment.ts');
  const res = await runRdExperiment({
    annotations: opts.annotations,
    images: opts.images,
    plan: { methods, codecNames: runner.points.map((p) => `${names[p.codec]}${p.suffix}`), codecCurves: curves, anchors },
    runner,
    limit: opts.limit,
    outDir: opts.out,
    csvPath: opts.csv,
    plotPath: opts.plot,
    onError: opts.onError as 'skip' | 'fail',
    resume: !!opts.resume,
    progress: opts.progress as 'auto',
  });
  printRdResult(res, !!opts.json);
}

/** The experiment's result on stdout: JSON, or the RD table, the BD-rates against the best anchor and the files. */
function printRdResult(res: ExperimentResult, json: boolean): void {
  if (json) {
    process.stdout.write(
      JSON.stringify({ backend: res.backend, rows: res.rows, bestAnchor: res.bd.bestAnchor, files: res.files, skipped: res.skipped }) +
        '\n',
    );
    return;
  }
  process.stdout.write(res.table);
  if (res.bd.entries.length) process.stdout.write('\n' + bdSummary(res.bd) + '\n');
  if (res.skipped.length)
    process.stdout.write(`skipped ${res.skipped.length} image(s): ${res.skipped.map((s) => s.fileName).join(', ')}\n`);
  process.stdout.write(
    `${res.imageIds.length} image(s), ${res.seconds.toFixed(0)} s; wrote:\n${Object.entries(res.files)
      .map(([k, f]) => `  ${k.padEnd(11)} ${f}`)
      .join('\n')}\n`,
  );
}

function bdSummary(bd: {
  bestAnchor: string | null;
  entries: { curve: string; anchor: string; metric: string; cubic: { value: number; reason?: string }; pchip: { value: number } }[];
}): string {
  const lines = [`BD-rate (mAP) against the best anchor (${bd.bestAnchor ?? '-'}):`];
  for (const e of bd.entries.filter((x) => x.metric === 'AP' && x.anchor === bd.bestAnchor)) {
    const v = Number.isFinite(e.cubic.value)
      ? `${e.cubic.value.toFixed(2)} % (pchip ${Number.isFinite(e.pchip.value) ? e.pchip.value.toFixed(2) + ' %' : 'n/a'})`
      : `n/a: ${e.cubic.reason}`;
    lines.push(`  ${e.curve.padEnd(10)} ${v}`);
  }
  return lines.join('\n');
}
