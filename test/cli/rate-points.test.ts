// `webvcm eval` without --codec runs every bundled rate point: the manifest weights/world/rate-points.json.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundledRatePoints, DEFAULT_CODEC, RATE_POINTS_MANIFEST } from '../../src/cli/defaults.ts';
import { readFileSync } from 'node:fs';
import { loadCodecWeights } from '../../src/model/weights/index.ts';

describe('bundled rate points', () => {
  it('the manifest gives at least 6 rate points (a variable-rate file: one per level), the bundled default among them', async () => {
    const pts = bundledRatePoints();
    expect(pts).toContain(DEFAULT_CODEC);
    let n = 0;
    for (const p of pts) {
      const gain = (await loadCodecWeights(p)).tensors.get('Gain');
      n += gain ? gain.data.length : 1;
    }
    expect(n).toBeGreaterThanOrEqual(6);
    // entries in rising rate: a fixed-rate entry's λ, a variable-rate entry's λ per level
    const m = JSON.parse(readFileSync(RATE_POINTS_MANIFEST, 'utf8')) as { ratePoints: { lambda: number | number[] }[] };
    const l = m.ratePoints.flatMap((p) => p.lambda);
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
