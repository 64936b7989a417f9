/**
 * Per-layer figures for the benches: every conv2d / GDN call of a real graph run is recorded (label, input shape,
 * handle, options) with its FLOPs; each recorded layer is then re-run on its own, on fresh random inputs of the same
 * shapes, `k` times in one submission (so per-dispatch submit/wait latency is amortised the way a whole graph
 * amortises it), giving ms and GFLOP/s per layer on any adapter (no timestamp queries, which Dawn quantises).
 * FLOPs: conv 2·OC·OH·OW·C·KH·KW (transposed: 2·C·H·W·OC·KH·KW, the dense equivalent); GDN 2·C²·H·W + 4·C·H·W.
 */
import './shaders.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { GpuTensor } from '../../src/gpu/tensor.ts';
import type { ConvHandle, ConvOpts } from '../../src/model/backend.ts';
import type { GdnHandle } from '../../src/model/codec/ops.ts';

interface ConvCall {
  kind: 'conv';
  label: string;
  shape: number[];
  layout: GpuTensor['layout'];
  w: ConvHandle;
  opts: ConvOpts;
  resShape?: number[];
  flops: number;
}
interface GdnCall {
  kind: 'gdn';
  label: string;
  shape: number[];
  layout: GpuTensor['layout'];
  g: GdnHandle;
  flops: number;
}
export type LayerCall = ConvCall | GdnCall;

export interface LayerRow {
  label: string;
  calls: number;
  gflop: number;
  ms: number;
  gflops: number;
}

interface Instrumentable {
  conv2d(x: GpuTensor, w: ConvHandle, opts?: ConvOpts): GpuTensor;
  gdn?(x: GpuTensor, g: GdnHandle): GpuTensor;
}

/** Record conv2d / gdn calls on a backend instance while `enabled`; `restore()` puts the methods back. */
export function recordLayers(be: Instrumentable): { calls: LayerCall[]; enabled: boolean; restore(): void; flops(): number } {
  const rec = { calls: [] as LayerCall[], enabled: true, restore: () => {}, flops: () => rec.calls.reduce((a, c) => a + c.flops, 0) };
  const conv = be.conv2d;
  const gdn = be.gdn;
  be.conv2d = function (this: unknown, x: GpuTensor, w: ConvHandle, opts: ConvOpts = {}): GpuTensor {
    const y = conv.call(be, x, w, opts);
    if (rec.enabled) {
      const [C, H, W] = x.shape as number[];
      const [OC, OH, OW] = y.shape as number[];
      const flops = w.transposed ? 2 * C! * H! * W! * w.OC * w.KH * w.KW : 2 * OC! * OH! * OW! * w.C * w.KH * w.KW;
      const r = opts.residual as GpuTensor | undefined;
      rec.calls.push({
        kind: 'conv',
        label: opts.label ?? 'conv2d',
        shape: [...x.shape],
        layout: x.layout,
        w,
        opts: { ...opts, residual: undefined },
        resShape: r ? [...r.shape] : undefined,
        flops,
      });
    }
    return y;
  };
  if (gdn) {
    be.gdn = function (this: unknown, x: GpuTensor, g: GdnHandle): GpuTensor {
      const y = gdn.call(be, x, g);
      if (rec.enabled) {
        const [C, H, W] = x.shape as number[];
        rec.calls.push({
          kind: 'gdn',
          label: (g as { label?: string }).label ?? (g.inverse ? 'igdn' : 'gdn'),
          shape: [...x.shape],
          layout: x.layout,
          g,
          flops: 2 * C! * C! * H! * W! + 4 * C! * H! * W!,
        });
      }
      return y;
    };
  }
  rec.restore = () => {
    be.conv2d = conv;
    if (gdn) be.gdn = gdn;
  };
  return rec;
}

function randomTensor(ctx: GpuContext, shape: number[], layout: GpuTensor['layout'], seed: number): GpuTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    d[i] = (s / 2 ** 32) * 2 - 1;
  }
  return ctx.upload(d, shape, { layout });
}

/**
 * Re-run each recorded layer alone (`be` must be the un-instrumented backend) and time it: one untimed run, then
 * `k` runs in one submission with k chosen so a measurement lasts about `targetMs` (1 ≤ k ≤ maxK). Rows keep the
 * graph's order; a label that occurs several times (e.g. rpn.conv per level) is summed.
 */
