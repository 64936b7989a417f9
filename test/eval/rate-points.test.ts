// A variable-rate checkpoint in eval: one rate point per level, or per --scales gain, on one curve (pure parts).
import { describe, expect, it } from 'vitest';
import { parseScales } from '../../src/cli/eval.ts';
import { ratePoints } from '../../src/eval/rd-runner.ts';

describe('eval rate points', () => {
  const levels = [0.1, 0.13944, 0.19293].map(Math.fround);
  it('a fixed-rate checkpoint is one point; a VBR checkpoint one per level', () => {
    expect(ratePoints([[], levels])).toEqual([
      { codec: 0, gain: undefined, suffix: '' },
      { codec: 1, gain: levels[0], suffix: '@level0' },
      { codec: 1, gain: levels[1], suffix: '@level1' },
      { codec: 1, gain: levels[2], suffix: '@level2' },
    ]);
  });
  it('--scales replaces the levels of the VBR checkpoints', () => {
    expect(ratePoints([levels], [0.2, 0.7]).map((p) => [p.gain, p.suffix])).toEqual([[Math.fround(0.2), '@scale0.2'], [Math.fround(0.7), '@scale0.7']]);
  });
  it('--scales parsing', () => {
    expect(parseScales('0.1, 0.45,1')).toEqual([0.1, 0.45, 1]);
    expect(() => parseScales('0.1,-1')).toThrow(/positive/);
    expect(() => parseScales('0.1,x')).toThrow(/positive/);
    expect(() => parseScales('0.5,0.5')).toThrow(/twice/);
  });
});
