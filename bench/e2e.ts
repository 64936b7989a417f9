/**
 * bench/e2e: the library API end to end (encode an image, decode the stream, detect), first run vs warm runs, with
 * or without warmup(). Run it on a cold Mesa shader cache for the cold figures:
 *   MESA_SHADER_CACHE_DIR=$(mktemp -d) npm run bench:e2e -- [--sizes small|paper|HxW[m2]] [--warmup] [--reps 2]
 *     [--models bundled|paper] [--adapter auto]
 * --models bundled (default): the small bundled models (weights/default); paper: full-width random R50-FPN and a
 * random N=128/M=192 codec (speed does not depend on the values).
 */
import { GpuContext } from '../src/gpu/context.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import { r50FpnArch, randomDetectorWeights } from '../src/model/detector/random-weights.ts';
import { loadCodecWeights, loadDetectorWeights } from '../src/model/weights/load.ts';
import { arg, flag, sizesArg } from './lib/args.ts';
import { benchE2E, formatE2E, scaleCodecWeights } from './lib/models.ts';

async function main(): Promise<void> {
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  const paper = arg('models', 'bundled') === 'paper';
  const det = paper ? randomDetectorWeights(r50FpnArch(), 7) : await loadDetectorWeights('weights/default/detector.safetensors');
  const codec = paper
    ? scaleCodecWeights(await loadCodecWeights('weights/random/codec.safetensors'), 128, 192)
    : await loadCodecWeights('weights/default/codec.safetensors');
  console.log(
    `adapter: ${ctx.info.description || ctx.info.device}; models ${paper ? 'paper-size random' : 'bundled'}; MESA_SHADER_CACHE_DIR=${process.env.MESA_SHADER_CACHE_DIR ?? '(default)'}`,
  );
  for (const c of sizesArg())
    console.log('\n' + formatE2E(await benchE2E(ctx.device, det, codec, c, { reps: Number(arg('reps', '2')), warmup: flag('warmup') })));
  ctx.dispose();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
