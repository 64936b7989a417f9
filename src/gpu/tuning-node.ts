/** Node side of the tune cache (`webvcm tune` writes it; applyTuneCache installs this adapter's table on a context). */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { GpuContext } from './context.ts';
import type { ConvVariant } from './ops/conv.ts';
import { adapterKey, installTuning, setTuningLoader, TUNE_CACHE_VERSION, type TuneCache } from './tuning.ts';

/** $WEBVCM_TUNE_CACHE, else $XDG_CACHE_HOME/webvcm/tune.json, else ~/.cache/webvcm/tune.json. */
export function defaultTuneCachePath(): string {
  if (process.env.WEBVCM_TUNE_CACHE) return process.env.WEBVCM_TUNE_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webvcm', 'tune.json');
}

/** Read a cache file; a missing, unreadable or other-version file reads as empty (tuning is an optimisation). */
export function loadTuneCache(path = defaultTuneCachePath()): TuneCache {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as TuneCache;
    if (c && c.version === TUNE_CACHE_VERSION && typeof c.adapters === 'object' && c.adapters) return c;
  } catch {
    /* absent or corrupt: empty */
  }
  return { version: TUNE_CACHE_VERSION, adapters: {} };
}

/** Merge this adapter's table into the cache file (atomic rename). */
export function saveTuneTable(ctx: GpuContext, table: Record<string, ConvVariant>, path = defaultTuneCachePath()): void {
  const c = loadTuneCache(path);
  c.adapters[adapterKey(ctx.info)] = {
    tuned: new Date().toISOString(),
    table: { ...(c.adapters[adapterKey(ctx.info)]?.table ?? {}), ...table },
  };
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path + '.tmp', JSON.stringify(c, null, 1) + '\n');
  renameSync(path + '.tmp', path);
}

/** Install the cached table for ctx's adapter + driver, if there is one; returns how many geometries it covers. */
export function applyTuneCache(ctx: GpuContext, path = defaultTuneCachePath()): number {
  const t = loadTuneCache(path).adapters[adapterKey(ctx.info)]?.table;
  if (!t) return 0;
  installTuning(ctx, t);
  return Object.keys(t).length;
}

/** Make every context created from now on apply the tune cache on its first conv (the CLI calls this; WEBVCM_TUNE=0 disables). */
export function enableTuneCache(path?: string): void {
  if (process.env.WEBVCM_TUNE === '0') {
    setTuningLoader(null);
    return;
  }
  setTuningLoader((ctx) => {
    applyTuneCache(ctx, path ?? defaultTuneCachePath());
  });
}
