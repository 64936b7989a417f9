/** CLI timings: an optional warm-up, the first run and (with --runs > 1) the last, warm run, reported separately. */
export interface TimedRuns<R extends { timings: Record<string, number> }> {
  first: R;
  firstMs: number;
  warm?: R;
  warmMs?: number;
  warmupMs?: number;
  summary: { firstRunMs: number; warmRunMs?: number; warmupMs?: number; warmTimingsMs?: Record<string, number> };
}

export async function timedRuns<R extends { timings: Record<string, number> }>(
  run: () => Promise<R>,
  runs: number,
  warmup?: () => Promise<unknown>,
): Promise<TimedRuns<R>> {
  let warmupMs: number | undefined;
  if (warmup) {
    const t = performance.now();
    await warmup();
    warmupMs = performance.now() - t;
  }
  let t = performance.now();
  const first = await run();
  const firstMs = performance.now() - t;
  let warm: R | undefined, warmMs: number | undefined;
  for (let i = 1; i < runs; i++) {
    t = performance.now();
    warm = await run();
    warmMs = performance.now() - t;
  }
  return {
    first,
    firstMs,
    warm,
    warmMs,
    warmupMs,
    summary: { firstRunMs: firstMs, warmRunMs: warmMs, warmupMs, warmTimingsMs: warm?.timings },
  };
}

export function formatTimedRuns(t: TimedRuns<{ timings: Record<string, number> }>): string {
  const keys = [...new Set([...Object.keys(t.first.timings), ...Object.keys(t.warm?.timings ?? {})])];
  const head = `  ${'stage'.padEnd(24)} ${(t.warmupMs !== undefined ? 'first run (after warmup)' : 'first run (cold)').padStart(26)}${t.warm ? ` ${'warm run'.padStart(10)}` : ''}`;
  const row = (k: string, a: number | undefined, b: number | undefined): string =>
    `  ${k.padEnd(24)} ${a === undefined ? ''.padStart(26) : `${a.toFixed(1)} ms`.padStart(26)}${t.warm ? ` ${b === undefined ? '' : `${b.toFixed(1)} ms`.padStart(10)}` : ''}`;
  const lines = [head];
  if (t.warmupMs !== undefined) lines.push(row('warmup (compile)', t.warmupMs, undefined));
  for (const k of keys) lines.push(row(k, t.first.timings[k], t.warm?.timings[k]));
  lines.push(row('total', t.firstMs, t.warmMs));
  return lines.join('\n') + '\n';
}
