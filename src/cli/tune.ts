// `webvcm tune`: measure the candidate conv2d variants of every conv geometry the codec runs (encode + decode at one
// input size) on this adapter and store the winners in the tune cache, keyed by adapter + driver
// (src/gpu/tuning-node.ts). Commands that create a context apply the cache for their adapter when present.
import type { Command } from 'commander';
import { adapterOf, convReplay, type ConvVariant } from '../gpu/ops/conv.ts';
import { createRuntime } from '../api/runtime.ts';
import { convCandidates, pickWinner, recordConvGeometries, stopRecording } from '../gpu/tuning.ts';
import { defaultTuneCachePath, saveTuneTable } from '../gpu/tuning-node.ts';
import { HyperpriorCodec } from '../model/codec/codec.ts';
import { loadCodecWeights } from '../model/weights/load.ts';
import { DEFAULT_CODEC, posInt, UsageError } from './defaults.ts';

function size(v: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(v);
  if (!m || +m[1]! % 64 || +m[2]! % 64 || +m[1]! === 0 || +m[2]! === 0)
    throw new UsageError(`--size must be HxW with multiples of 64, got ${v}`);
  return [+m[1]!, +m[2]!];
}

export function register(program: Command): void {
  program
    .command('tune')
    .description(
      "measure conv kernel variants of the codec on this adapter and cache the fastest per conv shape; a WebGPU kernel tool by design: no --backend (the wasm backend's kernels are not tuned)",
    )
    .option('--weights <ckpt>', 'codec checkpoint (default: bundled weights)', DEFAULT_CODEC)
    .option('--size <HxW>', 'codec input size (feature map, multiples of 64)', '256x320')
    .option('--rounds <n>', 'timed runs per candidate (median)', posInt, 3)
    .option('--cache <file>', 'tune cache file', defaultTuneCachePath())
    .option('--dry-run', 'measure and print, do not write the cache')
    .option('--json', 'machine-readable output')
    .action(async (o: { weights: string; size: string; rounds: number; cache: string; dryRun?: boolean; json?: boolean }) => {
      const [H, W] = size(o.size);
      const w = await loadCodecWeights(o.weights, { label: '--weights' });
      const runtime = await createRuntime({ backend: 'webgpu' });
      const ctx = runtime.gpu('tune');
      const log = (s: string) => {
        if (!o.json) process.stderr.write(s + '\n');
      };
      try {
        const be = runtime.codecBackend();
        const codec = await HyperpriorCodec.create(w, be);
        const rec = recordConvGeometries(ctx);
        const x = new Float32Array(codec.C * H * W).map((_, i) => Math.sin(i * 0.37));
        const r = await codec.compress(x, { mode: 'portable', shape: [codec.C, H, W] });
        await codec.decompress(r.strings, r.zShape, { mode: 'portable' });
        stopRecording(ctx);
        codec.release();
        const adapter = adapterOf(ctx);
        log(`tune: ${rec.size} conv geometries on ${ctx.info.description} (${adapter.class})`);
        const table: Record<string, ConvVariant> = {};
        const rows: { geometry: string; candidates: number; defaultMs: number; bestMs: number; variant: ConvVariant }[] = [];
        let i = 0;
        for (const [key, rep] of rec) {
          i++;
          const cands = convCandidates(rep.geom, adapter);
          const replay = convReplay(ctx, rep);
          const times: { variant: ConvVariant; ms: number[] }[] = [];
          try {
            for (const v of cands) {
              replay.run(v);
              await ctx.sync(); // compile + first run, not timed
              const ms: number[] = [];
              for (let k = 0; k < o.rounds; k++) {
                const t0 = performance.now();
                replay.run(v);
                await ctx.sync();
                ms.push(performance.now() - t0);
              }
              times.push({ variant: v, ms });
            }
          } finally {
            replay.release();
          }
          const best = pickWinner(times);
          const def = pickWinner([times[0]!]).ms;
          table[key] = best.variant;
          rows.push({ geometry: key, candidates: cands.length, defaultMs: def, bestMs: best.ms, variant: best.variant });
          log(
            `  [${i}/${rec.size}] ${key}: ${cands.length} candidates, selector ${def.toFixed(2)} ms, best ${best.ms.toFixed(2)} ms ${JSON.stringify(best.variant)}`,
          );
        }
        if (!o.dryRun) saveTuneTable(ctx, table, o.cache);
        if (o.json)
          process.stdout.write(
            JSON.stringify({ adapter: ctx.info, class: adapter.class, cache: o.dryRun ? null : o.cache, rows }, null, 2) + '\n',
          );
        else log(o.dryRun ? 'tune: dry run, cache not written' : `tune: wrote ${rows.length} entries to ${o.cache}`);
      } finally {
        runtime.dispose();
      }
    });
}
