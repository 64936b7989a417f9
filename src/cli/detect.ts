// `webvcm detect`: Detectron2 Faster R-CNN R50-FPN on an uncompressed image, on WebGPU or the wasm backend (--backend, as decode).
//   webvcm detect <image.png|.jpg|bgr.npy> -o <dets.json> [--detector <ckpt>] [--min-size N] [--max-size N] [--method 1|2]
//                 [--precision f32|f16] [--coco] [--image-id N] [--json] [--dump <dir>] [--adapter auto|lavapipe|swiftshader|system]
//                 [--backend auto|webgpu|wasm] [--threads N]
// The same conventions as `encode` and `decode`: the image is the positional argument (--input still accepted), -o/--output,
// the bundled detector (weights/default) when none is given (--detector, or its older name --weights), the summary on
// stdout (--json: as JSON), errors on stderr. JSON file: the detections JSON (docs/detections-json.md) — the same as
// `decode` writes — or, with --coco, the COCO results list ([x,y,w,h], COCO category ids).
// --dump writes intermediates as float32 .npy under the golden names.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { toCocoResults } from '../eval/coco-categories.ts';
import { writeNpy } from '../io/npy.ts';
import { classLabel, detectionsToJson } from '../api/detections-json.ts';
import { createRuntime } from '../api/runtime.ts';
import { Detector, type DumpFn } from '../model/detector/detector.ts';
import { bgrFromFileBytes } from '../io/image-file.ts';
import type { Detections } from '../model/detector/types.ts';
import { loadDetectorWeights } from '../model/weights/index.ts';
import { DEFAULT_DETECTOR, UsageError, nonNegInt, posInt, runtimeOptions, type RuntimeCliOptions } from './defaults.ts';

/** Bad `detect` usage (a UsageError, as the other sub-commands throw). */
export class DetectUsageError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'DetectUsageError';
  }
}

interface DetectCliOptions extends RuntimeCliOptions {
  weights?: string;
  detector?: string;
  input?: string;
  output: string;
  minSize?: number;
  maxSize?: number;
  method?: string;
  method2?: boolean;
  json?: boolean;
  coco?: boolean;
  imageId?: number;
  dump?: string;
}

/** The first `max` detections, one line each (name, score, box), as `decode` lists them; "… N more in <file>" after. */
export function formatDetectionList(d: Detections, names: readonly string[], file: string, max = 10): string {
  let s = '';
  for (let i = 0; i < Math.min(d.scores.length, max); i++) {
    const b = Array.from(d.boxes.subarray(4 * i, 4 * i + 4), (v) => v.toFixed(1)).join(', ');
    s += `  ${classLabel(names, d.classes[i]!).padEnd(14)} ${d.scores[i]!.toFixed(3)}  [${b}]\n`;
  }
  if (d.scores.length > max) s += `  … ${d.scores.length - max} more in ${file}\n`;
  return s;
}

/** COCO image id from a file name like 000000397133.jpg (digits only), else 0. */
export function imageIdFromName(path: string): number {
  const m = /^(\d+)\.[A-Za-z0-9]+$/.exec(basename(path));
  return m ? Number(m[1]) : 0;
}

