/**
 * The paper's rate–accuracy experiment (docs/eval.md): over a COCO-format image set, rows for
 *   - the uncompressed detector,
 *   - method 1 and method 2 at every feature-codec rate point (one checkpoint per rate point),
 *   - image-codec anchors (JPEG, WebP, AVIF at several qualities; the decoded image goes through the normal detector),
 * each with bpp over the ORIGINAL image's pixels (container bytes·8 / (H·W), mean over images) and COCO box
 * AP/AP50/AP75 (pycocotools-exact); then a CSV, a per-image CSV, an SVG RD plot and the BD-rates (Bjøntegaard, mAP
 * as quality) of every curve against every anchor and the best anchor.
 *
 * The GPU work is behind `ExperimentRunner` (src/eval/rd-runner.ts is the real one): it gets one image and all the
 * rows and returns every row's detections, so it can reuse the stem per method across codecs and the method-1 stem
 * for the uncompressed row. This module does the bookkeeping and is tested with a fake runner.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { ANCHOR_LABELS, type AnchorCodec } from './anchors.ts';
import { bdQuality, bdRate, type BdInterpolation, type BdResult, type RdPoint } from './bdrate.ts';
import { categoryMappingByName, cocoCategoryMapping, toCocoResults, type CategoryMapping } from './coco-categories.ts';
import { COCO, CocoFormatError, evaluateBoxes, STAT_NAMES, type CocoResult, type CocoStats } from './cocoeval.ts';
import { renderRatePlot, type RatePoint } from './plot.ts';
import { VcmError } from '../util/errors.ts';

// ---------------------------------------------------------------------------------------------------------------
// Rows

export type RowSpec =
  | { key: string; kind: 'reference'; curve: 'uncompressed'; label: string }
  | { key: string; kind: 'feature'; curve: string; label: string; method: 1 | 2; codecIndex: number; codecName: string }
  | { key: string; kind: 'anchor'; curve: string; label: string; anchor: AnchorCodec; quality: number };

export interface RowPlan {
  methods: (1 | 2)[];
  /** one name per feature-codec checkpoint (rate point), e.g. the file's base name */
  codecNames: string[];
  /**
   * Per rate point, the curve it belongs to within its method (undefined: the plain `method m` curve). Each
   * variable-rate checkpoint of several is its own curve, e.g. the paper's recipe beside a task-aware variant.
   */
  codecCurves?: (string | undefined)[];
  anchors: { codec: AnchorCodec; qualities: number[] }[];
}

export function methodCurve(m: 1 | 2, tag?: string): string {
  return tag ? `method ${m} · ${tag}` : `method ${m}`;
}

