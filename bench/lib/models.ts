/**
 * Model benches shared by bench/codec.ts, bench/detector.ts, bench/e2e.ts and bench/device.ts: first run (cold:
 * pipeline compilation included, or after warmup()) vs warm runs, end-to-end GFLOP/s, and per-layer GFLOP/s
 * (bench/lib/layers.ts). Paper sizes: 800×1216 (method 1) and 768×1280 (method 2); small: short side 320.
 */
import { GpuContext } from '../../src/gpu/context.ts';
import { GpuCodecBackend } from '../../src/gpu/codec-backend.ts';
import { createGpuDetectorBackend } from '../../src/gpu/detector-backend.ts';
import { HyperpriorCodec, type CodecMode } from '../../src/model/codec/codec.ts';
import { decodeFeatures, encodeFeatures } from '../../src/model/codec/features.ts';
import { Detector } from '../../src/model/detector/detector.ts';
import type { CodecWeights, DetectorWeights, HostTensor } from '../../src/model/weights/types.ts';
import type { WarmupReport } from '../../src/model/backend.ts';
import { gdnVsConvTable, layerTable, recordLayers, timeGdnVsConv, timeLayers, type GdnVsConvRow, type LayerRow } from './layers.ts';

export interface SizeCase {
  name: string;
  height: number;
  width: number;
  method: 1 | 2;
}
export const PAPER_SIZES: SizeCase[] = [
  { name: 'paper m1 800x1216', height: 800, width: 1216, method: 1 },
  { name: 'paper m2 768x1280', height: 768, width: 1280, method: 2 },
];
export const SMALL_SIZES: SizeCase[] = [{ name: 'small 320x480', height: 320, width: 480, method: 1 }];

