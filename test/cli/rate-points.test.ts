// `webvcm eval` without --codec runs every bundled rate point: the manifest weights/world/rate-points.json.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledRatePoints, DEFAULT_CODEC, RATE_POINTS_MANIFEST } from '../../src/cli/defaults.ts';
import { readFileSync } from 'node:fs';

describe('bundled rate points', () => {
  it('the manifest lists at least 4 existing codec files in rising λ, the bundled default among them', () => {
    const pts = bundledRatePoints();
    expect(pts.length).toBeGreaterThanOrEqual(4);
    expect(pts).toContain(DEFAULT_CODEC);
    const m = JSON.parse(readFileSync(RATE_POINTS_MANIFEST, 'utf8')) as { ratePoints: { lambda: number }[] };
    const l = m.ratePoints.map((p) => p.lambda);
    expect(l).toEqual([...l].sort((a, b) => a - b));
  });

  it('no manifest → the default codec alone; a manifest naming a missing file or garbage → a usage error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'webvcm-rp-'));
    expect(bundledRatePoints(join(dir, 'none.json'))).toEqual([DEFAULT_CODEC]);
    writeFileSync(join(dir, 'm.json'), JSON.stringify({ ratePoints: [{ file: 'nope.safetensors' }] }));
    expect(() => bundledRatePoints(join(dir, 'm.json'))).toThrow(/names missing codec file\(s\): .*nope\.safetensors/);
    writeFileSync(join(dir, 'g.json'), '{');
    expect(() => bundledRatePoints(join(dir, 'g.json'))).toThrow(/not a rate-point manifest/);
    writeFileSync(join(dir, 'e.json'), '{"ratePoints": []}');
    expect(() => bundledRatePoints(join(dir, 'e.json'))).toThrow(/expected ratePoints/);
  });
});