/** The experiment's rows in run order: uncompressed, method × codec, anchor × quality. */
export function planRows(p: RowPlan): RowSpec[] {
  const rows: RowSpec[] = [{ key: 'uncompressed', kind: 'reference', curve: 'uncompressed', label: 'uncompressed' }];
  for (const m of p.methods) {
    p.codecNames.forEach((name, i) =>
      rows.push({
        key: `m${m}/${i}`,
        kind: 'feature',
        curve: methodCurve(m, p.codecCurves?.[i]),
        label: name,
        method: m,
        codecIndex: i,
        codecName: name,
      }),
    );
  }
  for (const a of p.anchors) {
    for (const q of a.qualities)
      rows.push({ key: `${a.codec}/q${q}`, kind: 'anchor', curve: ANCHOR_LABELS[a.codec], label: `q${q}`, anchor: a.codec, quality: q });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Runner

/** Detections for one image: XYXY boxes in original-image pixels, scores, contiguous classes. */
export interface RowDetections {
  boxes: Float32Array;
  scores: Float32Array;
  classes: ArrayLike<number>;
}

export interface RowOutput {
  dets: RowDetections;
  /** coded size in bytes (feature container, or the image file of an anchor); null for the uncompressed row */
  bytes: number | null;
  /** feature rows: the entropy-coded y + z strings alone */
  stringBytes?: number;
}

export interface ImageJob {
  id: number;
  fileName: string;
  path: string;
  /** [H, W] from the annotation file */
  size: [number, number];
}

export interface RunnerBackend {
  /** 'webgpu', 'wasm', 'pytorch', … */
  kind: string;
  /** the adapter, the thread count, … */
  detail: string;
}

export interface ExperimentRunner {
  /** class names stored in the detector checkpoint (undefined: none stored → COCO id mapping) */
  readonly classNames?: readonly string[];
  readonly numClasses?: number;
  /** what determines the outputs (checkpoints, mode, sizes): a cache made with other settings is not reused */
  readonly settings?: string;
  /** what ran the models (e.g. kind 'wasm', detail 'WebAssembly SIMD, 2 threads'): in summary.json and bd-rate.md */
  readonly backend?: RunnerBackend;
  /** Run every row on one image. `done(key)` after each row (progress). Must return one output per row. */
  runImage(
    image: ImageJob,
    rows: readonly RowSpec[],
    done: (key: string) => void,
  ): Promise<{ size: [number, number]; rows: Map<string, RowOutput> }>;
  close?(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Options and results

export type OnError = 'skip' | 'fail';

export interface ExperimentOptions {
  annotations: string;
  images: string;
  plan: RowPlan;
  runner: ExperimentRunner;
  /** write the outputs here (created) */
  outDir?: string;
  /**
   * Reuse the per-image detections cached in `<outDir>/detections.jsonl` by an earlier (interrupted) run with the
   * same settings (`runner.settings` and the rows); without it the cache is started afresh.
   */
  resume?: boolean;
  /** override single output paths */
  csvPath?: string;
  plotPath?: string;
  limit?: number;
  /** an image that cannot be read or run: 'fail' (default, naming the file) or 'skip' (listed in the outputs) */
  onError?: OnError;
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** BD-rate quality axes; default ['AP', 'AP50'] (AP = mAP@[.5:.95], the primary) */
  bdMetrics?: ('AP' | 'AP50' | 'AP75')[];
}

export interface RowSummary {
  key: string;
  kind: RowSpec['kind'];
  curve: string;
  label: string;
  method?: 1 | 2;
  codec?: string;
  anchor?: AnchorCodec;
  quality?: number;
  images: number;
  /** mean over images of bytes·8/(H·W); null for the uncompressed row */
  bpp: number | null;
  stringsBpp: number | null;
  meanBytes: number | null;
  stats: CocoStats;
}

export interface PerImageRow {
  key: string;
  curve: string;
  label: string;
  imageId: number;
  fileName: string;
  height: number;
  width: number;
  bytes: number | null;
  bpp: number | null;
  stringBytes: number | null;
  detections: number;
}

export interface BdEntry {
  curve: string;
  anchor: string;
  metric: string;
  cubic: BdResult;
  pchip: BdResult;
  /** mean mAP difference (points) at equal rate, cubic */
  bdMetric: BdResult;
}

export interface ExperimentResult {
  rows: RowSummary[];
  perImage: PerImageRow[];
  imageIds: number[];
  skipped: { fileName: string; imageId: number; error: string }[];
  mapping: CategoryMapping;
  bd: { bestAnchor: string | null; bestAnchorReason: string; entries: BdEntry[] };
  files: Record<string, string>;
  table: string;
  seconds: number;
  /** the runner's backend (null: the runner did not say) */
  backend: RunnerBackend | null;
}

export class EvalImageError extends VcmError {
  override name = 'EvalImageError';
  constructor(
    readonly fileName: string,
    readonly imageId: number,
    cause: unknown,
  ) {
    super(
      'input',
      `image ${imageId} (${fileName}): ${(cause as Error)?.name ?? 'Error'}: ${(cause as Error)?.message ?? String(cause)} (use --on-error skip to skip unreadable images)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Progress with ETA

interface Progress {
  tick(n: number, what: string): void;
  stop(): void;
}

function makeProgress(total: number, mode: ExperimentOptions['progress'], stream: NodeJS.WritableStream & { isTTY?: boolean }): Progress {
  const m = mode ?? 'auto';
  if (m === 'none') return { tick() {}, stop() {} };
  if (m === 'bar' || (m === 'auto' && stream.isTTY)) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'eval [{bar}] {percentage}% {value}/{total} rows | ETA {eta_formatted} | {what}',
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { what: '' });
    return { tick: (n, what) => bar.increment(n, { what }), stop: () => bar.stop() };
  }
  // plain lines (logs, CI): one line per image with rate and ETA
  let done = 0;
  const t0 = performance.now();
  return {
    tick: (n, what) => {
      done += n;
      if (!what.endsWith('(image done)')) return;
      const el = (performance.now() - t0) / 1000;
      const eta = done > 0 ? (el / done) * (total - done) : 0;
      stream.write(`eval: ${done}/${total} rows, ${el.toFixed(0)} s elapsed, ETA ${eta.toFixed(0)} s | ${what}\n`);
    },
    stop() {},
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csv(columns: readonly string[], recs: Record<string, unknown>[]): string {
  return [columns.join(','), ...recs.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

export const RD_CSV_COLUMNS = [
  'row',
  'curve',
  'label',
  'kind',
  'method',
  'codec',
  'anchor',
  'quality',
  'images',
  'bpp',
  'strings_bpp',
  'mean_bytes',
  ...STAT_NAMES,
] as const;
export const RD_IMAGES_CSV_COLUMNS = [
  'row',
  'curve',
  'label',
  'image_id',
  'file_name',
  'height',
  'width',
  'bytes',
  'bpp',
  'string_bytes',
  'detections',
] as const;

export function rdCsv(rows: RowSummary[]): string {
  return csv(
    RD_CSV_COLUMNS,
    rows.map((r) => ({
      row: r.key,
      curve: r.curve,
      label: r.label,
      kind: r.kind,
      method: r.method,
      codec: r.codec,
      anchor: r.anchor,
      quality: r.quality,
      images: r.images,
      bpp: r.bpp,
      strings_bpp: r.stringsBpp,
      mean_bytes: r.meanBytes,
      ...Object.fromEntries(STAT_NAMES.map((n) => [n, r.stats[n]])),
    })),
  );
}

export function rdImagesCsv(rows: PerImageRow[]): string {
  return csv(
    RD_IMAGES_CSV_COLUMNS,
    rows.map((r) => ({
      row: r.key,
      curve: r.curve,
      label: r.label,
      image_id: r.imageId,
      file_name: r.fileName,
      height: r.height,
      width: r.width,
      bytes: r.bytes,
      bpp: r.bpp,
      string_bytes: r.stringBytes,
      detections: r.detections,
    })),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// BD-rate over the curves

function curvePoints(rows: RowSummary[], curve: string, metric: keyof CocoStats): RdPoint[] {
  return rows
    .filter((r) => r.curve === curve && r.bpp !== null && r.stats[metric] >= 0)
    .map((r) => ({ rate: r.bpp!, quality: r.stats[metric] * 100 }));
}

/**
 * BD-rates of every curve (methods and anchors) against every anchor, and of each method-2 curve against its method-1
 * curve (the paper's comparison), on each metric; the best anchor is the one with the lowest BD-rate (mAP, cubic,
 * else pchip) against the first anchor (which is 0 against itself).
 */
export function computeBd(rows: RowSummary[], metrics: ('AP' | 'AP50' | 'AP75')[] = ['AP', 'AP50']): ExperimentResult['bd'] {
  const curves = [...new Set(rows.filter((r) => r.kind !== 'reference').map((r) => r.curve))];
  const anchors = [...new Set(rows.filter((r) => r.kind === 'anchor').map((r) => r.curve))];
  const entries: BdEntry[] = [];
  for (const metric of metrics) {
    for (const a of anchors) {
      const ap = curvePoints(rows, a, metric);
      for (const c of curves) {
        if (c === a) continue;
        const cp = curvePoints(rows, c, metric);
        const interp = (m: BdInterpolation) => bdRate(ap, cp, m);
        entries.push({ curve: c, anchor: a, metric, cubic: interp('cubic'), pchip: interp('pchip'), bdMetric: bdQuality(ap, cp, 'cubic') });
      }
    }
    for (const c of curves) {
      const m1 = c.startsWith('method 2') ? `method 1${c.slice('method 2'.length)}` : undefined;
      if (!m1 || !curves.includes(m1)) continue;
      const ap = curvePoints(rows, m1, metric),
        cp = curvePoints(rows, c, metric);
      entries.push({
        curve: c,
        anchor: m1,
        metric,
        cubic: bdRate(ap, cp, 'cubic'),
        pchip: bdRate(ap, cp, 'pchip'),
        bdMetric: bdQuality(ap, cp, 'cubic'),
      });
    }
  }
  if (!anchors.length) return { bestAnchor: null, bestAnchorReason: 'no anchors were run', entries };
  const first = anchors[0]!;
  let best = first,
    bestV = 0;
  const why: string[] = [];
  for (const a of anchors.slice(1)) {
    const e = entries.find((x) => x.metric === metrics[0] && x.anchor === first && x.curve === a)!;
    const v = Number.isFinite(e.cubic.value) ? e.cubic.value : e.pchip.value;
    why.push(`${a} vs ${first}: ${Number.isFinite(v) ? `${v.toFixed(2)} %` : `undefined (${e.cubic.reason ?? e.pchip.reason})`}`);
    if (Number.isFinite(v) && v < bestV) {
      best = a;
      bestV = v;
    }
  }
  return {
    bestAnchor: best,
    bestAnchorReason: anchors.length === 1 ? 'the only anchor' : `lowest ${metrics[0]} BD-rate against ${first} (${why.join('; ')})`,
    entries,
  };
}

const fmtPct = (r: BdResult): string => (Number.isFinite(r.value) ? `${r.value >= 0 ? '+' : ''}${r.value.toFixed(2)} %` : 'n/a');

export function bdMarkdown(res: Pick<ExperimentResult, 'bd' | 'rows'> & { backend?: RunnerBackend | null }): string {
  const { bd } = res;
  const lines: string[] = [];
  lines.push('# BD-rate (Bjøntegaard, mAP as quality)', '');
  if (res.backend) lines.push(`Backend: ${res.backend.kind} (${res.backend.detail}).`, '');
  lines.push(`Best anchor: **${bd.bestAnchor ?? '-'}** — ${bd.bestAnchorReason}.`, '');
  lines.push(
    'BD-rate: mean bit-rate difference at equal mAP (negative = fewer bits than the anchor); cubic = VCEG-M33 ' +
      'polynomial fit, pchip = piecewise cubic; BD-mAP: mean mAP difference (points) at equal rate.',
    '',
  );
  const metrics = [...new Set(bd.entries.map((e) => e.metric))];
  for (const metric of metrics) {
    lines.push(`## ${metric === 'AP' ? 'mAP (AP@[.5:.95])' : metric}`, '');
    lines.push('| curve | anchor | BD-rate (cubic) | BD-rate (pchip) | BD-mAP | note |', '|---|---|---:|---:|---:|---|');
    for (const e of bd.entries.filter((x) => x.metric === metric)) {
      const note =
        e.cubic.reason ??
        e.pchip.reason ??
        (e.cubic.range ? `over ${metric} ${e.cubic.range[0].toFixed(2)}–${e.cubic.range[1].toFixed(2)}` : '');
      const bm = Number.isFinite(e.bdMetric.value) ? `${e.bdMetric.value >= 0 ? '+' : ''}${e.bdMetric.value.toFixed(2)}` : 'n/a';
      const star = e.anchor === bd.bestAnchor ? ' (best)' : '';
      lines.push(`| ${e.curve} | ${e.anchor}${star} | ${fmtPct(e.cubic)} | ${fmtPct(e.pchip)} | ${bm} | ${note.replace(/\|/g, '/')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The RD table (markdown): one line per row. */
export function rdTable(rows: RowSummary[]): string {
  const head = '| row | curve | point | bpp | AP | AP50 | AP75 |\n|---|---|---|---:|---:|---:|---:|';
  const p = (v: number) => (v < 0 ? 'n/a' : (v * 100).toFixed(2));
  const body = rows.map(
    (r) =>
      `| ${r.key} | ${r.curve} | ${r.label} | ${r.bpp === null ? '-' : r.bpp.toFixed(4)} | ${p(r.stats.AP)} | ${p(r.stats.AP50)} | ${p(r.stats.AP75)} |`,
  );
  return [head, ...body].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// The experiment

function checkDets(d: RowDetections, what: string): void {
  if (!(d.boxes instanceof Float32Array) || !(d.scores instanceof Float32Array))
    throw new TypeError(`${what}: runner must return Float32Array boxes and scores`);
  if (d.boxes.length !== 4 * d.scores.length || d.classes.length !== d.scores.length)
    throw new TypeError(`${what}: inconsistent detection arrays`);
}

/** Read and check the annotation file and the image list (no GPU work). */
export function loadImageJobs(annotations: string, images: string, limit?: number): { coco: COCO; jobs: ImageJob[] } {
  let gtJson: unknown;
  try {
    gtJson = JSON.parse(requireText(annotations));
  } catch (e) {
    if (e instanceof CocoFormatError) throw e;
    throw new CocoFormatError(`annotations ${annotations} are not valid JSON: ${(e as Error).message}`);
  }
  const coco = COCO.fromGroundTruth(gtJson);
  if (!existsSync(images) || !statSync(images).isDirectory()) throw new CocoFormatError(`--images ${images} is not a directory`);
  let ids = coco.getImgIds().sort((a, b) => a - b);
  if (limit !== undefined) ids = ids.slice(0, limit);
  if (!ids.length) throw new CocoFormatError(`annotations ${annotations} list no images`);
  const jobs = ids.map((id) => {
    const im = coco.images.get(id)!;
    const { width, height, file_name: fileName } = im;
    if (typeof fileName !== 'string' || !fileName) throw new CocoFormatError(`image ${id}: missing "file_name"`);
    if (!(Number.isInteger(width) && width! > 0 && Number.isInteger(height) && height! > 0)) {
      throw new CocoFormatError(`image ${id}: "width" and "height" must be positive integers (needed for bpp)`);
    }
    return { id, fileName, size: [height!, width!] as [number, number], path: resolve(join(images, fileName)) };
  });
  const missing = jobs.filter((j) => !existsSync(j.path));
  if (missing.length) {
    throw new CocoFormatError(
      `${missing.length} image file(s) not found under ${images}: ${missing
        .slice(0, 5)
        .map((m) => m.fileName)
        .join(', ')}${missing.length > 5 ? ', ...' : ''}`,
    );
  }
  return { coco, jobs };
}

function requireText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CocoFormatError(`cannot read annotations ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function runRdExperiment(opts: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const onError = opts.onError ?? 'fail';
  if (onError !== 'skip' && onError !== 'fail') throw new RangeError(`onError must be skip or fail, got ${String(onError)}`);
  const { coco, jobs } = loadImageJobs(opts.annotations, opts.images, opts.limit);
  const runner = opts.runner;
  const rows = planRows(opts.plan);
  const mapping = runner.classNames ? categoryMappingByName(runner.classNames, coco.cats.values()) : cocoCategoryMapping(runner.numClasses);
  const results = new Map<string, CocoResult[]>(rows.map((r) => [r.key, []]));
  const perImage: PerImageRow[] = [];
  const skipped: ExperimentResult['skipped'] = [];
  const done: number[] = [];
  const stream = opts.progressStream ?? process.stderr;
  const cache = openCache(opts, runner, rows);
  const progress = makeProgress(jobs.length * rows.length, opts.progress, stream);
  try {
    for (const job of jobs) {
      let ticked = 0;
      const tick = (key: string): void => {
        ticked++;
        progress.tick(1, `${job.fileName} ${key}`);
      };
      let out: Awaited<ReturnType<ExperimentRunner['runImage']>>;
      try {
        const cached = cache?.get(job.id);
        out = cached ?? (await runner.runImage(job, rows, tick));
        if (out.size[0] !== job.size[0] || out.size[1] !== job.size[1]) {
          throw new CocoFormatError(
            `the file is ${out.size[0]}x${out.size[1]} (HxW) but the annotations say ${job.size[0]}x${job.size[1]}`,
          );
        }
        for (const r of rows) {
          const o = out.rows.get(r.key);
          if (!o) throw new Error(`runner returned no output for row ${r.key}`);
          checkDets(o.dets, `${job.fileName} ${r.key}`);
          if (r.kind !== 'reference' && !(typeof o.bytes === 'number' && Number.isFinite(o.bytes) && o.bytes > 0)) {
            throw new RangeError(`${job.fileName} ${r.key}: invalid coded size ${o.bytes}`);
          }
        }
      } catch (e) {
        const err = new EvalImageError(job.fileName, job.id, e);
        if (onError === 'fail') throw err;
        skipped.push({ fileName: job.fileName, imageId: job.id, error: err.message });
        stream.write(`eval: skipping ${err.message}\n`);
        progress.tick(rows.length - ticked, `${job.fileName} skipped (image done)`);
        continue;
      }
      const px = job.size[0] * job.size[1];
      for (const r of rows) {
        const o = out.rows.get(r.key)!;
        results.get(r.key)!.push(...toCocoResults(job.id, o.dets.boxes, o.dets.scores, o.dets.classes, mapping.ids));
        perImage.push({
          key: r.key,
          curve: r.curve,
          label: r.label,
          imageId: job.id,
          fileName: job.fileName,
          height: job.size[0],
          width: job.size[1],
          bytes: o.bytes,
          bpp: o.bytes === null ? null : (o.bytes * 8) / px,
          stringBytes: o.stringBytes ?? null,
          detections: o.dets.scores.length,
        });
      }
      done.push(job.id);
      if (cache && !cache.has(job.id)) cache.append(job, out);
      progress.tick(Math.max(0, rows.length - ticked), `${job.fileName} (image done)`);
    }
  } finally {
    progress.stop();
    await runner.close?.();
  }
  if (!done.length) throw new CocoFormatError(`no image could be evaluated (${skipped.length} skipped): ${skipped[0]?.error ?? ''}`);

  const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const summaries: RowSummary[] = rows.map((r) => {
    const ev = evaluateBoxes(coco, results.get(r.key)!, { imgIds: done });
    const pi = perImage.filter((p) => p.key === r.key);
    const px = (p: PerImageRow) => p.height * p.width;
    return {
      key: r.key,
      kind: r.kind,
      curve: r.curve,
      label: r.label,
      ...(r.kind === 'feature' ? { method: r.method, codec: r.codecName } : {}),
      ...(r.kind === 'anchor' ? { anchor: r.anchor, quality: r.quality } : {}),
      images: done.length,
      bpp: r.kind === 'reference' ? null : mean(pi.map((p) => p.bpp!)),
      stringsBpp: r.kind === 'feature' ? mean(pi.filter((p) => p.stringBytes !== null).map((p) => (p.stringBytes! * 8) / px(p))) : null,
      meanBytes: r.kind === 'reference' ? null : mean(pi.map((p) => p.bytes!)),
      stats: ev.stats,
    };
  });
  const bd = computeBd(summaries, opts.bdMetrics);
  const result: ExperimentResult = {
    rows: summaries,
    perImage,
    imageIds: done,
    skipped,
    mapping,
    bd,
    files: {},
    table: rdTable(summaries),
    seconds: (performance.now() - t0) / 1000,
    backend: runner.backend ?? null,
  };
  result.files = writeOutputs(result, opts);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-image cache (resume an interrupted run)

interface Cache {
  get(id: number): { size: [number, number]; rows: Map<string, RowOutput> } | undefined;
  has(id: number): boolean;
  append(job: ImageJob, out: { size: [number, number]; rows: Map<string, RowOutput> }): void;
  readonly path: string;
}

export const CACHE_FILE = 'detections.jsonl';

function openCache(opts: ExperimentOptions, runner: ExperimentRunner, rows: readonly RowSpec[]): Cache | null {
  if (!opts.outDir) {
    if (opts.resume) throw new RangeError('resume needs an output folder (outDir)');
    return null;
  }
  mkdirSync(opts.outDir, { recursive: true });
  const path = join(opts.outDir, CACHE_FILE);
  const header = JSON.stringify({
    webvcmEvalCache: 1,
    settings: runner.settings ?? null,
    rows: rows.map((r) => r.key),
    annotations: resolve(opts.annotations),
    images: resolve(opts.images),
  });
  const entries = new Map<number, { size: [number, number]; rows: Map<string, RowOutput> }>();
  if (opts.resume && existsSync(path)) {
    const lines = readFileSync(path, 'utf8').split('\n');
    if (lines[0] !== header) {
      throw new RangeError(`${path} was written by a run with other settings or rows; remove it or run without --resume`);
    }
    for (const line of lines.slice(1)) {
      if (!line.trim()) continue;
      let e: {
        id: number;
        size: [number, number];
        rows: Record<string, { b: number[]; s: number[]; c: number[]; bytes: number | null; sb?: number }>;
      };
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a line cut short when the run was killed: that image runs again
      }
      const m = new Map<string, RowOutput>();
      for (const [k, v] of Object.entries(e.rows)) {
        m.set(k, {
          dets: { boxes: Float32Array.from(v.b), scores: Float32Array.from(v.s), classes: Int32Array.from(v.c) },
          bytes: v.bytes,
          ...(v.sb !== undefined ? { stringBytes: v.sb } : {}),
        });
      }
      entries.set(e.id, { size: e.size, rows: m });
    }
    // rewrite without torn lines so appends stay valid JSONL
    writeFileSync(path, [header, ...[...entries].map(([id, o]) => cacheLine(id, o))].join('\n') + '\n');
  } else {
    writeFileSync(path, header + '\n');
  }
  return {
    path,
    get: (id) => entries.get(id),
    has: (id) => entries.has(id),
    append: (job, out) => appendFileSync(path, cacheLine(job.id, out) + '\n'),
  };
}

function cacheLine(id: number, out: { size: [number, number]; rows: Map<string, RowOutput> }): string {
  const rows: Record<string, unknown> = {};
  for (const [k, o] of out.rows) {
    rows[k] = {
      b: Array.from(o.dets.boxes),
      s: Array.from(o.dets.scores),
      c: Array.from(o.dets.classes),
      bytes: o.bytes,
      ...(o.stringBytes !== undefined ? { sb: o.stringBytes } : {}),
    };
  }
  return JSON.stringify({ id, size: out.size, rows });
}

function writeOutputs(res: ExperimentResult, opts: ExperimentOptions): Record<string, string> {
  const files: Record<string, string> = {};
  const dir = opts.outDir;
  if (dir) mkdirSync(dir, { recursive: true });
  const target = (name: string, override?: string): string | undefined => override ?? (dir ? join(dir, name) : undefined);
  const write = (what: string, path: string | undefined, text: string): void => {
    if (!path) return;
    writeFileSync(path, text);
    files[what] = path;
  };
  write('csv', target('rd.csv', opts.csvPath), rdCsv(res.rows));
  write('imagesCsv', target('rd-images.csv'), rdImagesCsv(res.perImage));
  write('plot', target('rd.svg', opts.plotPath), rdPlot(res.rows));
  write(
    'bdJson',
    target('bd-rate.json'),
    JSON.stringify(
      { bestAnchor: res.bd.bestAnchor, bestAnchorReason: res.bd.bestAnchorReason, entries: res.bd.entries.map(jsonBd) },
      null,
      2,
    ) + '\n',
  );
  write('bdMarkdown', target('bd-rate.md'), bdMarkdown(res) + '\n## RD table\n\n' + res.table);
  if (dir) files.cache = join(dir, CACHE_FILE);
  write(
    'summary',
    target('summary.json'),
    JSON.stringify(
      {
        annotations: opts.annotations,
        images: opts.images,
        evaluated: res.imageIds.length,
        skipped: res.skipped,
        categoryMapping: { by: res.mapping.by, unmatchedClasses: res.mapping.unmatched },
        seconds: +res.seconds.toFixed(1),
        backend: res.backend,
        rows: res.rows,
      },
      null,
      2,
    ) + '\n',
  );
  return files;
}

function jsonBd(e: BdEntry): object {
  const j = (r: BdResult) => ({
    value: Number.isFinite(r.value) ? r.value : null,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.range ? { range: r.range } : {}),
  });
  return {
    curve: e.curve,
    anchor: e.anchor,
    metric: e.metric,
    bdRateCubic: j(e.cubic),
    bdRatePchip: j(e.pchip),
    bdMetricCubic: j(e.bdMetric),
  };
}

/** SVG: mAP against bpp, one curve per method / anchor, the uncompressed detector as a dashed line. */
export function rdPlot(rows: RowSummary[]): string {
  const pts: RatePoint[] = rows
    .filter((r) => r.bpp !== null)
    .map((r) => ({ series: r.curve, label: r.kind === 'feature' ? basename(r.label) : r.label, bpp: r.bpp!, ap: r.stats.AP }));
  const ref = rows.find((r) => r.kind === 'reference');
  return renderRatePlot(pts, { title: 'Rate–accuracy: COCO box mAP vs bits per pixel', referenceAP: ref?.stats.AP });
}
