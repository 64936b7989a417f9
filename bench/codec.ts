// Codec benchmark: encode and decode a 64×200×304 stem feature map (method 1: padded to 256×320) with an
// N=128 / M=192 hyperprior, per layer (GPU timestamps when the adapter has them) and per stage (wall clock with a
// queue sync after each stage).
//   npm run bench:codec -- [--weights <ckpt>] [--mode compat|portable] [--h 200 --w 304] [--repeat 2]
// Default weights: the golden case A checkpoint (untrained, N=128, M=192, C=64), the shape the issue asks for.
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { GpuContext } from '../src/gpu/context.ts';
import { GpuCodecBackend } from '../src/gpu/codec-backend.ts';
import { HyperpriorCodec, type CodecMode } from '../src/model/codec/codec.ts';
import { decodeFeatures, encodeFeatures } from '../src/model/codec/features.ts';
import { loadCodecWeights } from '../src/model/weights/load.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const weights = arg('weights', resolve(process.cwd(), '../shared/golden/compressai/A/model.pth.tar'));
  if (!existsSync(weights)) throw new Error(`weights ${weights} not found (pass --weights)`);
  const mode = arg('mode', 'compat') as CodecMode;
  const H = Number(arg('h', '200')), W = Number(arg('w', '304'));
  const ctx = await GpuContext.create({ timestamps: true });
  const be = new GpuCodecBackend(ctx);
  const codec = await HyperpriorCodec.create(await loadCodecWeights(new Uint8Array(readFileSync(weights))), be);
  console.log(`adapter: ${ctx.info.description}; timestamps: ${ctx.timestampsEnabled}; C=${codec.C} N=${codec.N} M=${codec.M}; stem ${codec.C}x${H}x${W}; mode ${mode}`);
  // post-ReLU stem-like input: half zeros, positive values with a long tail
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const F = Float32Array.from({ length: codec.C * H * W }, () => Math.max(0, -Math.log(rnd() + 1e-9) - 0.7) * 3);

  const run = async (label: string, h: number, w: number, data: Float32Array) => {
    const stages: [string, number][] = [];
    const time = (st: string, ms: number) => stages.push([st, ms]);
    const x = be.fromCHW(data, codec.C, h, w);
    await ctx.sync();
    await ctx.collectTimings();
    let t0 = performance.now();
    const enc = await encodeFeatures(codec, x, { method: 1, mode, originalSize: [4 * h, 4 * w], resizedSize: [4 * h, 4 * w], time });
    await ctx.sync();
    const encMs = performance.now() - t0;
    const encLayers = await ctx.collectTimings();
    const encStages = stages.splice(0);
    t0 = performance.now();
    const dec = await decodeFeatures(codec, enc.bytes, { time });
    await ctx.sync();
    const decMs = performance.now() - t0;
    const decLayers = await ctx.collectTimings();
    be.release(x, dec.features);
    return { label, enc, encMs, decMs, encStages, decStages: stages, encLayers, decLayers };
  };
  // warm-up (pipeline compilation) on a small map, then the measured run
  const w0 = performance.now();
  await run('warm-up', 64, 64, F.subarray(0, codec.C * 64 * 64));
  console.log(`warm-up (shader compilation, 64x64): ${(performance.now() - w0).toFixed(0)} ms`);
  // the first full-size run still compiles the tile variants of the big maps; report the last of `--repeat` runs
  const repeat = Math.max(1, Number(arg('repeat', '2')));
  let r = await run('stem', H, W, F);
  for (let i = 1; i < repeat; i++) {
    console.log(`run ${i}: encode ${r.encMs.toFixed(0)} ms, decode ${r.decMs.toFixed(0)} ms`);
    r = await run('stem', H, W, F);
  }
  const fmt = (m: Map<string, number>) => [...m].map(([k, v]) => `  ${k.padEnd(22)} ${v.toFixed(1).padStart(9)} ms`).join('\n');
  console.log(`\nencode: ${r.encMs.toFixed(0)} ms wall; ${r.enc.strings[0].length} + ${r.enc.strings[1].length} B strings, ${r.enc.bytes.length} B container, ${r.enc.bpp.toFixed(4)} bpp (image ${4 * H}x${4 * W})`);
  console.log('encode stages (wall clock, synced):');
  console.log(r.encStages.map(([k, v]) => `  ${k.padEnd(22)} ${v.toFixed(1).padStart(9)} ms`).join('\n'));
  if (r.encLayers.size) console.log(`encode GPU time per layer (timestamps):\n${fmt(r.encLayers)}`);
  console.log(`\ndecode: ${r.decMs.toFixed(0)} ms wall`);
  console.log('decode stages (wall clock, synced):');
  console.log(r.decStages.map(([k, v]) => `  ${k.padEnd(22)} ${v.toFixed(1).padStart(9)} ms`).join('\n'));
  if (r.decLayers.size) console.log(`decode GPU time per layer (timestamps):\n${fmt(r.decLayers)}`);
  codec.release();
  ctx.dispose();
}
main().catch((e) => { console.error(e); process.exit(1); });
