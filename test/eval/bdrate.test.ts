import { describe, expect, it } from 'vitest';
import { bdQuality, bdRate, pchipIntegral, polyfit, type RdPoint } from '../../src/eval/bdrate.ts';

const curve = (rates: number[], q: number[]): RdPoint[] => rates.map((rate, i) => ({ rate, quality: q[i]! }));

// A textbook-shaped pair (mAP in %), reference values from numpy.polyfit/polyint (VCEG-M33) and
// scipy.interpolate.PchipInterpolator(...).integrate on the same numbers (numpy 1.24, scipy 1.10).
const A = curve([0.1, 0.2, 0.4, 0.8, 1.6], [20, 28, 33, 36, 37.5]);
const B = curve([0.12, 0.21, 0.35, 0.7, 1.2], [24, 30, 34.5, 36.8, 38]);

describe('Bjøntegaard delta', () => {
  it('a constant rate factor gives exactly that BD-rate (cubic and pchip), and 0 against itself', () => {
    for (const k of [0.8, 0.5, 1.25]) {
      const T = A.map((p) => ({ rate: p.rate * k, quality: p.quality }));
      for (const m of ['cubic', 'pchip'] as const) {
        const r = bdRate(A, T, m);
        expect(r.reason).toBeUndefined();
        expect(Math.abs(r.value - (k - 1) * 100)).toBeLessThan(1e-9);
        expect(r.range).toEqual([20, 37.5]);
      }
    }
    expect(Math.abs(bdRate(A, A).value)).toBeLessThan(1e-12);
  });

  it('matches numpy (VCEG-M33 cubic) and scipy PCHIP on a non-trivial pair', () => {
    expect(Math.abs(bdRate(A, B, 'cubic').value - -22.301418640213665)).toBeLessThan(1e-9);
    expect(Math.abs(bdRate(A, B, 'pchip').value - -23.171782138661722)).toBeLessThan(1e-9);
    expect(Math.abs(bdQuality(A, B, 'cubic').value - 1.64139986277603)).toBeLessThan(1e-9);
    expect(Math.abs(bdQuality(A, B, 'pchip').value - 1.5857563197299704)).toBeLessThan(1e-9);
    // antisymmetry in log-rate: (1 + BD(A→B)) · (1 + BD(B→A)) = 1 only approximately for fits; for pchip over the
    // same range the mean log difference flips sign exactly
    const ab = bdRate(A, B, 'pchip').value,
      ba = bdRate(B, A, 'pchip').value;
    expect(Math.abs((1 + ab / 100) * (1 + ba / 100) - 1)).toBeLessThan(1e-12);
  });

  it('non-overlapping ranges, too few points, flat curves and bad rates give NaN with a reason', () => {
    const low = curve([0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]);
    const high = curve([0.1, 0.2, 0.3, 0.4], [10, 11, 12, 13]);
    let r = bdRate(low, high);
    expect(r.value).toBeNaN();
    expect(r.reason).toMatch(/no overlapping quality range: anchor \[1, 4\], test \[10, 13\]/);
    r = bdRate(A, curve([0.1, 0.2, 0.3], [20, 30, 35]), 'cubic');
    expect(r.value).toBeNaN();
    expect(r.reason).toMatch(/test curve has 3 point\(s\); cubic needs 4/);
    expect(bdRate(A, curve([0.1, 0.2, 0.3], [20, 30, 35]), 'pchip').reason).toBeUndefined();
    r = bdRate(A, curve([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 0]));
    expect(r.value).toBeNaN();
    expect(r.reason).toMatch(/only 1 distinct quality value/);
    r = bdRate(A, curve([0, 0.2, 0.3, 0.4], [20, 25, 30, 35]));
    expect(r.reason).toMatch(/rates must be > 0/);
  });

  it('polyfit recovers a cubic exactly; pchip integrates a straight line exactly', () => {
    const x = [0, 1, 2, 3, 4, 5];
    const c = polyfit(
      x,
      x.map((v) => 1 - 2 * v + 0.5 * v * v - 0.25 * v ** 3),
      3,
    );
    [1, -2, 0.5, -0.25].forEach((v, i) => expect(Math.abs(c[i]! - v)).toBeLessThan(1e-10));
    expect(Math.abs(pchipIntegral([0, 1, 3], [1, 3, 7], 0.5, 2.5) - ((2 * 2.5 ** 2) / 2 + 2.5 - (0.5 ** 2 + 0.5)))).toBeLessThan(1e-12);
  });
});
