// Rate-accuracy evaluation over a COCO-format image set: for every image, the uncompressed reference detection
// and, per codec method, encode -> decode -> detect; then bpp per image (over the original image's H*W, for the
// whole container and for the entropy-coded strings alone), COCO box mAP per method, a CSV and an SVG plot.
//
// The detector and codec are reached only through an `EvalRunner`. Until the real pipeline is wired in (the
// `createDefaultEvalRunner` hook below), `runEvalPipeline` without `opts.runner` throws PipelineUnavailableError.
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { COCO, CocoFormatError, evaluateBoxes, STAT_NAMES, type CocoEvalResult, type CocoResult, type CocoStats } from './cocoeval.ts';
import { toCocoResults } from './coco-categories.ts';

// ---------------------------------------------------------------------------------------------------------------
// Runner interface (the hook for the real detector / codec)

/** A detector's output for one image: XYXY boxes in original-image pixels, scores, contiguous classes (0..79). */
export interface Detections {
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array | Uint8Array | Uint16Array | number[];
}

export interface EncodeDecodeResult {
  dets: Detections;
  /** size of the whole bitstream container, bytes */
  bytes: number;
  /** size of the entropy-coded strings alone (y and z strings), bytes */
  stringBytes: number;
}

export interface EvalRunner {
  /** uncompressed reference: the full detector on the image */
  detect(imagePath: string): Promise<Detections>;
  /** split detector with the stem features compressed by codec `method`, decoded and finished */
  encodeDecodeDetect(imagePath: string, method: number): Promise<EncodeDecodeResult>;
  /** optional clean-up (GPU device, browser) */
  close?(): Promise<void> | void;
}

export class PipelineUnavailableError extends Error {
  constructor(message = 'the detector/codec pipeline is not available yet') {
    super(message);
    this.name = 'PipelineUnavailableError';
  }
}

/**
 * THE hook for the real pipeline: return an EvalRunner backed by the WebGPU detector and the codec.
 * Returns null until it is wired (then `webvcm eval --images` reports PipelineUnavailableError).
 */
