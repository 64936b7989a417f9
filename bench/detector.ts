/**
 * bench/detector: per-stage milliseconds of the detector on the GPU (full-width R50-FPN with random weights in the
 * model-zoo layout unless --weights is given) at 800×1216 by default.
 *   npm run bench:detector -- [--reps 2] [--warmup 1] [--height 800 --width 1216] [--weights ckpt] [--adapter auto]
 * (--weights .cache/fake_r50_fpn.pkl from tools/make-fake-r50.py works too; shapes are the same.)
 * Each stage is synced before its clock stops, so the figures are wall-clock per stage including submission.
 */
import { GpuContext } from '../src/gpu/context.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import { createGpuDetectorBackend } from '../src/gpu/detector-backend.ts';
import { Detector } from '../src/model/detector/detector.ts';
import { r50FpnArch, randomDetectorWeights } from '../src/model/detector/random-weights.ts';
import { loadDetectorWeights } from '../src/model/weights/index.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '2'));
  const warmup = Number(arg('warmup', '1'));
  const H = Number(arg('height', '800')), W = Number(arg('width', '1216'));
  const wpath = arg('weights', '');
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  const t0 = performance.now();
  const weights = wpath ? await loadDetectorWeights(wpath) : randomDetectorWeights(r50FpnArch(), 7);
  const ops = createGpuDetectorBackend(ctx);
  const det = await Detector.create(weights, ops, { minSize: H, maxSize: Math.max(H, W) * 2 });
  console.log(`adapter: ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture}); weights ${wpath || 'random R50-FPN (full width)'} ready in ${(performance.now() - t0).toFixed(0)} ms`);
  // A synthetic H×W BGR image: the resize is then the identity and the padded input is H×W (both multiples of 32).
  const img = new Uint8Array(H * W * 3);
  for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const stages = ['stem', 'res2', 'res3', 'res4', 'res5', 'fpn', 'rpn_head', 'heads'];
  const runs: Map<string, number>[] = [];
  for (let r = 1 - warmup; r <= reps; r++) {
    const timings = new Map<string, number>();
    const t = performance.now();
    const { detections, sizes } = await det.detect({ height: H, width: W, data: img }, { timings });
    timings.set('total', performance.now() - t);
    if (r === 1 - warmup) console.log(`input ${sizes.padded.join('x')}, ${detections.scores.length} detections${warmup ? '; first run = warm-up (pipeline compilation), not shown' : ''}`);
    if (r > 0) runs.push(timings);
  }
  console.log('| stage | ' + runs.map((_, i) => `run ${i + 1} ms`).join(' | ') + ' |');
  console.log('|---|' + runs.map(() => '---|').join(''));
  for (const s of [...stages, 'total']) console.log(`| ${s} | ${runs.map((m) => (m.get(s) ?? NaN).toFixed(1)).join(' | ')} |`);
  det.dispose();
  ctx.dispose();
}

main().catch((e) => { console.error(e); process.exit(1); });