/** Detector config so that an H×W input is used as is (method 1: resize identity; method 2: already ×256). */
export function identityResize(c: SizeCase): { minSize: number; maxSize: number } {
  return { minSize: Math.min(c.height, c.width), maxSize: Math.max(c.height, c.width) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/**
 * A random codec of any N/M built from a small one's layout (benchmark weights: speed does not depend on the
 * values). Entropy-bottleneck tables are repeated per channel; the Gaussian tables are kept.
 */
export function scaleCodecWeights(base: CodecWeights, N: number, M: number, seed = 7): CodecWeights {
  const bN = base.N,
    bM = base.M;
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const map = (d: number): number => (d === bN ? N : d === bM ? M : d);
  const out = new Map<string, HostTensor>();
  for (const [k, t] of base.tensors) {
    if (k.startsWith('gaussian_conditional')) {
      out.set(k, t);
      continue;
    }
    if (k.startsWith('entropy_bottleneck')) {
      const rowLen = t.data.length / bN;
      const shape = [N, ...t.shape.slice(1)];
      const data = new (t.data.constructor as Int32ArrayConstructor | Float32ArrayConstructor)(N * rowLen);
      for (let c = 0; c < N; c++) data.set(t.data.subarray((c % bN) * rowLen, ((c % bN) + 1) * rowLen), c * rowLen);
      out.set(k, { dtype: t.dtype, shape, data });
      continue;
    }
    const shape = t.shape.map(map);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (k.endsWith('.gamma')) {
      const C = shape[0]!;
      for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) data[i * C + j] = i === j ? 0.1 : rnd() < 0.3 ? 0.01 * rnd() : 0;
    } else if (k.endsWith('.beta'))
      data.forEach((_, i) => {
        data[i] = 0.5 + rnd();
      });
    else if (k.endsWith('.bias'))
      data.forEach((_, i) => {
        data[i] = (rnd() - 0.5) * 0.1;
      });
    else {
      const fan = n / shape[0]!;
      const g = 1.6 / Math.sqrt(fan);
      data.forEach((_, i) => {
        data[i] = (rnd() * 2 - 1) * g * 1.7;
      });
    }
    out.set(k, { dtype: 'float32', shape, data });
  }
  return { ...base, N, M, tensors: out };
}

export interface ModelBench {
  name: string;
  size: string;
  warmup?: WarmupReport;
  firstMs: Record<string, number>;
  warmMs: Record<string, number>;
  gflop: Record<string, number>;
  gflops: Record<string, number>;
  layers: LayerRow[];
  /** Codec only: each GDN/IGDN layer next to a plain 1×1 conv of the same shape (bench/lib/layers.ts timeGdnVsConv). */
  gdnVsConv?: GdnVsConvRow[];
}

/** Codec encode (g_a + h_a + entropy) and decode (h_s + g_s) of a C×h×w stem map (method 1 pads it to ×64). */
export async function benchCodec(
  ctx: GpuContext,
  weights: CodecWeights,
  c: SizeCase,
  opts: { mode?: CodecMode; reps?: number; warmup?: boolean; layers?: boolean } = {},
): Promise<ModelBench> {
  const be = new GpuCodecBackend(ctx);
  const codec = await HyperpriorCodec.create(weights, be);
  const mode = opts.mode ?? 'compat';
  const h = Math.ceil(Math.ceil(c.height / 2) / 2),
    w = Math.ceil(Math.ceil(c.width / 2) / 2); // stem of the (padded) input
  const ph = Math.ceil(h / 64) * 64,
    pw = Math.ceil(w / 64) * 64;
  let s = 12345;
  const F = Float32Array.from({ length: codec.C * h * w }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.max(0, -Math.log(s / 2 ** 32 + 1e-9) - 0.7) * 3;
  });
  const warm = opts.warmup ? ((await codec.warmup(ph, pw, { mode })) ?? undefined) : undefined;
  const rec = recordLayers(be);
  const run = async (): Promise<{ enc: number; dec: number }> => {
    const x = be.fromCHW(F, codec.C, h, w);
    await ctx.sync();
    let t0 = performance.now();
    const e = await encodeFeatures(codec, x, { method: 1, mode, originalSize: [4 * h, 4 * w], resizedSize: [4 * h, 4 * w] });
    await ctx.sync();
    const enc = performance.now() - t0;
    const split = rec.calls.length;
    t0 = performance.now();
    const d = await decodeFeatures(codec, e.bytes);
    await ctx.sync();
    const dec = performance.now() - t0;
    be.release(x, d.features);
    encCalls = split;
    return { enc, dec };
  };
  let encCalls = 0;
  const first = await run();
  const reps = Math.max(1, opts.reps ?? 2);
  const runs: { enc: number; dec: number }[] = [];
  for (let i = 0; i < reps; i++) {
    rec.calls.length = 0;
    runs.push(await run());
  }
  rec.enabled = false;
  rec.restore();
  const calls = [...rec.calls];
  const encFlop = calls.slice(0, encCalls).reduce((a, x) => a + x.flops, 0) / 1e9;
  const decFlop = calls.slice(encCalls).reduce((a, x) => a + x.flops, 0) / 1e9;
  const warmMs = { encode: median(runs.map((r) => r.enc)), decode: median(runs.map((r) => r.dec)) };
  const layers = opts.layers === false ? [] : await timeLayers(ctx, be, calls);
  const gdnVsConv = opts.layers === false ? undefined : await timeGdnVsConv(ctx, be, calls);
  codec.release();
  return {
    gdnVsConv,
    name: `codec N=${codec.N} M=${codec.M} ${mode}`,
    size: `${c.name}: stem ${codec.C}x${h}x${w} (coded ${ph}x${pw})`,
    warmup: warm,
    firstMs: { encode: first.enc, decode: first.dec },
    warmMs,
    gflop: { encode: encFlop, decode: decFlop },
    gflops: { encode: encFlop / (warmMs.encode / 1e3), decode: decFlop / (warmMs.decode / 1e3) },
    layers,
  };
}

