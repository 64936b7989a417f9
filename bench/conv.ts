/**
 * bench/conv: GFLOP/s of the tiled implicit-GEMM conv kernel next to a naive direct conv and a tiled matmul of
 * equal FLOPs, all run in the same process on the same adapter.
 *   npm run bench:conv [-- --reps 3 --adapter lavapipe]
 */
import { GpuContext } from '../src/gpu/context.ts';
import { conv2d, convOutputSize, prepareConv } from '../src/gpu/ops/conv.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';

interface Case { name: string; C: number; H: number; W: number; OC: number; K: number; S: number; P: number }
const CASES: Case[] = [
  { name: '3x3 64->64 @256x256', C: 64, H: 256, W: 256, OC: 64, K: 3, S: 1, P: 1 },
  { name: 'g_a.0 5x5/2 64->128 @256x320', C: 64, H: 256, W: 320, OC: 128, K: 5, S: 2, P: 2 },
  { name: 'g_a.2 5x5/2 128->128 @128x160', C: 128, H: 128, W: 160, OC: 128, K: 5, S: 2, P: 2 },
];

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

async function time(ctx: GpuContext, reps: number, fn: () => void): Promise<number> {
  fn(); await ctx.sync(); // warm-up (pipeline compile)
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    await ctx.sync();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '3'));
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  console.log(`adapter: ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture})  reps=${reps} (median)`);
  console.log('| case | GFLOP | tiled conv ms | GFLOP/s | naive conv GFLOP/s | tiled matmul GFLOP/s | conv/naive | conv/matmul |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const c of CASES) {
    const OH = convOutputSize(c.H, c.K, c.S, c.P), OW = convOutputSize(c.W, c.K, c.S, c.P);
    const Kdim = c.K * c.K * c.C, M = OH * OW;
    const flops = 2 * M * c.OC * Kdim;
    const x = ctx.upload(Float32Array.from({ length: c.C * c.H * c.W }, (_, i) => Math.sin(i)), [c.C, c.H, c.W], { layout: 'hwc' });
    const wdata = Float32Array.from({ length: c.OC * Kdim }, (_, i) => Math.cos(i) * 0.01);
    const cw = prepareConv(ctx, wdata, [c.OC, c.C, c.K, c.K], null);
    const tConv = await time(ctx, reps, () => conv2d(ctx, x, cw, { stride: c.S, pad: c.P }).release());

    const wn = ctx.upload(wdata, [c.OC * Kdim]);
    const yn = ctx.empty([c.OC, OH, OW], 'f32', 'hwc');
    const naive = ctx.pipeline('conv_naive');
    const un = ctx.uniform([c.H, c.W, c.C, OH, OW, c.OC, c.K, c.K, c.S, c.P, 0, 0]);
    const tNaive = await time(ctx, reps, () => ctx.dispatch1d(naive, [un, x, wn, yn], M * c.OC, 'naive'));

    // Matmul of equal FLOPs: M' x N' x K with M'·N' = M·OC; M' shrunk (N' grown) until A fits one binding.
    let f = 1;
    while ((M / f) * Kdim * 4 > ctx.limits.maxStorageBufferBindingSize / 2) f *= 2;
    const Mm = M / f, Nm = c.OC * f;
    const a = ctx.upload(Float32Array.from({ length: Mm * Kdim }, (_, i) => Math.sin(i * 0.37)), [Mm, Kdim]);
    const b = ctx.upload(Float32Array.from({ length: Kdim * Nm }, (_, i) => Math.cos(i * 0.11)), [Kdim, Nm]);
    const cm = ctx.empty([Mm, Nm]);
    const mm = ctx.pipeline('matmul');
    const um = ctx.uniform([Mm, Nm, Kdim, 0]);
    const tMm = await time(ctx, reps, () => ctx.dispatch(mm, [um, a, b, cm], [Math.ceil(Nm / 64), Math.ceil(Mm / 64)], 'matmul'));

    const g = (ms: number) => flops / ms / 1e6;
    console.log(`| ${c.name} | ${(flops / 1e9).toFixed(2)} | ${tConv.toFixed(0)} | ${g(tConv).toFixed(2)} | ${g(tNaive).toFixed(2)} | ${g(tMm).toFixed(2)} | ${(tNaive / tConv).toFixed(2)}x | ${(tMm / tConv).toFixed(2)} |`);
    for (const t of [x, wn, yn, a, b, cm]) t.release();
    cw.release();
  }
  ctx.dispose();
}

await main();
