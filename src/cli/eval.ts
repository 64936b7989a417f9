// `webvcm eval`: COCO box mAP.
//   scoring mode:  webvcm eval --annotations instances.json --detections results.json [--json]
//   full mode:     webvcm eval --annotations instances.json --images <dir> [--method 1,2] [--limit N]
//                              [--csv out.csv] [--plot out.svg] [--json]
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CocoFormatError, evaluateBoxes } from '../eval/cocoeval.ts';
import { runEvalPipeline } from '../eval/pipeline.ts';

export class EvalUsageError extends Error {
  constructor(message: string) {
    super(message);
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

function parseMethods(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const out = parts.map(Number);
  if (!out.length || !out.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new InvalidArgumentError('expected a comma-separated list of non-negative integers, e.g. 1,2');
  }
  return out;
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

interface EvalCliOptions {
  annotations: string;
  detections?: string;
  images?: string;
  method: number[];
  limit?: number;
  csv?: string;
  plot?: string;
  json?: boolean;
  detector?: string;
  codec?: string;
  mode: string;
  minSize?: number;
  maxSize?: number;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description(
      'COCO box mAP (pycocotools semantics). With --detections: score an existing COCO results file. ' +
        'With --images: run the uncompressed detector and encode/decode/detect per codec method, report bpp and mAP.',
    )
    .requiredOption('--annotations <file>', 'COCO instances JSON (ground truth)')
    .option('--detections <file>', 'COCO results JSON to score (scoring mode)')
    .option('--images <dir>', 'image folder for the full detector/codec evaluation')
    .addOption(new Option('--method <list>', 'codec methods to evaluate in full mode, comma separated').argParser(parseMethods).default([1], '1'))
    .option('--limit <n>', 'full mode: only the first N images (ascending id)', parseLimit)
    .option('--csv <file>', 'full mode: write per-image bpp and per-method metrics as CSV')
    .option('--plot <file>', 'full mode: write an SVG rate-accuracy plot')
    .option('--json', 'print JSON to stdout instead of a table')
    .option('--detector <ckpt>', 'full mode: detector checkpoint (default: bundled weights/default)')
    .option('--codec <ckpt>', 'full mode: codec checkpoint (default: bundled weights/default)')
    .option('--mode <mode>', 'full mode: codec mode, compat | portable', 'compat')
    .option('--min-size <n>', 'full mode: detector short side', parseLimit)
    .option('--max-size <n>', 'full mode: detector long-side cap', parseLimit)
    .action(async (opts: EvalCliOptions) => {
      if (opts.detections && opts.images) throw new EvalUsageError('give either --detections (scoring mode) or --images (full mode), not both');
      if (!opts.detections && !opts.images) throw new EvalUsageError('give --detections <results.json> to score a results file, or --images <dir> to run the pipeline');
      if (opts.detections) {
        const fullOnly = (['limit', 'csv', 'plot'] as const).filter((k) => opts[k] !== undefined);
        if (fullOnly.length) throw new EvalUsageError(`--${fullOnly.join(', --')} only apply with --images`);
        const gt = readJson(opts.annotations, 'annotations');
        const dets = readJson(opts.detections, 'detections');
        const r = evaluateBoxes(gt, dets);
        if (opts.json) process.stdout.write(JSON.stringify({ stats: r.stats }) + '\n');
        else process.stdout.write(r.summaryLines.join('\n') + '\n');
        return;
      }
      if (opts.mode !== 'compat' && opts.mode !== 'portable') throw new EvalUsageError(`--mode must be compat or portable, got '${opts.mode}'`);
      const { createEvalRunner } = await import('../eval/runner.ts');
      const { DEFAULT_CODEC, DEFAULT_DETECTOR } = await import('./defaults.ts');
      const runner = await createEvalRunner({
        detector: opts.detector ?? DEFAULT_DETECTOR, codec: opts.codec ?? DEFAULT_CODEC, mode: opts.mode as 'compat' | 'portable', minSize: opts.minSize, maxSize: opts.maxSize,
      });
      const res = await runEvalPipeline({
        annotations: opts.annotations,
        images: opts.images!,
        methods: opts.method,
        limit: opts.limit,
        csv: opts.csv ?? 'webvcm-eval.csv',
        plot: opts.plot ?? 'webvcm-eval.svg',
        runner,
      });
      if (opts.json) {
        const out = res.summaries.map((s) => ({ method: s.method, images: s.images, bpp: s.meanBpp, stringsBpp: s.meanStringsBpp, stats: s.stats }));
        process.stdout.write(JSON.stringify({ results: out }) + '\n');
      } else {
        process.stdout.write(res.table);
      }
    });
}