export async function createDefaultEvalRunner(): Promise<EvalRunner | null> {
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Options and results

export interface EvalPipelineOptions {
  /** COCO instances JSON file */
  annotations: string;
  /** folder holding the images named by `file_name` */
  images: string;
  /** codec methods to evaluate, e.g. [1, 2] */
  methods: number[];
  /** evaluate only the first N images (ascending image id) */
  limit?: number;
  /** write the CSV here */
  csv?: string;
  /** write the SVG rate-accuracy plot here */
  plot?: string;
  /** the detector/codec; default: createDefaultEvalRunner() */
  runner?: EvalRunner;
  /** progress display: 'auto' (bar on a TTY stderr, plain lines otherwise), 'bar', 'lines', 'none' */
  progress?: 'auto' | 'bar' | 'lines' | 'none';
  /** where progress goes (default process.stderr) */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface PerImageRate {
  method: number;
  imageId: number;
  fileName: string;
  height: number;
  width: number;
  bytes: number;
  stringBytes: number;
  /** bytes*8 / (H*W) of the original image */
  bpp: number;
  /** stringBytes*8 / (H*W) */
  stringsBpp: number;
}

export interface MethodSummary {
  /** codec method, or 'reference' for the uncompressed detector */
  method: number | 'reference';
  images: number;
  /** mean over images of the per-image bpp (null for the reference) */
  meanBpp: number | null;
  meanStringsBpp: number | null;
  stats: CocoStats;
  statsArray: number[];
  evaluation: CocoEvalResult;
  results: CocoResult[];
}

export interface EvalPipelineResult {
  imageIds: number[];
  perImage: PerImageRate[];
  /** reference first, then the methods in the order given */
  summaries: MethodSummary[];
  rows: EvalCsvRow[];
  table: string;
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

export type EvalCsvRow =
  | ({ kind: 'image' } & PerImageRate)
  | { kind: 'metrics'; method: number | 'reference'; images: number; meanBpp: number | null; meanStringsBpp: number | null; stats: CocoStats };

export const EVAL_CSV_COLUMNS = [
  'kind', 'method', 'image_id', 'file_name', 'height', 'width', 'bytes', 'string_bytes', 'bpp', 'strings_bpp', 'images',
  ...STAT_NAMES,
] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV (RFC 4180, header first): per-image rate rows (kind=image) and per-method metric rows (kind=metrics). */
export function writeEvalCsv(rows: EvalCsvRow[]): string {
  const lines = [EVAL_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const rec: Record<string, unknown> = { kind: r.kind, method: r.method };
    if (r.kind === 'image') {
      Object.assign(rec, {
        image_id: r.imageId, file_name: r.fileName, height: r.height, width: r.width, bytes: r.bytes,
        string_bytes: r.stringBytes, bpp: r.bpp, strings_bpp: r.stringsBpp,
      });
    } else {
      Object.assign(rec, { bpp: r.meanBpp, strings_bpp: r.meanStringsBpp, images: r.images });
      for (const n of STAT_NAMES) rec[n] = r.stats[n];
    }
    lines.push(EVAL_CSV_COLUMNS.map((c) => csvCell(rec[c])).join(','));
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// SVG rate-accuracy plot

export interface RatePoint {
  /** a line per series, e.g. 'container' or 'strings only' */
  series: string;
  /** point label, e.g. the method */
  label: string;
  bpp: number;
  /** AP as a fraction (plotted ×100) */
  ap: number;
}

export interface RatePlotOptions {
  title?: string;
  /** uncompressed reference AP (fraction), drawn as a dashed horizontal line */
  referenceAP?: number;
  width?: number;
  height?: number;
}

function xmlEsc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toFixed(10)));
  return out;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Hand-written SVG: mAP (AP@[.5:.95], %) against bits per pixel, one polyline per series. */
export function renderRatePlot(points: RatePoint[], opts: RatePlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 420;
  const m = { l: 64, r: 170, t: 40, b: 52 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const finite = points.filter((p) => Number.isFinite(p.bpp) && Number.isFinite(p.ap) && p.ap >= 0); // -1 = undefined AP
  const xs = finite.map((p) => p.bpp);
  const ys = finite.map((p) => p.ap * 100);
  const ref = opts.referenceAP !== undefined && Number.isFinite(opts.referenceAP) && opts.referenceAP >= 0 ? opts.referenceAP : undefined;
  if (ref !== undefined) ys.push(ref * 100);
  const xt = niceTicks(Math.min(0, ...xs), xs.length ? Math.max(...xs) : 1);
  const yt = niceTicks(ys.length ? Math.max(0, Math.min(...ys) - 5) : 0, ys.length ? Math.max(...ys) : 1);
  const x0 = xt[0]!, x1 = xt[xt.length - 1]!, y0 = yt[0]!, y1 = yt[yt.length - 1]!;
  const X = (v: number): number => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number): number => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${xmlEsc(opts.title ?? 'Rate-accuracy: COCO box mAP vs bits per pixel')}</text>`);
  // grid and ticks
  for (const v of xt) {
    parts.push(`<line x1="${f(X(v))}" y1="${m.t}" x2="${f(X(v))}" y2="${m.t + ph}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${f(X(v))}" y="${m.t + ph + 16}" text-anchor="middle">${v}</text>`);
  }
  for (const v of yt) {
    parts.push(`<line x1="${m.l}" y1="${f(Y(v))}" x2="${m.l + pw}" y2="${f(Y(v))}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(Y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">bits per pixel (original image)</text>`);
  parts.push(`<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">mAP AP@[.5:.95] (%)</text>`);
  let legendY = m.t + 10;
  if (ref !== undefined) {
    const yr = f(Y(ref * 100));
    parts.push(`<line class="reference" x1="${m.l}" y1="${yr}" x2="${m.l + pw}" y2="${yr}" stroke="#555" stroke-dasharray="6 4"/>`);
    parts.push(`<line x1="${m.l + pw + 12}" y1="${legendY}" x2="${m.l + pw + 36}" y2="${legendY}" stroke="#555" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${m.l + pw + 42}" y="${legendY + 4}">uncompressed ${(ref * 100).toFixed(2)}</text>`);
    legendY += 20;
  }
  const series = [...new Set(finite.map((p) => p.series))];
  series.forEach((name, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = finite.filter((p) => p.series === name).sort((a, b) => a.bpp - b.bpp);
    parts.push(`<g class="series" data-series="${xmlEsc(name)}">`);
    if (pts.length > 1) {
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${f(X(p.bpp))},${f(Y(p.ap * 100))}`).join(' ')}"/>`);
    }
    for (const p of pts) {
      parts.push(`<circle cx="${f(X(p.bpp))}" cy="${f(Y(p.ap * 100))}" r="4" fill="${color}"><title>${xmlEsc(`${name} ${p.label}: ${p.bpp.toFixed(4)} bpp, AP ${(p.ap * 100).toFixed(2)}`)}</title></circle>`);
      parts.push(`<text x="${f(X(p.bpp) + 6)}" y="${f(Y(p.ap * 100) - 6)}" font-size="10" fill="${color}">${xmlEsc(p.label)}</text>`);
    }
    parts.push('</g>');
    parts.push(`<line x1="${m.l + pw + 12}" y1="${legendY}" x2="${m.l + pw + 36}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${m.l + pw + 42}" y="${legendY + 4}">${xmlEsc(name)}</text>`);
    legendY += 20;
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Metric table

/** A fixed-width table: method, mean bpp (container / strings), the 12 COCO stats ×100. */
export function formatMetricTable(summaries: Pick<MethodSummary, 'method' | 'images' | 'meanBpp' | 'meanStringsBpp' | 'stats'>[]): string {
  const head = ['method', 'images', 'bpp', 'bpp(str)', ...STAT_NAMES];
  const rows = summaries.map((s) => [
    String(s.method),
    String(s.images),
    s.meanBpp === null ? '-' : s.meanBpp.toFixed(4),
    s.meanStringsBpp === null ? '-' : s.meanStringsBpp.toFixed(4),
    ...STAT_NAMES.map((n) => (s.stats[n] < 0 ? 'n/a' : (s.stats[n] * 100).toFixed(2))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line), '(AP/AR in %, COCO bbox, pycocotools semantics; bpp over the original image)'].join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Progress

interface Progress {
  tick(what: string): void;
  stop(): void;
}

function makeProgress(total: number, mode: EvalPipelineOptions['progress'], stream: NodeJS.WritableStream & { isTTY?: boolean }): Progress {
  const m = mode ?? 'auto';
  if (m === 'none') return { tick() {}, stop() {} };
  if (m === 'bar' || (m === 'auto' && stream.isTTY)) {
    const bar = new cliProgress.SingleBar(
      { stream, format: 'eval [{bar}] {value}/{total} | {what}', hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { what: '' });
    return { tick: (what) => bar.increment(1, { what }), stop: () => bar.stop() };
  }
  let n = 0;
  return { tick: (what) => stream.write(`eval: [${++n}/${total}] ${what}\n`), stop() {} };
}

// ---------------------------------------------------------------------------------------------------------------
// The pipeline

function detsToResults(imageId: number, d: Detections, what: string): CocoResult[] {
  if (!(d.boxes instanceof Float32Array) || !(d.scores instanceof Float32Array)) {
    throw new TypeError(`${what}: runner must return Float32Array boxes and scores`);
  }
  return toCocoResults(imageId, d.boxes, d.scores, d.classes);
}

export async function runEvalPipeline(opts: EvalPipelineOptions): Promise<EvalPipelineResult> {
  const runner = opts.runner ?? (await createDefaultEvalRunner());
  if (!runner) throw new PipelineUnavailableError();
  if (!opts.methods.length || !opts.methods.every((m) => Number.isInteger(m))) {
    throw new RangeError(`methods must be a non-empty list of integers, got ${JSON.stringify(opts.methods)}`);
  }
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit > 0)) {
    throw new RangeError(`limit must be a positive integer, got ${opts.limit}`);
  }
  let gtJson: unknown;
  try {
    gtJson = JSON.parse(readFileSync(opts.annotations, 'utf8'));
  } catch (e) {
    throw new CocoFormatError(`cannot read annotations ${opts.annotations}: ${(e as Error).message}`);
  }
  const coco = COCO.fromGroundTruth(gtJson);
  let imageIds = coco.getImgIds().sort((a, b) => a - b);
  if (opts.limit !== undefined) imageIds = imageIds.slice(0, opts.limit);
  const images = imageIds.map((id) => {
    const im = coco.images.get(id)!;
    const { width, height, file_name: fileName } = im;
    if (typeof fileName !== 'string' || !fileName) throw new CocoFormatError(`image ${id}: missing "file_name"`);
    if (!(Number.isInteger(width) && width! > 0 && Number.isInteger(height) && height! > 0)) {
      throw new CocoFormatError(`image ${id}: "width" and "height" must be positive integers (needed for bpp)`);
    }
    return { id, fileName, width: width!, height: height!, path: resolve(join(opts.images, fileName)) };
  });
  const missing = images.filter((im) => !existsSync(im.path));
  if (missing.length) {
    throw new Error(`${missing.length} image file(s) not found under ${opts.images}: ${missing.slice(0, 5).map((m) => m.fileName).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
  }

  const refResults: CocoResult[] = [];
  const methodResults = new Map<number, CocoResult[]>(opts.methods.map((m) => [m, []]));
  const perImage: PerImageRate[] = [];
  const progress = makeProgress(images.length * (1 + opts.methods.length), opts.progress, opts.progressStream ?? process.stderr);
  try {
    for (const im of images) {
      refResults.push(...detsToResults(im.id, await runner.detect(im.path), `detect(${im.fileName})`));
      progress.tick(`${im.fileName} reference`);
      for (const method of opts.methods) {
        const r = await runner.encodeDecodeDetect(im.path, method);
        if (!Number.isFinite(r.bytes) || r.bytes < 0 || !Number.isFinite(r.stringBytes) || r.stringBytes < 0) {
          throw new RangeError(`encodeDecodeDetect(${im.fileName}, ${method}): invalid byte counts ${r.bytes}/${r.stringBytes}`);
        }
        methodResults.get(method)!.push(...detsToResults(im.id, r.dets, `encodeDecodeDetect(${im.fileName}, ${method})`));
        const px = im.width * im.height;
        perImage.push({
          method, imageId: im.id, fileName: im.fileName, height: im.height, width: im.width, bytes: r.bytes,
          stringBytes: r.stringBytes, bpp: (r.bytes * 8) / px, stringsBpp: (r.stringBytes * 8) / px,
        });
        progress.tick(`${im.fileName} method ${method}`);
      }
    }
  } finally {
    progress.stop();
    await runner.close?.();
  }

  const summarize = (method: number | 'reference', results: CocoResult[]): MethodSummary => {
    const evaluation = evaluateBoxes(coco, results, { imgIds: imageIds });
    const rates = perImage.filter((r) => r.method === method);
    const mean = (xs: number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
    return {
      method, images: imageIds.length,
      meanBpp: method === 'reference' ? null : mean(rates.map((r) => r.bpp)),
      meanStringsBpp: method === 'reference' ? null : mean(rates.map((r) => r.stringsBpp)),
      stats: evaluation.stats, statsArray: evaluation.statsArray, evaluation, results,
    };
  };
  const summaries = [summarize('reference', refResults), ...opts.methods.map((m) => summarize(m, methodResults.get(m)!))];
  const rows: EvalCsvRow[] = [
    ...perImage.map((r) => ({ kind: 'image' as const, ...r })),
    ...summaries.map((s) => ({ kind: 'metrics' as const, method: s.method, images: s.images, meanBpp: s.meanBpp, meanStringsBpp: s.meanStringsBpp, stats: s.stats })),
  ];
  if (opts.csv) writeFileSync(opts.csv, writeEvalCsv(rows));
  if (opts.plot) {
    const pts: RatePoint[] = [];
    for (const s of summaries) {
      if (s.method === 'reference') continue;
      pts.push({ series: 'container', label: `m${s.method}`, bpp: s.meanBpp!, ap: s.stats.AP });
      pts.push({ series: 'strings only', label: `m${s.method}`, bpp: s.meanStringsBpp!, ap: s.stats.AP });
    }
    writeFileSync(opts.plot, renderRatePlot(pts, { referenceAP: summaries[0]!.stats.AP }));
  }
  return { imageIds, perImage, summaries, rows, table: formatMetricTable(summaries) };
}
