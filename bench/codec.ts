// Codec benchmark: encode (g_a, h_a, entropy coding) and decode (h_s, g_s) of a stem feature map, first run vs warm
// runs, end-to-end and per-layer GFLOP/s (each layer re-run alone; bench/lib/layers.ts), GDN/IGDN's share of the layer
// time, and each GDN layer next to the legacy GDN kernel and a plain 1×1 conv of its shape (same process).
//   npm run bench:codec -- [--sizes paper|small|all|HxW] [--weights ckpt | --nm 128,192] [--mode compat|portable]
//                          [--reps 2] [--warmup] [--no-layers] [--adapter auto]
// Default weights: a random N=128/M=192 codec (the paper's quality-1..5 shape) built from weights/random's layout;
// --weights takes any checkpoint (e.g. ../shared/golden/compressai/A/model.pth.tar, also N=128/M=192).
// Sizes are the image's: the stem is H/4×W/4 (800×1216 → 64×200×304, coded 256×320).
import { GpuContext } from '../src/gpu/context.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import type { CodecMode } from '../src/model/codec/codec.ts';
import { loadCodecWeights } from '../src/model/weights/load.ts';
import { arg, flag, sizesArg } from './lib/args.ts';
import { benchCodec, formatModelBench, scaleCodecWeights } from './lib/models.ts';

async function main(): Promise<void> {
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  const wpath = arg('weights', '');
  const [N, M] = arg('nm', '128,192').split(',').map(Number) as [number, number];
  const weights = wpath
    ? await loadCodecWeights(wpath)
    : scaleCodecWeights(await loadCodecWeights('weights/random/codec.safetensors'), N, M);
  console.log(
    `adapter: ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture}); codec ${wpath || `random N=${N} M=${M}`}; MESA_SHADER_CACHE_DIR=${process.env.MESA_SHADER_CACHE_DIR ?? '(default)'}`,
  );
  for (const c of sizesArg()) {
    const r = await benchCodec(ctx, weights, c, {
      mode: arg('mode', 'compat') as CodecMode,
      reps: Number(arg('reps', '2')),
      warmup: flag('warmup'),
      layers: !flag('no-layers'),
    });
    console.log('\n' + formatModelBench(r));
  }
  ctx.dispose();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
