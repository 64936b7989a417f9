// `webvcm detect`: Detectron2 Faster R-CNN R50-FPN on WebGPU.
//   webvcm detect --weights <ckpt> --input <image.png|.jpg|bgr.npy> [--min-size N] [--max-size N] [--method2]
//                 --output <dets.json> [--coco] [--image-id N] [--dump <dir>] [--adapter auto|lavapipe|swiftshader|system]
// JSON: { boxes: [[x1,y1,x2,y2]...] (original pixels), scores, classes (0..79), sizes } or, with --coco, the COCO
// results list ([x,y,w,h], COCO category ids). --dump writes intermediates as float32 .npy under the golden names.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { toCocoResults } from '../eval/coco-categories.ts';
import { writeNpy } from '../io/npy.ts';
import { GpuContext } from '../gpu/context.ts';
import type { AdapterChoice } from '../gpu/device.ts';
import { createGpuDetectorBackend } from '../gpu/detector-backend.ts';
import { Detector, type DumpFn } from '../model/detector/detector.ts';
import { bgrFromFileBytes } from '../model/detector/io.ts';
import type { Detections } from '../model/detector/types.ts';
import { loadDetectorWeights } from '../model/weights/index.ts';
import { DEFAULT_DETECTOR, posInt } from './defaults.ts';

export class DetectUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectUsageError';
  }
}

interface DetectCliOptions {
  weights?: string;
  detector?: string;
  input: string;
  output: string;
  minSize?: number;
  maxSize?: number;
  method2?: boolean;
  coco?: boolean;
  imageId?: number;
  dump?: string;
  adapter: string;
}

function nonNegInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** Plain JSON form of detections; `labels[i]` is the name of `classes[i]` (the detector's class names). */
export function detectionsToJson(d: Detections, classNames?: readonly string[]): { boxes: number[][]; scores: number[]; classes: number[]; labels?: string[] } {
  const n = d.scores.length;
  const boxes: number[][] = [];
  for (let i = 0; i < n; i++) boxes.push(Array.from(d.boxes.subarray(4 * i, 4 * i + 4)));
  const classes = Array.from(d.classes);
  return { boxes, scores: Array.from(d.scores), classes, ...(classNames ? { labels: classes.map((k) => classNames[k] ?? `class_${k}`) } : {}) };
}

/** COCO image id from a file name like 000000397133.jpg (digits only), else 0. */
export function imageIdFromName(path: string): number {
  const m = /^(\d+)\.[A-Za-z0-9]+$/.exec(basename(path));
  return m ? Number(m[1]) : 0;
}

export function register(program: Command): void {
  program
    .command('detect')
    .description('run Detectron2 Faster R-CNN R50-FPN on an image (PNG/JPEG, or H×W×3 uint8 BGR .npy) on WebGPU')
    .option('--weights <ckpt>', 'detector checkpoint (model-zoo .pkl, torch .pth, or converted .safetensors); default: bundled')
    .option('--detector <ckpt>', 'the same as --weights (the name encode/decode use)')
    .requiredOption('--input <file>', 'PNG/JPEG image, or raw H×W×3 uint8 BGR .npy')
    .requiredOption('--output <file>', 'detections JSON to write')
    .option('--min-size <n>', 'short side after resizing (INPUT.MIN_SIZE_TEST)', posInt)
    .option('--max-size <n>', 'long-side cap (INPUT.MAX_SIZE_TEST)', posInt)
    .option('--method2', 'resize each side to the nearest multiple of 256 (no padding)')
    .option('--coco', 'write the COCO results list ([x,y,w,h], category ids) instead of boxes/scores/classes')
    .option('--image-id <n>', 'image_id for --coco (default: digits of the file name, else 0)', nonNegInt)
    .option('--dump <dir>', 'write intermediates as float32 .npy (golden manifest names)')
    .option('--adapter <name>', 'auto | lavapipe | swiftshader | system', 'auto')
    .action(async (opts: DetectCliOptions) => {
      let inputBytes: Uint8Array;
      try {
        inputBytes = new Uint8Array(readFileSync(opts.input));
      } catch (e) {
        throw new DetectUsageError(`cannot read input ${opts.input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const image = bgrFromFileBytes(inputBytes, opts.input);
      if (opts.weights && opts.detector && opts.weights !== opts.detector) throw new DetectUsageError('give --weights or --detector, not both');
      const weights = await loadDetectorWeights(opts.weights ?? opts.detector ?? DEFAULT_DETECTOR);
      const ctx = await GpuContext.create({ adapter: opts.adapter as AdapterChoice });
      try {
        const ops = createGpuDetectorBackend(ctx);
        const det = await Detector.create(weights, ops, {
          ...(weights.inputSize ?? {}),
          ...(opts.minSize !== undefined ? { minSize: opts.minSize } : {}),
          ...(opts.maxSize !== undefined ? { maxSize: opts.maxSize } : {}),
          method2: !!opts.method2,
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
          ? toCocoResults(opts.imageId ?? imageIdFromName(opts.input), detections.boxes, detections.scores, detections.classes)
          : { ...detectionsToJson(detections, det.classNames), sizes };
        writeFileSync(opts.output, JSON.stringify(out));
        process.stdout.write(`${detections.scores.length} detections (${sizes.original.join('x')} → ${sizes.resized.join('x')}, input ${sizes.padded.join('x')}) → ${opts.output}\n`);
      } finally {
        ctx.dispose();
      }
    });
}
