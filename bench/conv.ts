/**
 * bench/conv: GFLOP/s of the tiled implicit-GEMM conv kernel next to the strongest plain GEMM found on the adapter —
 * the project's own conv kernel in plain-GEMM mode (a 1×1 conv over a 1×M' image is a M'×K×N' matrix product with no
 * im2col work; on lavapipe it beats bench/shaders/matmul.wgsl by ~3×) — plus the tiled matmul shader and a naive direct
 * conv, all of equal FLOPs, in the same process on the same adapter; optionally several kernel variants side by side.
 * "conv ÷ GEMM" near 1 means the implicit-GEMM loader costs nothing over a plain matrix product.
 *   npm run bench:conv [-- --reps 3 --adapter lavapipe --cases stem,1x1 --variants 'auto;legacy;{"TM":8}' --no-ref]
 * --cases: comma-separated substrings of case names (default: all); --variants: ';'-separated names from VARIANTS below or inline JSON overrides
 * (default: auto = what conv2d selects); --no-ref: skip the naive-conv and matmul columns.
 * The variants of a case run in interleaved rounds (A, B, C, A, B, C, ...), so on a shared, loaded box their ratios
 * stay meaningful even when the absolute times drift; the table gives min (median) ms and GFLOP/s from the min.
 */
import './lib/shaders.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { conv2d, convOutputSize, prepareConv, type ConvVariant } from '../src/gpu/ops/conv.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';

interface Case {
  name: string;
  C: number;
  H: number;
  W: number;
  OC: number;
  K: number;
  S: number;
  P: number;
}
const CASES: Case[] = [
  { name: '3x3 64->64 @256x256', C: 64, H: 256, W: 256, OC: 64, K: 3, S: 1, P: 1 },
  { name: 'g_a.0 5x5/2 64->128 @256x320', C: 64, H: 256, W: 320, OC: 128, K: 5, S: 2, P: 2 },
  { name: 'g_a.2 5x5/2 128->128 @128x160', C: 128, H: 128, W: 160, OC: 128, K: 5, S: 2, P: 2 },
  // detector shapes (R50-FPN at 800x1216): FPN output / RPN head 3x3 256->256 at 1/16 (the 1/4 level, 200x304, is
  // 16x the work: ~72 GFLOP, too slow to bench repeatedly here), a lateral / bottleneck 1x1, the stem.
  { name: 'fpn 3x3 256->256 @50x76', C: 256, H: 50, W: 76, OC: 256, K: 3, S: 1, P: 1 },
  { name: 'res2 3x3 64->64 @200x304', C: 64, H: 200, W: 304, OC: 64, K: 3, S: 1, P: 1 },
  { name: '1x1 1024->256 @50x76', C: 1024, H: 50, W: 76, OC: 256, K: 1, S: 1, P: 0 },
  { name: '1x1 64->256 @200x304', C: 64, H: 200, W: 304, OC: 256, K: 1, S: 1, P: 0 },
  { name: 'stem 7x7/2 3->64 @800x1216', C: 3, H: 800, W: 1216, OC: 64, K: 7, S: 2, P: 3 },
];

/** Named variant overrides (partial; the rest comes from conv2d's own selection). */
const VARIANTS: Record<string, Partial<ConvVariant> | undefined> = {
  auto: undefined,
  legacy: { LOAD: 'generic', WGX: 16, WGY: 16, TM: 4, TN: 1, BK: 16, A4: false },
  r8x2: { WGX: 8, WGY: 8, TM: 8, TN: 2, A4: false },
  r8x2a4: { WGX: 8, WGY: 8, TM: 8, TN: 2, A4: true },
};

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/**
 * Interleaved timing of several variants of one case: after one warm-up each, `reps` rounds of A, B, C, ... so that
 * load from other processes on a shared box hits every variant alike; per variant the minimum and the median.
 */
async function timeInterleaved(ctx: GpuContext, reps: number, fns: (() => void)[]): Promise<{ min: number; med: number }[]> {
  for (const fn of fns) {
    fn();
    await ctx.sync();
  } // warm-up (pipeline compile)
  const ts: number[][] = fns.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < fns.length; i++) {
      const t0 = performance.now();
      fns[i]!();
      await ctx.sync();
      ts[i]!.push(performance.now() - t0);
    }
  }
  return ts.map((t) => {
    t.sort((a, b) => a - b);
    return { min: t[0]!, med: t[Math.floor(t.length / 2)]! };
  });
}

