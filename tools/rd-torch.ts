/**
 * The rate–accuracy experiment of `webvcm eval` (full mode) with the PyTorch reference runner: the same driver
 * (src/eval/experiment.ts: rows, --resume cache, COCO scoring, BD-rates, CSV/SVG/markdown) and the same anchors, but
 * the detector and the feature codecs run in a PyTorch child process (tools/train/rd_worker.py) — about 30× faster
 * than WGSL on a software Vulkan driver. Development tool; docs/eval.md ("Running the experiment with the PyTorch
 * reference runner").
 *
 *   COMPRESSAI_SRC=/path/to/compressai-src npx tsx tools/rd-torch.ts --python /usr/bin/python3 \
 *     --annotations artifacts/world-val/instances.json --images artifacts/world-val \
 *     --detector weights/default/detector.safetensors --codec codec-vbr.pth.tar --method 1,2 \
 *     --anchors jpeg,webp,avif,hevc --out artifacts/eval-val --progress lines
 */
import { Command } from 'commander';
import { checkFullEval, parseLimit, runFullEval, type FullEvalOptions } from '../src/cli/eval.ts';
import { createTorchRunner } from './rd-torch-runner.ts';

interface Options extends FullEvalOptions {
  detector: string;
  codec: string[];
  threads: number;
  minSize?: number;
  maxSize?: number;
  python?: string;
}

const program = new Command('rd-torch')
  .description("webvcm eval's rate–accuracy experiment with the detector and the feature codecs in PyTorch (tools/train/rd_worker.py)")
  .requiredOption('--annotations <file>', 'COCO instances JSON (ground truth)')
  .requiredOption('--images <dir>', 'image folder')
  .requiredOption('--detector <ckpt>', 'a training checkpoint (final.pt / last.pt, tools/train) or a webvcm detector .safetensors')
  .requiredOption(
    '--codec <ckpt>',
    'CompressAI .pth.tar: bmshj2018-hyperprior (one rate point) or -vbr (one per level); comma separated or repeated',
    (v: string, prev: string[]) => [...prev, ...v.split(',').filter(Boolean)],
    [],
  )
  .option('--method <list>', 'codec methods, comma separated (1, 2)', '1,2')
  .option('--anchors <list>', 'image-codec anchors: jpeg, webp, avif, hevc, comma separated, or none', 'none')
  .option('--anchor-q <list>', 'anchor qualities, e.g. 5,10,20 or jpeg=5,10;webp=5 (default per codec, docs/eval.md)')
  .option('--limit <n>', 'only the first N images (ascending id)', parseLimit)
  .option('--out <dir>', 'output folder (rd.csv, rd-images.csv, rd.svg, bd-rate.*, summary.json, detections.jsonl)', 'artifacts/eval-torch')
  .option('--resume', 'reuse <out>/detections.jsonl of an interrupted run with the same settings')
  .option('--progress <how>', 'auto | bar | lines | none', 'auto')
  .option('--on-error <what>', 'an unreadable or failing image: fail or skip', 'fail')
  .option('--threads <n>', 'torch threads in the worker', parseLimit, 1)
  .option('--min-size <n>', 'detector short side (default: the .safetensors input size)', parseLimit)
  .option('--max-size <n>', 'detector long-side cap', parseLimit)
  .option('--python <exe>', 'the Python with torch (default: $PYTHON or python3)')
  .option('--json', 'print JSON to stdout instead of a table');

async function main(opts: Options): Promise<void> {
  const { methods, anchors } = await checkFullEval(opts, opts.detector, opts.codec);
  const runner = await createTorchRunner({
    detector: opts.detector,
    codecs: opts.codec,
    minSize: opts.minSize,
    maxSize: opts.maxSize,
    python: opts.python,
    threads: opts.threads,
  });
  await runFullEval(opts, runner, methods, anchors, opts.codec, 'rd-torch');
}

program.action((opts: Options) =>
  main(opts).catch((e: Error) => {
    process.stderr.write(`rd-torch: ${e.name}: ${e.message}\n`);
    process.exitCode = 1;
  }),
);
await program.parseAsync(process.argv);
