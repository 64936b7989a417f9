/**
 * Bjøntegaard delta rate (G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33,
 * 2001) with a detection metric as the quality axis: for each curve, log10(rate) is fitted as a function of quality
 * (mAP), both fits are integrated over the overlapping quality range, and the mean log-rate difference becomes a
 * percentage, BD-rate = (10^((∫ logR_test − ∫ logR_ref) / (hi − lo)) − 1) · 100. Negative = the test curve needs
 * fewer bits for the same mAP.
 *
 * Two interpolators:
 *  - 'cubic': VCEG-M33's least-squares cubic polynomial (numpy.polyfit(q, log R, 3), integrated exactly); needs 4+
 *    points per curve;
 *  - 'pchip': piecewise cubic Hermite (Fritsch–Carlson, as scipy.interpolate.PchipInterpolator; the variant of
 *    JCTVC-L0242 / the CompressAI and VCM reporting scripts), integrated exactly per interval; needs 2+ points with
 *    distinct qualities, monotone between the points.
 * BD-quality (mean mAP difference at equal rate) is the same with the axes swapped.
 *
 * A pair without an overlapping quality range, with too few points or non-finite values gives NaN and a reason,
 * never a number that means nothing.
 */

export interface RdPoint {
  /** rate, e.g. bpp (> 0) */
  rate: number;
  /** quality, e.g. mAP (any unit; the same for both curves) */
  quality: number;
}

export type BdInterpolation = 'cubic' | 'pchip';

export interface BdResult {
  /** percent; NaN when undefined (see reason) */
  value: number;
  /** why `value` is NaN */
  reason?: string;
  /** the overlapping interval of the integration axis ([lo, hi]; quality for BD-rate, log10 rate for BD-quality) */
  range?: [number, number];
}

/** Least-squares polynomial fit, coefficients lowest degree first. Normal equations on centred/scaled x. */
export function polyfit(x: readonly number[], y: readonly number[], degree: number): number[] {
  const n = x.length;
  if (n !== y.length || n < degree + 1) throw new RangeError(`polyfit: ${n} points for degree ${degree}`);
  // Solve with QR (modified Gram-Schmidt) on the Vandermonde matrix for stability.
  const m = degree + 1;
  const A: number[][] = x.map((xi) => Array.from({ length: m }, (_, j) => xi ** j));
  const Q: number[][] = A.map((r) => r.slice());
  const R: number[][] = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (let j = 0; j < m; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < n; i++) d += Q[i]![k]! * Q[i]![j]!;
      R[k]![j] = d;
      for (let i = 0; i < n; i++) Q[i]![j]! -= d * Q[i]![k]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += Q[i]![j]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new RangeError('polyfit: the points do not determine the polynomial (repeated x values)');
    R[j]![j] = norm;
    for (let i = 0; i < n; i++) Q[i]![j]! /= norm;
  }
  const qty = Array.from({ length: m }, (_, j) => x.reduce((s, _xi, i) => s + Q[i]![j]! * y[i]!, 0));
  const c = new Array<number>(m).fill(0);
  for (let j = m - 1; j >= 0; j--) {
    let s = qty[j]!;
    for (let k = j + 1; k < m; k++) s -= R[j]![k]! * c[k]!;
    c[j] = s / R[j]![j]!;
  }
  return c;
}

/** ∫_lo^hi of a polynomial (coefficients lowest degree first). */
export function polyIntegral(c: readonly number[], lo: number, hi: number): number {
  let s = 0;
  c.forEach((a, j) => {
    s += (a / (j + 1)) * (hi ** (j + 1) - lo ** (j + 1));
  });
  return s;
}

/** Fritsch–Carlson PCHIP slopes (scipy's PchipInterpolator, including its one-sided end-point formula). */
export function pchipSlopes(x: readonly number[], y: readonly number[]): number[] {
  const n = x.length;
  const h = Array.from({ length: n - 1 }, (_, i) => x[i + 1]! - x[i]!);
  const delta = h.map((hi, i) => (y[i + 1]! - y[i]!) / hi);
  if (n === 2) return [delta[0]!, delta[0]!];
  const d = new Array<number>(n).fill(0);
  for (let k = 1; k < n - 1; k++) {
    const a = delta[k - 1]!,
      b = delta[k]!;
    if (a === 0 || b === 0 || Math.sign(a) !== Math.sign(b)) d[k] = 0;
    else {
      const w1 = 2 * h[k]! + h[k - 1]!,
        w2 = h[k]! + 2 * h[k - 1]!;
      d[k] = (w1 + w2) / (w1 / a + w2 / b);
    }
  }
  const end = (h0: number, h1: number, m0: number, m1: number): number => {
    let e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
    if (Math.sign(e) !== Math.sign(m0)) e = 0;
    else if (Math.sign(m0) !== Math.sign(m1) && Math.abs(e) > Math.abs(3 * m0)) e = 3 * m0;
    return e;
  };
  d[0] = end(h[0]!, h[1]!, delta[0]!, delta[1]!);
  d[n - 1] = end(h[n - 2]!, h[n - 3]!, delta[n - 2]!, delta[n - 3]!);
  return d;
}

