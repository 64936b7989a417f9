/**
 * bench/device: everything bench/device.sh runs on a real GPU machine, in one file that esbuild bundles (with only
 * the `webgpu` package left external): doctor, correctness against the CPU reference with the kernel variants this
 * adapter selects (so selection is verified, not only fast), first-run vs warm-run end to end (cold shader caches:
 * device.sh points MESA_SHADER_CACHE_DIR and the NVIDIA cache at empty folders), conv vs the strongest plain GEMM,
 * codec and detector per-layer GFLOP/s at the paper's and small sizes. JSON goes to --out after every section, so a
 * run stopped by its time limit still leaves what it measured.
 *   node bench/device.mjs --out result.json [--budget-s 420] [--quick] [--adapter auto|system|lavapipe] [--root .]
 * --quick: small sizes only (the local proof on lavapipe); --root: where weights/ is (the repo).
 */
import { writeFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { GpuContext } from '../src/gpu/context.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import { conv2d, prepareConv } from '../src/gpu/ops/conv.ts';
import { resizeNormalizeImage, uploadBgrImage } from '../src/gpu/ops/resize.ts';
import { convSelfTest } from '../src/gpu/selftest.ts';
import { conv2dRef, convTranspose2dRef } from '../src/cpu/conv.ts';
import { CpuCodecBackend } from '../src/cpu/codec-backend.ts';
import { CpuDetectorBackend } from '../src/cpu/detector-backend.ts';
import { GpuCodecBackend } from '../src/gpu/codec-backend.ts';
import { createGpuDetectorBackend } from '../src/gpu/detector-backend.ts';
import { HyperpriorCodec } from '../src/model/codec/codec.ts';
import { Detector } from '../src/model/detector/detector.ts';
import { normalizeAndPad, pillowResizeBilinear } from '../src/model/detector/preprocess.ts';
import { r50FpnArch, randomDetectorWeights } from '../src/model/detector/random-weights.ts';
import { loadCodecWeights, loadDetectorWeights } from '../src/model/weights/load.ts';
import { arg, flag } from './lib/args.ts';
import {
  PAPER_SIZES,
  SMALL_SIZES,
  benchCodec,
  benchDetector,
  benchE2E,
  formatE2E,
  formatModelBench,
  scaleCodecWeights,
  type SizeCase,
} from './lib/models.ts';

// Debian's Node 18 (the carried runtime) has no global WebCrypto yet (Node ≥ 19 has); the codec fingerprints use it.
if (!(globalThis as { crypto?: unknown }).crypto) Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true });

const t0 = performance.now();
const budgetS = Number(arg('budget-s', '420'));
const out = arg('out', 'device-result.json');
const root = arg('root', '.');
const quick = flag('quick');
const adapter = arg('adapter', process.env.WEBVCM_ADAPTER ?? 'auto') as AdapterChoice;
const result: Record<string, unknown> = {
  started: new Date().toISOString(),
  quick,
  budgetS,
  env: { MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR, node: process.version },
  sections: {},
  skipped: [],
  errors: {},
};
const sections = result.sections as Record<string, unknown>;
const elapsed = (): number => (performance.now() - t0) / 1e3;
const save = (): void => {
  result.elapsedS = elapsed();
  writeFileSync(out, JSON.stringify(result, null, 1));
};
const log = (s: string): void => {
  process.stdout.write(`[${elapsed().toFixed(0).padStart(4)} s] ${s}\n`);
};

async function section(name: string, minLeftS: number, fn: () => Promise<unknown>): Promise<void> {
  if (elapsed() + minLeftS > budgetS) {
    (result.skipped as string[]).push(name);
    log(`skip ${name} (budget)`);
    save();
    return;
  }
  log(`== ${name}`);
  try {
    sections[name] = await fn();
  } catch (e) {
    (result.errors as Record<string, string>)[name] = String((e as Error).stack ?? e);
    log(`ERROR in ${name}: ${(e as Error).message}`);
  }
  save();
}

