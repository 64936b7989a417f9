/**
 * Tuned conv2d variants (`webvcm tune`): per adapter + driver, the measured winner for each conv geometry a model runs.
 * The table is installed on a GpuContext (installTuning) and conv2d prefers a valid tuned variant over the selector's
 * choice; an explicit `variant` override still wins. Pure helpers (keys, candidates, winner) are tested; file I/O is
 * in src/gpu/tuning-node.ts so this module stays browser-safe.
 */
import type { GpuContext } from './context.ts';
import { EXAMPLE_ADAPTERS, type AdapterDescription } from './adapter-class.ts';
import type { AdapterSummary } from './device.ts';
import { convVariantProblem, selectConvVariant, type ConvGeometry, type ConvReplay, type ConvVariant } from './ops/conv-select.ts';

export const TUNE_CACHE_VERSION = 1;

/** On disk: one table per adapter key. */
export interface TuneCache {
  version: number;
  adapters: Record<string, { tuned: string; table: Record<string, ConvVariant> }>;
}

/** Adapter + driver key (Mesa and most drivers put their version in the description). */
export function adapterKey(info: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description' | 'backend'>): string {
  return [info.backend, info.vendor, info.architecture, info.device, info.description].join('|');
}

/** Geometry key: everything selectConvVariant / convVariantProblem read. */
export function geometryKey(g: ConvGeometry): string {
  return `M${g.M} C${g.C} OC${g.OC} k${g.KH}x${g.KW} s${g.SH}x${g.SW} p${g.PH}x${g.PW}${g.transposed ? ' T' : ''}${g.outMap ? ' map' : ''}`;
}

/**
 * Candidate variants for a geometry on an adapter (pure; tested): what the selector picks for every adapter class
 * (with this adapter's limits), plus BK and workgroup neighbours of the current choice; deduplicated, valid only.
 */
export function convCandidates(g: ConvGeometry, a: AdapterDescription): ConvVariant[] {
  const limits = { maxInvocations: a.maxInvocations, maxWorkgroupStorage: a.maxWorkgroupStorage };
  const out = new Map<string, ConvVariant>();
  const add = (v: ConvVariant) => {
    if (convVariantProblem(v, g, limits) === null) out.set(JSON.stringify(v), v);
  };
  const base = selectConvVariant(g, a);
  add(base);
  for (const ex of Object.values(EXAMPLE_ADAPTERS))
    add(selectConvVariant(g, { ...ex, maxInvocations: a.maxInvocations, maxWorkgroupStorage: a.maxWorkgroupStorage }));
  add(selectConvVariant(g, limits)); // the software choice
  for (const BK of [8, 32]) add({ ...base, BK });
  add({ ...base, WGX: Math.max(1, base.WGX >> 1), WGY: base.WGY * 2 });
  return [...out.values()];
}

/** The fastest candidate by median time (pure; tested); ties keep the first (the selector's choice). */
export function pickWinner(times: { variant: ConvVariant; ms: number[] }[]): { variant: ConvVariant; ms: number } {
  if (!times.length) throw new Error('pickWinner: no candidates');
  const med = (a: number[]) => {
    const s = [...a].sort((x, y) => x - y);
    return s[Math.floor((s.length - 1) / 2)]!;
  };
  let best = { variant: times[0]!.variant, ms: med(times[0]!.ms) };
  for (const t of times.slice(1)) {
    const m = med(t.ms);
    if (m < best.ms) best = { variant: t.variant, ms: m };
  }
  return best;
}

const TABLES = new WeakMap<GpuContext, Map<string, ConvVariant>>();
const RECORDERS = new WeakMap<GpuContext, Map<string, ConvReplay>>();

/** Install a tuned table (geometry key → variant) on a context; conv2d uses it from then on. */
export function installTuning(ctx: GpuContext, table: Record<string, ConvVariant>): void {
  TABLES.set(ctx, new Map(Object.entries(table)));
}

let loader: ((ctx: GpuContext) => void) | null = null;
const LOADED = new WeakSet<GpuContext>();
/** Register how a context finds its cached table on first use (Node: tuning-node.ts's enableTuneCache; null: off). */
export function setTuningLoader(fn: ((ctx: GpuContext) => void) | null): void {
  loader = fn;
}

/** The tuned variant for a geometry on this context, if any (runs the registered loader once per context). */
export function tunedVariant(ctx: GpuContext, g: ConvGeometry): ConvVariant | undefined {
  if (loader && !LOADED.has(ctx)) {
    LOADED.add(ctx);
    if (!TABLES.has(ctx)) loader(ctx);
  }
  return TABLES.get(ctx)?.get(geometryKey(g));
}

/** Start collecting the conv geometries this context dispatches (for `webvcm tune`); returns the live map. */
export function recordConvGeometries(ctx: GpuContext): Map<string, ConvReplay> {
  const m = new Map<string, ConvReplay>();
  RECORDERS.set(ctx, m);
  return m;
}
export function stopRecording(ctx: GpuContext): void {
  RECORDERS.delete(ctx);
}

/** Called by conv2d for every dispatch. */
export function noteConvGeometry(ctx: GpuContext, r: ConvReplay): void {
  const m = RECORDERS.get(ctx);
  if (m && !m.has(geometryKey(r.geom))) m.set(geometryKey(r.geom), r);
}