/** ∫_lo^hi of the PCHIP interpolant through (x, y) (x strictly increasing, lo..hi inside [x0, xn]). */
export function pchipIntegral(x: readonly number[], y: readonly number[], lo: number, hi: number): number {
  const d = pchipSlopes(x, y);
  // Hermite cubic on [x_i, x_i+1] in t = (u - x_i): p(t) = y_i + d_i t + c2 t^2 + c3 t^3
  let s = 0;
  for (let i = 0; i < x.length - 1; i++) {
    const a = Math.max(lo, x[i]!),
      b = Math.min(hi, x[i + 1]!);
    if (!(b > a)) continue;
    const h = x[i + 1]! - x[i]!,
      m = (y[i + 1]! - y[i]!) / h;
    const c2 = (3 * m - 2 * d[i]! - d[i + 1]!) / h,
      c3 = (d[i]! + d[i + 1]! - 2 * m) / (h * h);
    const F = (t: number) => y[i]! * t + (d[i]! * t * t) / 2 + (c2 * t ** 3) / 3 + (c3 * t ** 4) / 4;
    s += F(b - x[i]!) - F(a - x[i]!);
  }
  return s;
}

interface Prepared {
  x: number[];
  y: number[];
}

/** Sort by the integration axis; equal x values are averaged (a flat stretch of a curve). */
function prepare(xs: number[], ys: number[]): Prepared {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const x: number[] = [],
    y: number[] = [],
    cnt: number[] = [];
  for (const i of idx) {
    const last = x.length - 1;
    if (last >= 0 && xs[i] === x[last]) {
      y[last] = (y[last]! * cnt[last]! + ys[i]!) / (cnt[last]! + 1);
      cnt[last]!++;
    } else {
      x.push(xs[i]!);
      y.push(ys[i]!);
      cnt.push(1);
    }
  }
  return { x, y };
}

function bdCore(
  ref: { x: number[]; y: number[] },
  test: { x: number[]; y: number[] },
  interp: BdInterpolation,
  what: { x: string },
): { diff: number; range: [number, number] } | { reason: string } {
  const a = prepare(ref.x, ref.y),
    b = prepare(test.x, test.y);
  const need = interp === 'cubic' ? 4 : 2;
  for (const [name, c, raw] of [
    ['anchor', a, ref],
    ['test', b, test],
  ] as const) {
    if (raw.x.length < need) return { reason: `the ${name} curve has ${raw.x.length} point(s); ${interp} needs ${need}` };
    if (c.x.length < need)
      return { reason: `the ${name} curve has only ${c.x.length} distinct ${what.x} value(s); ${interp} needs ${need}` };
  }
  const lo = Math.max(a.x[0]!, b.x[0]!),
    hi = Math.min(a.x[a.x.length - 1]!, b.x[b.x.length - 1]!);
  if (!(hi > lo)) {
    return {
      reason: `no overlapping ${what.x} range: anchor [${a.x[0]}, ${a.x[a.x.length - 1]}], test [${b.x[0]}, ${b.x[b.x.length - 1]}]`,
    };
  }
  const integ = (c: Prepared): number => {
    if (interp === 'pchip') return pchipIntegral(c.x, c.y, lo, hi);
    // centre and scale x so the fit is well conditioned; the integral transforms back
    const mu = (c.x[0]! + c.x[c.x.length - 1]!) / 2,
      sc = (c.x[c.x.length - 1]! - c.x[0]!) / 2 || 1;
    const coef = polyfit(
      c.x.map((v) => (v - mu) / sc),
      c.y,
      3,
    );
    return polyIntegral(coef, (lo - mu) / sc, (hi - mu) / sc) * sc;
  };
  return { diff: (integ(b) - integ(a)) / (hi - lo), range: [lo, hi] };
}

function checkFinite(c: readonly RdPoint[], name: string): string | undefined {
  const bad = c.find((p) => !Number.isFinite(p.rate) || !Number.isFinite(p.quality) || p.rate <= 0);
  return bad
    ? `the ${name} curve has a point with rate ${bad.rate} / quality ${bad.quality} (rates must be > 0, values finite)`
    : undefined;
}

/** BD-rate (%) of `test` against `anchor` at equal quality. */
export function bdRate(anchor: readonly RdPoint[], test: readonly RdPoint[], interp: BdInterpolation = 'cubic'): BdResult {
  const bad = checkFinite(anchor, 'anchor') ?? checkFinite(test, 'test');
  if (bad) return { value: NaN, reason: bad };
  const r = bdCore(
    { x: anchor.map((p) => p.quality), y: anchor.map((p) => Math.log10(p.rate)) },
    { x: test.map((p) => p.quality), y: test.map((p) => Math.log10(p.rate)) },
    interp,
    { x: 'quality' },
  );
  if ('reason' in r) return { value: NaN, reason: r.reason };
  return { value: (10 ** r.diff - 1) * 100, range: r.range };
}

/** BD-quality: mean quality difference (test − anchor, in the quality's unit) at equal rate (log10 axis). */
export function bdQuality(anchor: readonly RdPoint[], test: readonly RdPoint[], interp: BdInterpolation = 'cubic'): BdResult {
  const bad = checkFinite(anchor, 'anchor') ?? checkFinite(test, 'test');
  if (bad) return { value: NaN, reason: bad };
  const r = bdCore(
    { x: anchor.map((p) => Math.log10(p.rate)), y: anchor.map((p) => p.quality) },
    { x: test.map((p) => Math.log10(p.rate)), y: test.map((p) => p.quality) },
    interp,
    { x: 'log-rate' },
  );
  if ('reason' in r) return { value: NaN, reason: r.reason };
  return { value: r.diff, range: r.range };
}