/** ms of one call of `once` (after one untimed run): `k` runs in one submission, k chosen so a measurement lasts ~targetMs. */
async function timeCall(ctx: GpuContext, once: () => void, target: number, maxK: number): Promise<number> {
  once();
  await ctx.sync();
  let t0 = performance.now();
  once();
  await ctx.sync();
  let ms = performance.now() - t0;
  const k = Math.max(1, Math.min(maxK, Math.floor(target / Math.max(ms, 1e-3))));
  if (k > 1) {
    t0 = performance.now();
    for (let i = 0; i < k; i++) once();
    await ctx.sync();
    ms = (performance.now() - t0) / k;
  }
  return ms;
}

export async function timeLayers(
  ctx: GpuContext,
  be: Instrumentable,
  calls: LayerCall[],
  opts: { targetMs?: number; maxK?: number } = {},
): Promise<LayerRow[]> {
  const target = opts.targetMs ?? 100,
    maxK = opts.maxK ?? 20;
  const rows = new Map<string, LayerRow>();
  let seed = 1;
  for (const c of calls) {
    const x = randomTensor(ctx, c.shape, c.layout, seed++);
    const res = c.kind === 'conv' && c.resShape ? randomTensor(ctx, c.resShape, 'hwc', seed++) : undefined;
    const ms = await timeCall(
      ctx,
      () => {
        const y = c.kind === 'conv' ? be.conv2d(x, c.w, { ...c.opts, residual: res }) : be.gdn!(x, c.g);
        y.release();
      },
      target,
      maxK,
    );
    x.release();
    res?.release();
    const r = rows.get(c.label) ?? { label: c.label, calls: 0, gflop: 0, ms: 0, gflops: 0 };
    r.calls++;
    r.gflop += c.flops / 1e9;
    r.ms += ms;
    rows.set(c.label, r);
  }
  for (const r of rows.values()) r.gflops = r.gflop / (r.ms / 1e3);
  return [...rows.values()];
}

export interface GdnVsConvRow {
  label: string;
  shape: number[];
  gflop: number;
  gdnMs: number;
  legacyMs: number;
  convGflop: number;
  convMs: number;
  /** Output values where the current GDN and the legacy kernel differ (bitwise), and the largest relative difference. */
  differ: number;
  maxRel: number;
}

/** The GDN kernel before it moved onto the conv core (bench/shaders/gdn_legacy.wgsl): its pixel tile per workgroup. */
function legacyTile(P: number): number {
  return P >= 4096 ? 16 : P >= 256 ? 8 : 4;
}

interface GdnBench extends Instrumentable {
  prepareConv(w: Float32Array, shape: readonly number[], b: Float32Array | null, o?: { label?: string }): ConvHandle;
  prepareGdn(beta: Float32Array, gamma: Float32Array, C: number, inverse: boolean, label?: string): GdnHandle;
  gdn(x: GpuTensor, g: GdnHandle): GpuTensor;
}

/**
 * Each recorded GDN/IGDN layer's shape, timed three ways on the same random input in the same process: the codec's
 * GDN (be.gdn), the legacy GDN kernel (bench/shaders/gdn_legacy.wgsl, one output channel per lane) and the conv core as a
 * plain 1×1 C→C conv without the GDN epilogue (gamma as weight, beta as bias). FLOPs: GDN 2·C²·P + 4·C·P, the 1×1
 * conv 2·C²·P. The three are interleaved `rounds` times (median of each). Parameters are random (diag 0.1, ~30 % small positive off-diagonal gamma; beta in [0.5, 1.5]): speed
 * does not depend on values; the GDN outputs of the two kernels are also compared bitwise.
 */