function rnd(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function randArr(n: number, seed: number, scale = 1): Float32Array {
  const r = rnd(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}
function maxErr(a: ArrayLike<number>, b: ArrayLike<number>, atol: number, rtol: number): { maxAbs: number; bad: number } {
  let maxAbs = 0,
    bad = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= atol + rtol * Math.abs(b[i]!))) bad++;
    if (!(d <= maxAbs)) maxAbs = d;
  }
  return { maxAbs, bad: a.length === b.length ? bad : -1 };
}

async function main(): Promise<void> {
  const sizes: SizeCase[] = quick ? SMALL_SIZES : [...PAPER_SIZES, ...SMALL_SIZES];
  const small = await loadDetectorWeights(join(root, 'weights/default/detector.safetensors'));
  const smallCodec = await loadCodecWeights(join(root, 'weights/default/codec.safetensors'));
  const randomCodec = await loadCodecWeights(join(root, 'weights/random/codec.safetensors'));
  const paperCodec = scaleCodecWeights(randomCodec, 128, 192);
  const paperDet = randomDetectorWeights(r50FpnArch(), 7);

  await section('doctor', 5, async () => {
    const ctx = await GpuContext.create({ adapter });
    try {
      const self = await convSelfTest(ctx);
      const r = {
        adapter: ctx.info,
        features: ctx.features,
        limits: Object.fromEntries(
          [
            'maxBufferSize',
            'maxStorageBufferBindingSize',
            'maxComputeWorkgroupStorageSize',
            'maxComputeInvocationsPerWorkgroup',
            'maxComputeWorkgroupSizeX',
            'maxComputeWorkgroupsPerDimension',
          ].map((k) => [k, (ctx.limits as unknown as Record<string, number>)[k]]),
        ),
        selfTest: self,
      };
      log(
        `adapter ${ctx.info.description || ctx.info.device} (${ctx.info.vendor}/${ctx.info.architecture}); self-test ${self.ok ? 'PASS' : 'FAIL'}`,
      );
      return r;
    } finally {
      ctx.dispose();
    }
  });

  // First thing that compiles the models' pipelines in this process: the cold figures.
  await section('e2e cold (no warmup, bundled models, small)', 60, async () => {
    const ctx = await GpuContext.create({ adapter });
    try {
      const r = await benchE2E(ctx.device, small, smallCodec, SMALL_SIZES[0]!, { reps: 2 });
      log('\n' + formatE2E(r));
      return r;
    } finally {
      ctx.dispose();
    }
  });
  await section(quick ? 'e2e with warmup (bundled models, small)' : 'e2e with warmup (paper-size models)', 90, async () => {
    const ctx = await GpuContext.create({ adapter });
    try {
      const rs = [];
      // --quick (software adapters): the bundled models; else the paper-size random models
      for (const c of quick ? SMALL_SIZES : [PAPER_SIZES[0]!, SMALL_SIZES[0]!]) {
        const r = await benchE2E(ctx.device, quick ? small : paperDet, quick ? smallCodec : paperCodec, c, { reps: 2, warmup: true });
        log('\n' + formatE2E(r));
        rs.push(r);
      }
      return rs;
    } finally {
      ctx.dispose();
    }
  });

  await section('correctness vs CPU reference', 60, async () => {
    const ctx = await GpuContext.create({ adapter });
    const checks: Record<string, unknown>[] = [];
    try {
      const convCases = [
        { name: '1x1 256->64 @20x23', C: 256, H: 20, W: 23, OC: 64, K: 1, S: 1, P: 0, relu: true },
        { name: '1x1/2 64->128 @17x16', C: 64, H: 17, W: 16, OC: 128, K: 1, S: 2, P: 0 },
        { name: '3x3 64->64 @24x31 +res+relu', C: 64, H: 24, W: 31, OC: 64, K: 3, S: 1, P: 1, relu: true, res: true },
        { name: '5x5/2 64->128 @32x40', C: 64, H: 32, W: 40, OC: 128, K: 5, S: 2, P: 2 },
        { name: 'stem 7x7/2 3->64 @64x96', C: 3, H: 64, W: 96, OC: 64, K: 7, S: 2, P: 3, relu: true },
        { name: '3x3 256->256 @13x19 (fpn)', C: 256, H: 13, W: 19, OC: 256, K: 3, S: 1, P: 1 },
        { name: 'deconv 5x5/2 128->64 @8x10', C: 128, H: 8, W: 10, OC: 64, K: 5, S: 2, P: 2, T: true },
      ];
      for (const c of convCases) {
        const x = randArr(c.C * c.H * c.W, 11);
        const wshape = c.T ? [c.C, c.OC, c.K, c.K] : [c.OC, c.C, c.K, c.K];
        const w = randArr(c.C * c.OC * c.K * c.K, 12, 1 / Math.sqrt(c.C * c.K * c.K));
        const b = randArr(c.OC, 13, 0.1);
        const ref = c.T
          ? convTranspose2dRef({ data: x, c: c.C, h: c.H, w: c.W }, w, wshape, b, { stride: c.S, pad: c.P, outputPadding: c.S - 1 })
          : null;
        const OH = Math.floor((c.H + 2 * c.P - c.K) / c.S) + 1,
          OW = Math.floor((c.W + 2 * c.P - c.K) / c.S) + 1;
        const res = c.res ? randArr(c.OC * OH * OW, 14) : undefined;
        const r =
          ref ?? conv2dRef({ data: x, c: c.C, h: c.H, w: c.W }, w, wshape, b, { stride: c.S, pad: c.P, relu: c.relu, residual: res });
        const before = new Set(ctx.pipelineKeys());
        const got = await ctx.scoped(c.name, async () => {
          const xt = ctx.uploadCHW(x, c.C, c.H, c.W);
          const cw = prepareConv(ctx, w, wshape, b, { transposed: !!c.T });
          const rt = res ? ctx.uploadCHW(res, c.OC, OH, OW) : undefined;
          const y = conv2d(
            ctx,
            xt,
            cw,
            c.T ? { stride: c.S, pad: c.P, outputPadding: c.S - 1 } : { stride: c.S, pad: c.P, relu: c.relu, residual: rt },
          );
          const o = await ctx.readCHW(y);
          xt.release();
          y.release();
          rt?.release();
          cw.release();
          return o;
        });
        const e = maxErr(got, r.data, 1e-4, 1e-3);
        checks.push({
          check: `conv ${c.name}`,
          ok: e.bad === 0,
          ...e,
          tolerance: 'atol 1e-4 + rtol 1e-3',
          variants: ctx.pipelineKeys().filter((k) => !before.has(k)),
        });
      }
      for (const [H, W, oh, ow] of [
        [240, 320, 320, 427],
        [427, 640, 320, 480],
        [61, 97, 200, 31],
      ] as const) {
        const img = Uint8Array.from({ length: H * W * 3 }, (_, i) => (i * 2654435761) >>> 24);
        const Hp = Math.ceil(oh / 32) * 32,
          Wp = Math.ceil(ow / 32) * 32,
          mean: [number, number, number] = [103.53, 116.28, 123.675];
        const ref = normalizeAndPad({ height: oh, width: ow, data: pillowResizeBilinear(img, H, W, 3, oh, ow) }, [Hp, Wp], mean);
        const got = await ctx.scoped('resize', async () => {
          const g = uploadBgrImage(ctx, img, H, W);
          const y = resizeNormalizeImage(ctx, g, [oh, ow], [Hp, Wp], mean);
          const o = await ctx.readCHW(y);
          y.release();
          g.data.release();
          return o;
        });
        const e = maxErr(got, ref, 0, 0);
        checks.push({ check: `pillow resize ${H}x${W}->${oh}x${ow} bit-exact`, ok: e.bad === 0, ...e });
      }
      // codec, portable mode: the strings must be byte-identical on every device (GPU here vs the CPU backend)
      try {
        const [C, h, w] = [64, 64, 64]; // the codec codes multiples of 64
        const F = Float32Array.from(randArr(C * h * w, 21), (v) => Math.max(0, v) * 3);
        const gpu = await HyperpriorCodec.create(randomCodec, new GpuCodecBackend(ctx));
        const cpu = await HyperpriorCodec.create(randomCodec, new CpuCodecBackend());
        const a = await gpu.compress(F, { mode: 'portable', shape: [C, h, w] });
        const b = await cpu.compress(F, { mode: 'portable', shape: [C, h, w] });
        const same = a.strings.every((s, i) => s.length === b.strings[i]!.length && s.every((v, j) => v === b.strings[i]![j]));
        const dg = await gpu.decompress(a.strings, a.zShape, { mode: 'portable' });
        const dc = await cpu.decompress(b.strings, b.zShape, { mode: 'portable' });
        const xg = await gpu.ops.toCHW(dg.xHat),
          xc = await cpu.ops.toCHW(dc.xHat);
        const e = maxErr(xg, xc, 1e-3, 1e-3);
        checks.push({ check: 'codec portable strings GPU == CPU', ok: same, yBytes: a.strings[0].length, zBytes: a.strings[1].length });
        checks.push({ check: 'codec decode x_hat GPU vs CPU', ok: e.bad === 0, ...e, tolerance: 'atol 1e-3 + rtol 1e-3' });
        gpu.ops.release(dg.xHat);
        gpu.release();
        cpu.release();
      } catch (e) {
        checks.push({ check: 'codec GPU vs CPU', ok: false, error: String((e as Error).message) });
      }
      // detector (bundled model): GPU vs CPU detections on a small image
      try {
        const H = 160,
          W = 224;
        const img = {
          height: H,
          width: W,
          data: Uint8Array.from({ length: H * W * 3 }, (_, i) => ((i % (W * 3)) * 7 + Math.floor(i / (W * 3)) * 5) & 0xff),
        };
        const cfg = { minSize: 160, maxSize: 224 };
        const dg = await Detector.create(small, createGpuDetectorBackend(ctx), cfg);
        const dc = await Detector.create(small, new CpuDetectorBackend(), cfg);
        const sg = await dg.stem(img),
          sc = await dc.stem(img);
        const fg = await dg.ops.toCHW(sg.stem),
          fc = await dc.ops.toCHW(sc.stem);
        const e = maxErr(fg, fc, 1e-3, 1e-3);
        checks.push({ check: 'detector stem GPU vs CPU', ok: e.bad === 0, ...e, tolerance: 'atol 1e-3 + rtol 1e-3' });
        const rg = await dg.fromStem(sg.stem, sg.sizes);
        const rc = await dc.fromStem(sc.stem, sc.sizes);
        const n = Math.min(rg.scores.length, rc.scores.length, 10);
        const eb = maxErr(rg.boxes.subarray(0, 4 * n), rc.boxes.subarray(0, 4 * n), 0.05, 1e-3);
        checks.push({
          check: 'detector top-10 boxes GPU vs CPU',
          ok: eb.bad === 0 && Math.abs(rg.scores.length - rc.scores.length) <= 2,
          gpuDetections: rg.scores.length,
          cpuDetections: rc.scores.length,
          ...eb,
          tolerance: 'boxes atol 0.05 px',
        });
        dg.ops.release(sg.stem);
        dg.dispose();
        dc.dispose();
      } catch (e) {
        checks.push({ check: 'detector GPU vs CPU', ok: false, error: String((e as Error).message) });
      }
    } finally {
      ctx.dispose();
    }
    const bad = checks.filter((c) => !c.ok);
    log(`${checks.length - bad.length}/${checks.length} checks pass${bad.length ? `; FAILED: ${bad.map((c) => c.check).join(', ')}` : ''}`);
    return checks;
  });

  await section('conv vs strongest GEMM', 45, async () => {
    const ctx = await GpuContext.create({ adapter });
    const rows = [];
    try {
      const cases = [
        { name: 'g_a.0 5x5/2 64->128 @256x320', C: 64, H: 256, W: 320, OC: 128, K: 5, S: 2, P: 2 },
        { name: 'res2 3x3 64->64 @200x304', C: 64, H: 200, W: 304, OC: 64, K: 3, S: 1, P: 1 },
        { name: 'fpn 3x3 256->256 @200x304', C: 256, H: 200, W: 304, OC: 256, K: 3, S: 1, P: 1 },
        { name: '1x1 1024->256 @50x76', C: 1024, H: 50, W: 76, OC: 256, K: 1, S: 1, P: 0 },
        { name: 'stem 7x7/2 3->64 @800x1216', C: 3, H: 800, W: 1216, OC: 64, K: 7, S: 2, P: 3 },
      ].map((c) => (quick ? { ...c, H: Math.ceil(c.H / 4), W: Math.ceil(c.W / 4), name: `${c.name} /4` } : c));
      const time = async (fn: () => void): Promise<number> => {
        fn();
        await ctx.sync();
        let t = performance.now();
        fn();
        await ctx.sync();
        let ms = performance.now() - t;
        const k = Math.max(1, Math.min(20, Math.floor(200 / Math.max(ms, 1e-3))));
        if (k > 1) {
          t = performance.now();
          for (let i = 0; i < k; i++) fn();
          await ctx.sync();
          ms = (performance.now() - t) / k;
        }
        return ms;
      };
      for (const c of cases) {
        const OH = Math.floor((c.H + 2 * c.P - c.K) / c.S) + 1,
          OW = Math.floor((c.W + 2 * c.P - c.K) / c.S) + 1,
          Kd = c.K * c.K * c.C,
          M = OH * OW;
        const flops = 2 * M * c.OC * Kd;
        const x = ctx.upload(randArr(c.C * c.H * c.W, 1), [c.C, c.H, c.W], { layout: 'hwc' });
        const cw = prepareConv(ctx, randArr(c.OC * Kd, 2, 0.01), [c.OC, c.C, c.K, c.K], null);
        const tc = await time(() => conv2d(ctx, x, cw, { stride: c.S, pad: c.P }).release());
        let f = 1;
        while ((M / f) * Kd * 4 > ctx.limits.maxStorageBufferBindingSize / 2) f *= 2;
        const Mm = Math.round(M / f),
          Nm = c.OC * f;
        const a = ctx.upload(randArr(Mm * Kd, 3), [Kd, 1, Mm], { layout: 'hwc' });
        const wg = prepareConv(ctx, randArr(Nm * Kd, 4, 0.01), [Nm, Kd, 1, 1], null);
        const tg = await time(() => conv2d(ctx, a, wg).release());
        x.release();
        cw.release();
        a.release();
        wg.release();
        const row = {
          case: c.name,
          gflop: flops / 1e9,
          convMs: tc,
          convGflops: flops / tc / 1e6,
          gemmMs: tg,
          gemmGflops: (2 * Mm * Nm * Kd) / tg / 1e6,
          convOverGemm: (tg / tc) * (flops / (2 * Mm * Nm * Kd)),
        };
        log(`${c.name}: conv ${row.convGflops.toFixed(1)} GFLOP/s, GEMM ${row.gemmGflops.toFixed(1)} GFLOP/s`);
        rows.push(row);
      }
    } finally {
      ctx.dispose();
    }
    return rows;
  });

  for (const c of sizes) {
    await section(`codec ${c.name}`, 30, async () => {
      const ctx = await GpuContext.create({ adapter });
      try {
        const r = await benchCodec(ctx, c.name.startsWith('small') ? smallCodec : paperCodec, c, { reps: 2 });
        log('\n' + formatModelBench(r));
        return r;
      } finally {
        ctx.dispose();
      }
    });
    await section(`detector ${c.name}`, 45, async () => {
      const ctx = await GpuContext.create({ adapter });
      try {
        const r = await benchDetector(ctx, quick ? small : paperDet, c, { reps: 2 });
        log('\n' + formatModelBench(r));
        return r;
      } finally {
        ctx.dispose();
      }
    });
  }
  if (!quick)
    await section('detector small 320x480 (bundled model)', 30, async () => {
      const ctx = await GpuContext.create({ adapter });
      try {
        const r = await benchDetector(ctx, small, SMALL_SIZES[0]!, { reps: 2 });
        log('\n' + formatModelBench(r));
        return r;
      } finally {
        ctx.dispose();
      }
    });
  result.finished = new Date().toISOString();
  save();
  const checks = (sections['correctness vs CPU reference'] as { ok: boolean }[] | undefined) ?? [];
  log(
    `done in ${elapsed().toFixed(0)} s → ${out}; ${checks.filter((c) => c.ok).length}/${checks.length} correctness checks pass; errors: ${Object.keys(result.errors as object).length}`,
  );
  if (checks.some((c) => !c.ok) || Object.keys(result.errors as object).length) process.exitCode = 1;
}
main().catch((e) => {
  console.error(e);
  (result.errors as Record<string, string>).main = String(e?.stack ?? e);
  save();
  process.exit(1);
});