/** Detector: client stem, and receiver res2…heads, on an H×W image used at that size. */
export async function benchDetector(
  ctx: GpuContext,
  weights: DetectorWeights,
  c: SizeCase,
  opts: { reps?: number; warmup?: boolean; layers?: boolean } = {},
): Promise<ModelBench> {
  const ops = createGpuDetectorBackend(ctx);
  const det = await Detector.create(weights, ops, { ...identityResize(c), method2: c.method === 2 });
  const H = c.height,
    W = c.width;
  const img = new Uint8Array(H * W * 3);
  for (let i = 0; i < img.length; i++) img[i] = (i * 2654435761) >>> 24;
  const warm = opts.warmup ? ((await det.warmup(H, W)) ?? undefined) : undefined;
  const rec = recordLayers(ops);
  const run = async (): Promise<{ stem: number; fromStem: number; n: number }> => {
    let t0 = performance.now();
    const { stem, sizes } = await det.stem({ height: H, width: W, data: img });
    await ctx.sync();
    const ts = performance.now() - t0;
    t0 = performance.now();
    const d = await det.fromStem(stem, sizes);
    await ctx.sync();
    ops.release(stem);
    return { stem: ts, fromStem: performance.now() - t0, n: d.scores.length };
  };
  const first = await run();
  const reps = Math.max(1, opts.reps ?? 2);
  const runs: Awaited<ReturnType<typeof run>>[] = [];
  for (let i = 0; i < reps; i++) {
    rec.calls.length = 0;
    runs.push(await run());
  }
  rec.enabled = false;
  rec.restore();
  const calls = [...rec.calls];
  const stemFlop = calls.filter((x) => x.label.startsWith('stem')).reduce((a, x) => a + x.flops, 0) / 1e9;
  const restFlop = calls.filter((x) => !x.label.startsWith('stem')).reduce((a, x) => a + x.flops, 0) / 1e9;
  const warmMs = { stem: median(runs.map((r) => r.stem)), fromStem: median(runs.map((r) => r.fromStem)) };
  const layers = opts.layers === false ? [] : await timeLayers(ctx, ops, calls);
  det.dispose();
  return {
    name: `detector ${weights.config.stages?.map?.((s: { out: number }) => s.out).join('/') ?? ''}`.trim(),
    size: `${c.name} (method ${c.method})`,
    warmup: warm,
    firstMs: { stem: first.stem, fromStem: first.fromStem },
    warmMs,
    gflop: { stem: stemFlop, fromStem: restFlop },
    gflops: { stem: stemFlop / (warmMs.stem / 1e3), fromStem: restFlop / (warmMs.fromStem / 1e3) },
    layers,
  };
}

export function formatModelBench(b: ModelBench): string {
  const keys = Object.keys(b.warmMs);
  const lines = [
    `### ${b.name} — ${b.size}`,
    b.warmup
      ? `warmup(): ${b.warmup.totalMs.toFixed(0)} ms (${b.warmup.compiled} pipelines: compile ${b.warmup.compileMs.toFixed(0)} ms, prime ${b.warmup.primeMs.toFixed(0)} ms${b.warmup.extraMs ? `, heads run ${b.warmup.extraMs.toFixed(0)} ms` : ''})`
      : 'no warmup(): the first run compiles its pipelines',
    '| part | first run ms | warm run ms | GFLOP | warm GFLOP/s |',
    '|---|---|---|---|---|',
    ...keys.map(
      (k) => `| ${k} | ${b.firstMs[k]!.toFixed(1)} | ${b.warmMs[k]!.toFixed(1)} | ${b.gflop[k]!.toFixed(2)} | ${b.gflops[k]!.toFixed(1)} |`,
    ),
  ];
  if (b.layers.length) lines.push('', layerTable(b.layers));
  if (b.gdnVsConv?.length) {
    const names = new Set(b.gdnVsConv.map((r) => r.label));
    const gd = b.layers.filter((r) => names.has(r.label));
    const all = b.layers.reduce((a, r) => a + r.ms, 0),
      g = gd.reduce((a, r) => a + r.ms, 0);
    const warm = Object.values(b.warmMs).reduce((a, v) => a + v, 0);
    const gf = gd.reduce((a, r) => a + r.gflop, 0),
      af = b.layers.reduce((a, r) => a + r.gflop, 0);
    lines.push(
      '',
      `GDN/IGDN (${gd.length} layers): ${g.toFixed(1)} ms of ${all.toFixed(1)} ms summed layer time (${((100 * g) / all).toFixed(1)} %; ${((100 * g) / warm).toFixed(1)} % of the warm encode + decode), ${((100 * gf) / af).toFixed(1)} % of the FLOPs`,
      '',
      gdnVsConvTable(b.gdnVsConv),
    );
  }
  return lines.join('\n');
}