export async function timeGdnVsConv(
  ctx: GpuContext,
  be: GdnBench,
  calls: LayerCall[],
  opts: { targetMs?: number; maxK?: number; rounds?: number } = {},
): Promise<GdnVsConvRow[]> {
  const target = opts.targetMs ?? 100,
    maxK = opts.maxK ?? 20,
    rounds = opts.rounds ?? 3;
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out: GdnVsConvRow[] = [];
  let s = 99;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (const c of calls) {
    if (c.kind !== 'gdn') continue;
    const [C, H, W] = c.shape as [number, number, number];
    const P = H * W;
    const inverse = c.g.inverse;
    const beta = Float32Array.from({ length: C }, () => 0.5 + rnd());
    const gamma = Float32Array.from({ length: C * C }, (_, i) => (i % (C + 1) === 0 ? 0.1 : rnd() < 0.3 ? 0.01 * rnd() : 0));
    const x = randomTensor(ctx, c.shape, 'hwc', s);
    const g = be.prepareGdn(beta, gamma, C, inverse, c.label);
    const lb = ctx.upload(beta, [C], { label: 'legacy.beta' }),
      lg = ctx.upload(gamma, [C, C], { label: 'legacy.gamma' });
    const TP = legacyTile(P);
    const pipe = ctx.pipeline('gdn_legacy', { TP, INVERSE: inverse });
    const legacy = (): GpuTensor => {
      const y = ctx.empty([C, H, W], 'f32', 'hwc', 'legacy.y');
      ctx.dispatch(pipe, [ctx.uniform([P, C]), x, lb, lg, y], [Math.ceil(C / 64), Math.ceil(P / TP)], `${c.label}.legacy`);
      return y;
    };
    const yn = be.gdn(x, g),
      yl = legacy();
    const a = (await ctx.read(yn)) as Float32Array,
      b = (await ctx.read(yl)) as Float32Array;
    yn.release();
    yl.release();
    let differ = 0,
      maxRel = 0;
    for (let i = 0; i < a.length; i++) {
      if (Object.is(a[i], b[i])) continue;
      differ++;
      maxRel = Math.max(maxRel, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-30));
    }
    const w = be.prepareConv(gamma, [C, C, 1, 1], beta, { label: `${c.label}.as_conv1x1` });
    // the three kernels interleaved, `rounds` times, median each (the shared machine's load drifts)
    const t: number[][] = [[], [], []];
    for (let r = 0; r < rounds; r++) {
      t[0]!.push(await timeCall(ctx, () => be.gdn(x, g).release(), target, maxK));
      t[1]!.push(await timeCall(ctx, () => legacy().release(), target, maxK));
      t[2]!.push(await timeCall(ctx, () => be.conv2d(x, w, { label: `${c.label}.as_conv1x1` }).release(), target, maxK));
    }
    const [gdnMs, legacyMs, convMs] = t.map(med) as [number, number, number];
    w.release();
    g.release();
    lb.release();
    lg.release();
    x.release();
    out.push({
      label: c.label,
      shape: [C, H, W],
      gflop: c.flops / 1e9,
      gdnMs,
      legacyMs,
      convGflop: (2 * C * C * P) / 1e9,
      convMs,
      differ,
      maxRel,
    });
  }
  return out;
}

export function gdnVsConvTable(rows: GdnVsConvRow[]): string {
  const gf = (g: number, ms: number): string => (g / (ms / 1e3)).toFixed(2);
  const lines = [
    '| GDN layer | C×H×W | GDN ms | GDN GFLOP/s | legacy GDN ms | legacy GFLOP/s | 1×1 conv ms | conv GFLOP/s | GDN ÷ conv time | values ≠ legacy (max rel) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.shape.join('×')} | ${r.gdnMs.toFixed(2)} | ${gf(r.gflop, r.gdnMs)} | ${r.legacyMs.toFixed(2)} | ${gf(r.gflop, r.legacyMs)} | ${r.convMs.toFixed(2)} | ${gf(r.convGflop, r.convMs)} | ${(r.gdnMs / r.convMs).toFixed(2)} | ${r.differ} of ${r.shape.reduce((a, b) => a * b, 1)} (${r.maxRel.toExponential(1)}) |`,
    );
  }
  const sum = (f: (r: GdnVsConvRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
  lines.push(
    `| **all** | | ${sum((r) => r.gdnMs).toFixed(1)} | ${gf(
      sum((r) => r.gflop),
      sum((r) => r.gdnMs),
    )} | ${sum((r) => r.legacyMs).toFixed(1)} | ${gf(
      sum((r) => r.gflop),
      sum((r) => r.legacyMs),
    )} | ${sum((r) => r.convMs).toFixed(1)} | ${gf(
      sum((r) => r.convGflop),
      sum((r) => r.convMs),
    )} | ${(sum((r) => r.gdnMs) / sum((r) => r.convMs)).toFixed(2)} | |`,
  );
  return lines.join('\n');
}

export function layerTable(rows: LayerRow[], title = 'layer'): string {
  const tot = rows.reduce((a, r) => ({ gflop: a.gflop + r.gflop, ms: a.ms + r.ms }), { gflop: 0, ms: 0 });
  const lines = [`| ${title} | GFLOP | ms | GFLOP/s |`, '|---|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| ${r.label}${r.calls > 1 ? ` (×${r.calls})` : ''} | ${r.gflop.toFixed(3)} | ${r.ms.toFixed(2)} | ${r.gflops.toFixed(1)} |`,
    );
  lines.push(`| **sum of layers** | ${tot.gflop.toFixed(2)} | ${tot.ms.toFixed(1)} | ${(tot.gflop / (tot.ms / 1e3)).toFixed(1)} |`);
  return lines.join('\n');
}
