/**
 * bench/detector: the detector's client part (stem) and receiver part (res2…res5, FPN, RPN, heads), first run vs warm
 * runs, end-to-end and per-layer GFLOP/s (each layer re-run alone; bench/lib/layers.ts).
 *   npm run bench:detector -- [--sizes paper|small|all|HxW[m2]] [--weights ckpt | --bundled] [--reps 2] [--warmup]
 *                             [--no-layers] [--adapter auto]
 * Default weights: a full-width R50-FPN with random weights in the model-zoo layout (the paper's shapes);
 * --bundled: the small bundled model (weights/default). The image is used at its size (resize = identity).
 */
import { GpuContext } from '../src/gpu/context.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import { r50FpnArch, randomDetectorWeights } from '../src/model/detector/random-weights.ts';
import { loadDetectorWeights } from '../src/model/weights/index.ts';
import { arg, flag, sizesArg } from './lib/args.ts';
import { benchDetector, formatModelBench } from './lib/models.ts';

async function main(): Promise<void> {
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  const wpath = flag('bundled') ? 'weights/default/detector.safetensors' : arg('weights', '');
  const weights = wpath ? await loadDetectorWeights(wpath) : randomDetectorWeights(r50FpnArch(), 7);
  console.log(
    `adapter: ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture}); weights ${wpath || 'random R50-FPN (full width)'}; MESA_SHADER_CACHE_DIR=${process.env.MESA_SHADER_CACHE_DIR ?? '(default)'}`,
  );
  for (const c of sizesArg()) {
    const r = await benchDetector(ctx, weights, c, { reps: Number(arg('reps', '2')), warmup: flag('warmup'), layers: !flag('no-layers') });
    console.log('\n' + formatModelBench(r));
  }
  ctx.dispose();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