async function time(ctx: GpuContext, reps: number, fn: () => void): Promise<number> {
  fn();
  await ctx.sync(); // warm-up (pipeline compile)
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
  const noRef = process.argv.includes('--no-ref');
  const filters = arg('cases', '').split(',').filter(Boolean);
  const variants = arg('variants', 'auto').split(';').filter(Boolean);
  for (const v of variants)
    if (!(v in VARIANTS) && !v.startsWith('{'))
      throw new Error(`unknown variant ${v} (known: ${Object.keys(VARIANTS).join(', ')}, or inline JSON)`);
  const ctx = await GpuContext.create({ adapter: arg('adapter', 'auto') as AdapterChoice });
  console.log(
    `adapter: ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture})  reps=${reps} interleaved rounds; ms = min (median), GFLOP/s from the min`,
  );
  const vcols = variants.map((v) => `${v} ms | ${v} GFLOP/s`).join(' | ');
  console.log(
    `| case | GFLOP | ${vcols} |${noRef ? '' : ' GEMM (conv 1×1 mode) GFLOP/s | conv ÷ GEMM | matmul.wgsl GFLOP/s | naive conv GFLOP/s |'}`,
  );
  console.log(`|---|---|${variants.map(() => '---|---|').join('')}${noRef ? '' : '---|---|---|---|'}`);
  for (const c of CASES) {
    if (filters.length && !filters.some((f) => c.name.includes(f))) continue;
    const OH = convOutputSize(c.H, c.K, c.S, c.P),
      OW = convOutputSize(c.W, c.K, c.S, c.P);
    const Kdim = c.K * c.K * c.C,
      M = OH * OW;
    const flops = 2 * M * c.OC * Kdim;
    const g = (ms: number) => flops / ms / 1e6;
    const x = ctx.upload(
      Float32Array.from({ length: c.C * c.H * c.W }, (_, i) => Math.sin(i)),
      [c.C, c.H, c.W],
      { layout: 'hwc' },
    );
    const wdata = Float32Array.from({ length: c.OC * Kdim }, (_, i) => Math.cos(i) * 0.01);
    const cw = prepareConv(ctx, wdata, [c.OC, c.C, c.K, c.K], null);
    const runs = variants.map((v) => {
      const variant = v.startsWith('{') ? (JSON.parse(v) as Partial<ConvVariant>) : VARIANTS[v];
      return () => conv2d(ctx, x, cw, { stride: c.S, pad: c.P, variant }).release();
    });
    const times = await timeInterleaved(ctx, reps, runs);
    const tFirst = times[0]!.min;
    const cols = times.map((t) => `${t.min.toFixed(1)} (${t.med.toFixed(1)}) | ${g(t.min).toFixed(2)}`);
    let refCols = '';
    if (!noRef) {
      const wn = ctx.upload(wdata, [c.OC * Kdim]);
      const yn = ctx.empty([c.OC, OH, OW], 'f32', 'hwc');
      const naive = ctx.pipeline('conv_naive');
      const un = ctx.uniform([c.H, c.W, c.C, OH, OW, c.OC, c.K, c.K, c.S, c.P, 0, 0]);
      const tNaive = await time(ctx, reps, () => ctx.dispatch1d(naive, [un, x, wn, yn], M * c.OC, 'naive'));
      // Matmul of equal FLOPs: M' x N' x K with M'·N' = M·OC; M' shrunk (N' grown) until A fits one binding.
      let f = 1;
      while ((M / f) * Kdim * 4 > ctx.limits.maxStorageBufferBindingSize / 2) f *= 2;
      const Mm = Math.round(M / f),
        Nm = c.OC * f;
      const a = ctx.upload(
        Float32Array.from({ length: Mm * Kdim }, (_, i) => Math.sin(i * 0.37)),
        [Mm, Kdim],
      );
      const b = ctx.upload(
        Float32Array.from({ length: Kdim * Nm }, (_, i) => Math.cos(i * 0.11)),
        [Kdim, Nm],
      );
      const cm = ctx.empty([Mm, Nm]);
      const mm = ctx.pipeline('matmul');
      const um = ctx.uniform([Mm, Nm, Kdim, 0]);
      const tMm = await time(ctx, reps, () => ctx.dispatch(mm, [um, a, b, cm], [Math.ceil(Nm / 64), Math.ceil(Mm / 64)], 'matmul'));
      // The strongest plain GEMM: the same M'×K×N' product as a 1×1 conv (C = K, OC = N') on a 1×M' image.
      const ag = ctx.upload(
        Float32Array.from({ length: Mm * Kdim }, (_, i) => Math.sin(i * 0.37)),
        [Kdim, 1, Mm],
        { layout: 'hwc' },
      );
      const wg = prepareConv(
        ctx,
        Float32Array.from({ length: Nm * Kdim }, (_, i) => Math.cos(i * 0.11) * 0.01),
        [Nm, Kdim, 1, 1],
        null,
      );
      const tGemm = await time(ctx, reps, () => conv2d(ctx, ag, wg).release());
      refCols = ` ${g(tGemm).toFixed(2)} | ${(tGemm / tFirst).toFixed(2)} | ${g(tMm).toFixed(2)} | ${g(tNaive).toFixed(2)} |`;
      for (const t of [wn, yn, a, b, cm, ag]) t.release();
      wg.release();
    }
    console.log(`| ${c.name} | ${(flops / 1e9).toFixed(2)} | ${cols.join(' | ')} |${refCols}`);
    x.release();
    cw.release();
  }
  ctx.dispose();
}

await main();
