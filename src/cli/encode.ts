// `webvcm encode <image> -o <file.vcm> [--method 1|2] [--mode compat|portable] [--detector <ckpt>] [--codec <ckpt>]
//   [--level S | --scale G | --target-bpp B]` (the rate options need a variable-rate codec)
// Client side: image → stem → 8-bit features → hyperprior codec → container.
import { readFileSync, writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { createEncoder } from '../api/index.ts';
import { bgrFromFileBytes } from '../io/image-file.ts';
import { createRemoteDecoder } from '../client/remote.ts';
import { UsageError, checkpointOptions, modelOptions, posInt, runtimeOptions, type ModelCliOptions } from './defaults.ts';
import { formatTimedRuns, timedRuns } from './timings.ts';
import { positiveArg, rateOptions } from './codec.ts';

export function register(program: Command): void {
  const cmd = checkpointOptions(
    program
      .command('encode')
      .description('encode an image (PNG/JPEG, or H×W×3 uint8 BGR .npy) into a .vcm feature bitstream')
      .argument('<image>', 'input image')
      .option('-o, --output <file>', '.vcm file to write (required unless --send)')
      .option('--method <n>', '1: pad features to multiples of 64; 2: resize the image to multiples of 256', '1')
      .option('--mode <mode>', 'compat | portable', 'compat'),
  )
    .option('--min-size <n>', 'short side after resizing', posInt)
    .option('--max-size <n>', 'long-side cap', posInt);
  runtimeOptions(cmd, { codec: true })
    .option('--json', 'print the result as JSON')
    .option('--warmup', 'compile every GPU pipeline for this image size before the timed encode (timed separately)')
    .option('--runs <n>', 'encode n times; the first and the last (warm) run are timed separately', posInt)
    .option('--send <url>', 'also send the stream to a `webvcm serve` server (e.g. http://127.0.0.1:8787) and print its detections')
    .option('--token <token>', 'bearer token for --send (default: $WEBVCM_TOKEN)')
    .option('--detections <file>', "with --send: write the server's detections JSON here");
  for (const opt of rateOptions()) cmd.addOption(opt.conflicts(['targetBpp']));
  cmd.addOption(
    new Option(
      '--target-bpp <B>',
      'variable-rate codecs: find the gain whose strings reach B bits per pixel of the image (within 3 %, or the nearest achievable)',
    ).argParser(positiveArg),
  );
  cmd.action(
    async (
      image: string,
      o: ModelCliOptions & {
        output?: string;
        method: string;
        mode: string;
        json?: boolean;
        warmup?: boolean;
        runs?: number;
        send?: string;
        token?: string;
        detections?: string;
        level?: number;
        scale?: number;
        targetBpp?: number;
      },
    ) => {
      if (!o.output && !o.send) throw new UsageError('give -o <file.vcm>, --send <url>, or both');
      if (o.detections && !o.send) throw new UsageError('--detections needs --send');
      const remote = o.send ? createRemoteDecoder({ url: o.send, token: o.token ?? process.env.WEBVCM_TOKEN }) : null;
      if (o.method !== '1' && o.method !== '2') throw new UsageError(`--method must be 1 or 2, got '${o.method}'`);
      if (o.mode !== 'compat' && o.mode !== 'portable') throw new UsageError(`--mode must be compat or portable, got '${o.mode}'`);
      const img = bgrFromFileBytes(new Uint8Array(readFileSync(image)), image);
      const enc = await createEncoder({ ...modelOptions(o), method: Number(o.method) as 1 | 2, mode: o.mode });
      try {
        const rate = { level: o.level, scale: o.scale, targetBpp: o.targetBpp };
        const timed = await timedRuns(
          () => enc.encode(img, rate),
          o.runs ?? 1,
          o.warmup ? () => enc.warmup({ height: img.height, width: img.width }) : undefined,
        );
        const r = timed.first;
        if (o.output) writeFileSync(o.output, r.bytes);
        const sent = remote ? await remote.decode(r.bytes) : null;
        if (sent && o.detections) {
          writeFileSync(o.detections, JSON.stringify({ ...sent.json, fingerprint: sent.fingerprint, timings: sent.timings }) + '\n');
        }
        const summary = {
          output: o.output,
          bytes: r.bytes.length,
          yBytes: r.stringBytes.y,
          zBytes: r.stringBytes.z,
          bppContainer: r.bpp.container,
          bppStrings: r.bpp.strings,
          sizes: r.sizes,
          method: Number(o.method),
          mode: o.mode,
          backend: enc.backend,
          threads: enc.threads,
          codec: r.codec,
          ...(r.rateSearch ? { rateSearch: r.rateSearch } : {}),
          timingsMs: r.timings,
          ...timed.summary,
          ...(sent
            ? {
                server: {
                  url: o.send,
                  detections: sent.detections.scores.length,
                  roundTripMs: sent.roundTripMs,
                  serverMs: sent.timings['server total'],
                  fingerprint: sent.fingerprint,
                },
              }
            : {}),
        };
        if (o.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        else {
          process.stdout.write(
            `${o.output ? `wrote ${o.output}` : 'encoded'}: ${r.bytes.length} bytes (y ${r.stringBytes.y}, z ${r.stringBytes.z}); ` +
              `bpp ${r.bpp.container.toFixed(4)} (container), ${r.bpp.strings.toFixed(4)} (strings); ` +
              `image ${r.sizes.original.join('x')} -> ${r.sizes.resized.join('x')}, method ${o.method}, ${o.mode}, backend ${enc.backend}${enc.threads ? ` (${enc.threads} threads)` : ''}; ` +
              `${r.codec.architecture}${enc.codecModel.gains.length ? ` at gain ${r.codec.gain}` : ''}\n`,
          );
          const s = r.rateSearch;
          if (s) {
            const how = s.clamped
              ? ` (the target is ${s.clamped} this model's range: nearest achievable)`
              : s.withinTolerance
                ? ''
                : ' (closest found)';
            process.stdout.write(
              `target ${s.targetBpp} bpp: reached ${s.bpp.toFixed(4)} bpp (${(((s.bpp - s.targetBpp) / s.targetBpp) * 100).toFixed(2)} %) at gain ${s.gain} in ${s.steps} codings${how}\n`,
            );
          }
          process.stdout.write(formatTimedRuns(timed));
          if (sent) {
            process.stdout.write(
              `sent to ${o.send}: ${sent.detections.scores.length} detections, round trip ${sent.roundTripMs.toFixed(1)} ms ` +
                `(server ${(sent.timings['server total'] ?? NaN).toFixed(1)} ms)${o.detections ? ` → ${o.detections}` : ''}\n`,
            );
          }
        }
      } finally {
        enc.dispose();
      }
    },
  );
}
