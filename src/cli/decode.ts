// `webvcm decode <file.vcm> -o <dets.json> [--detector <ckpt>] [--codec <ckpt>] [--coco] [--features <x.npy>]`
// Receiver side: container → features → res2…ROI heads → detections (the detections JSON, as `webvcm detect` and the server).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createDecoder } from '../api/index.ts';
import { toCocoResults } from '../eval/coco-categories.ts';
import { writeNpy } from '../io/npy.ts';
import { checkpointOptions, modelOptions, nonNegInt, posInt, runtimeOptions, type ModelCliOptions } from './defaults.ts';
import { formatDetectionList, imageIdFromName } from './detect.ts';
import { detectionsToJson } from '../api/detections-json.ts';
import { formatTimedRuns, timedRuns } from './timings.ts';

export function register(program: Command): void {
  const cmd = checkpointOptions(
    program
      .command('decode')
      .description('decode a .vcm feature bitstream and finish detection')
      .argument('<file>', '.vcm file')
      .requiredOption('-o, --output <file>', 'detections JSON to write'),
  )
    .option('--min-size <n>', 'accepted for symmetry with encode/detect (sizes travel in the stream)', posInt)
    .option('--max-size <n>', 'accepted for symmetry with encode/detect (sizes travel in the stream)', posInt);
  runtimeOptions(cmd, { codec: true })
    .option('--coco', 'write the COCO results list instead of boxes/scores/classes')
    .option('--image-id <n>', 'image_id for --coco (default: digits of the file name, else 0)', nonNegInt)
    .option('--json', 'print the summary as JSON')
    .option('--features <file>', 'also write the decoded feature map F̂ as float32 NCHW .npy')
    .option('--warmup', "compile every GPU pipeline for this stream's sizes before the timed decode (timed separately)")
    .option('--runs <n>', 'decode n times; the first and the last (warm) run are timed separately', posInt)
    .action(
      async (
        file: string,
        o: ModelCliOptions & {
          output: string;
          coco?: boolean;
          imageId?: number;
          json?: boolean;
          features?: string;
          warmup?: boolean;
          runs?: number;
        },
      ) => {
        const bytes = new Uint8Array(readFileSync(file));
        const dec = await createDecoder(modelOptions(o));
        try {
          const timed = await timedRuns(
            () => dec.decode(bytes, { returnFeatures: !!o.features }),
            o.runs ?? 1,
            o.warmup ? () => dec.warmup({ stream: bytes }) : undefined,
          );
          const r = timed.first;
          const d = r.detections;
          const json = o.coco
            ? toCocoResults(o.imageId ?? imageIdFromName(file.replace(/\.vcm$/, '.png')), d.boxes, d.scores, d.classes)
            : detectionsToJson(d, dec.classNames, r.sizes);
          writeFileSync(o.output, JSON.stringify(json) + '\n');
          if (o.features && r.features) writeFileSync(o.features, writeNpy(r.features.data, [1, ...r.features.shape]));
          if (o.json) {
            process.stdout.write(
              JSON.stringify(
                {
                  output: o.output,
                  detections: d.scores.length,
                  sizes: r.sizes,
                  backend: dec.backend,
                  threads: dec.threads,
                  coco: !!o.coco,
                  ...(o.features ? { features: o.features } : {}),
                  timingsMs: r.timings,
                  ...timed.summary,
                },
                null,
                2,
              ) + '\n',
            );
          } else {
            process.stdout.write(
              `wrote ${o.output}: ${d.scores.length} detections (image ${r.sizes.original.join('x')}, backend ${dec.backend}${dec.threads ? `, ${dec.threads} threads` : ''})\n`,
            );
            process.stdout.write(formatDetectionList(d, dec.classNames, o.output));
            process.stdout.write(formatTimedRuns(timed));
          }
        } finally {
          dec.dispose();
        }
      },
    );
}