export interface E2EBench {
  size: string;
  models: string;
  warmup?: { encoder: WarmupReport; decoder: WarmupReport };
  firstMs: { encode: number; decode: number };
  warmMs: { encode: number; decode: number };
  bytes: number;
  detections: number;
  encoderTimings: Record<string, number>;
}

/** The library API end to end (createEncoder → encode → createDecoder → decode), first run vs warm runs. */
export async function benchE2E(
  device: GPUDevice,
  det: DetectorWeights,
  codec: CodecWeights,
  c: SizeCase,
  opts: { reps?: number; warmup?: boolean; mode?: CodecMode; image?: { height: number; width: number; data: Uint8Array } } = {},
): Promise<E2EBench> {
  const { createEncoder, createDecoder } = await import('../../src/api/index.ts');
  const o = { detector: det, codec, device, ...identityResize(c) };
  const enc = await createEncoder({ ...o, method: c.method, mode: opts.mode ?? 'compat' });
  const dec = await createDecoder(o);
  try {
    const img = opts.image ?? {
      height: c.height,
      width: c.width,
      data: Uint8Array.from({ length: c.height * c.width * 3 }, (_, i) => ((i * 2654435761) >>> 24) & 0xff),
    };
    let warmup: E2EBench['warmup'];
    if (opts.warmup) {
      const e = await enc.warmup({ height: img.height, width: img.width });
      const d = await dec.warmup({ height: img.height, width: img.width, method: c.method, ...identityResize(c) });
      warmup = { encoder: e, decoder: d };
    }
    const once = async (): Promise<{ e: number; d: number; bytes: Uint8Array; n: number; t: Record<string, number> }> => {
      let t0 = performance.now();
      const r = await enc.encode(img);
      const e = performance.now() - t0;
      t0 = performance.now();
      const out = await dec.decode(r.bytes);
      return { e, d: performance.now() - t0, bytes: r.bytes, n: out.detections.scores.length, t: r.timings };
    };
    const first = await once();
    const runs = [];
    for (let i = 0; i < Math.max(1, opts.reps ?? 2); i++) runs.push(await once());
    return {
      size: `${c.name} (method ${c.method})`,
      models: `detector stem ${det.config.stemOut}, codec N=${codec.N} M=${codec.M}`,
      warmup,
      firstMs: { encode: first.e, decode: first.d },
      warmMs: { encode: median(runs.map((r) => r.e)), decode: median(runs.map((r) => r.d)) },
      bytes: first.bytes.length,
      detections: first.n,
      encoderTimings: runs.at(-1)!.t,
    };
  } finally {
    enc.dispose();
    dec.dispose();
  }
}

export function formatE2E(b: E2EBench): string {
  const w = b.warmup;
  return [
    `### end to end — ${b.size}; ${b.models}; ${b.bytes} B stream, ${b.detections} detections`,
    w
      ? `warmup(): encoder ${w.encoder.totalMs.toFixed(0)} ms (${w.encoder.compiled} pipelines), decoder ${w.decoder.totalMs.toFixed(0)} ms (${w.decoder.compiled} pipelines)`
      : 'no warmup(): the first run compiles its pipelines',
    `| | first run ms | warm run ms |`,
    '|---|---|---|',
    `| encode | ${b.firstMs.encode.toFixed(1)} | ${b.warmMs.encode.toFixed(1)} |`,
    `| decode | ${b.firstMs.decode.toFixed(1)} | ${b.warmMs.decode.toFixed(1)} |`,
  ].join('\n');
}