export function register(program: Command): void {
  const command = program
    .command('detect')
    .description('run Detectron2 Faster R-CNN R50-FPN on an image (PNG/JPEG, or H×W×3 uint8 BGR .npy) on WebGPU or wasm')
    .argument('[image]', 'input image (PNG/JPEG, or raw H×W×3 uint8 BGR .npy)')
    .requiredOption('-o, --output <file>', 'detections JSON to write')
    .option('--detector <ckpt>', 'detector checkpoint (model-zoo .pkl, torch .pth, or converted .safetensors); default: bundled')
    .option('--weights <ckpt>', 'the same as --detector (older name)')
    .option('--input <file>', 'the same as the image argument (older form)')
    .option('--min-size <n>', 'short side after resizing (INPUT.MIN_SIZE_TEST)', posInt)
    .option('--max-size <n>', 'long-side cap (INPUT.MAX_SIZE_TEST)', posInt)
    .option(
      '--method <n>',
      "1: Detectron2's resize and padding; 2: resize each side to the nearest multiple of 256 (as encode --method 2)",
      '1',
    )
    .option('--method2', 'the same as --method 2 (older form)');
  runtimeOptions(command, { codec: false })
    .option('--coco', 'write the COCO results list ([x,y,w,h], category ids) instead of boxes/scores/classes')
    .option('--image-id <n>', 'image_id for --coco (default: digits of the file name, else 0)', nonNegInt)
    .option('--json', 'print the summary as JSON')
    .option('--dump <dir>', 'write intermediates as float32 .npy (golden manifest names)')
    .action(async (imageArg: string | undefined, opts: DetectCliOptions, cmd: Command) => {
      if (imageArg !== undefined && opts.input !== undefined && imageArg !== opts.input)
        throw new DetectUsageError('give the image once: as the argument or with --input, not both');
      const input = imageArg ?? opts.input;
      if (input === undefined) throw new DetectUsageError('missing the input image: webvcm detect <image> -o <dets.json>');
      if (opts.method !== '1' && opts.method !== '2') throw new DetectUsageError(`--method must be 1 or 2, got '${opts.method}'`);
      if (opts.method2 && opts.method === '1' && cmd.getOptionValueSource('method') === 'cli')
        throw new DetectUsageError('--method 1 and --method2 contradict each other');
      const method2 = opts.method === '2' || !!opts.method2;
      let inputBytes: Uint8Array;
      try {
        inputBytes = new Uint8Array(readFileSync(input));
      } catch (e) {
        throw new DetectUsageError(`cannot read input ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const image = bgrFromFileBytes(inputBytes, input);
      if (opts.weights && opts.detector && opts.weights !== opts.detector)
        throw new DetectUsageError('give --detector or --weights (the same option), not both');
      const weights = await loadDetectorWeights(opts.weights ?? opts.detector ?? DEFAULT_DETECTOR);
      // the backend as decode chooses it (the decoder's role: the trunk and heads are most of a detection)
      const runtime = await createRuntime({ adapter: opts.adapter, backend: opts.backend, threads: opts.threads });
      try {
        const ops = runtime.detectorBackend(opts.precision);
        const det = await Detector.create(weights, ops, {
          ...(weights.inputSize ?? {}),
          ...(opts.minSize !== undefined ? { minSize: opts.minSize } : {}),
          ...(opts.maxSize !== undefined ? { maxSize: opts.maxSize } : {}),
          method2,
        });
        let dump: DumpFn | undefined;
        if (opts.dump) {
          const dir = opts.dump;
          mkdirSync(dir, { recursive: true });
          dump = (name, data, shape) => {
            writeFileSync(join(dir, `${name}.npy`), writeNpy(data, shape, data instanceof Int32Array ? '<i4' : '<f4'));
          };
        }
        const { detections, sizes } = await det.detect(image, { dump });
        if (dump) {
          const n = detections.scores.length;
          await dump('detections_boxes', detections.boxes, [n, 4]);
          await dump('detections_scores', detections.scores, [n]);
          await dump('detections_classes', detections.classes, [n]);
        }
        det.dispose();
        const out = opts.coco
          ? toCocoResults(opts.imageId ?? imageIdFromName(input), detections.boxes, detections.scores, detections.classes)
          : detectionsToJson(detections, det.classNames, sizes);
        writeFileSync(opts.output, JSON.stringify(out) + '\n');
        const names = det.classNames;
        if (opts.json) {
          process.stdout.write(
            JSON.stringify(
              {
                output: opts.output,
                detections: detections.scores.length,
                sizes,
                method: method2 ? 2 : 1,
                precision: opts.precision,
                backend: runtime.backend,
                threads: runtime.threads,
                coco: !!opts.coco,
              },
              null,
              2,
            ) + '\n',
          );
        } else {
          process.stdout.write(
            `wrote ${opts.output}: ${detections.scores.length} detections (image ${sizes.original.join('x')} -> ${sizes.resized.join('x')}, input ${sizes.padded.join('x')}, backend ${runtime.backend}${runtime.threads ? `, ${runtime.threads} threads` : ''})\n`,
          );
          process.stdout.write(formatDetectionList(detections, names, opts.output));
        }
      } finally {
        runtime.dispose();
      }
    });
}
