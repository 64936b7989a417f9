// An SVG rate-accuracy plot (mAP against bits per pixel), hand-written: what `webvcm eval` writes next to its CSV.

export interface RatePoint {
  /** a line per series, e.g. 'container' or 'strings only' */
  series: string;
  /** point label, e.g. the method */
  label: string;
  bpp: number;
  /** AP as a fraction (plotted ×100) */
  ap: number;
}

export interface RatePlotOptions {
  title?: string;
  /** uncompressed reference AP (fraction), drawn as a dashed horizontal line */
  referenceAP?: number;
  width?: number;
  height?: number;
}

function xmlEsc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toFixed(10)));
  return out;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Hand-written SVG: mAP (AP@[.5:.95], %) against bits per pixel, one polyline per series. */
export function renderRatePlot(points: RatePoint[], opts: RatePlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 420;
  const m = { l: 64, r: 170, t: 40, b: 52 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const finite = points.filter((p) => Number.isFinite(p.bpp) && Number.isFinite(p.ap) && p.ap >= 0); // -1 = undefined AP
  const xs = finite.map((p) => p.bpp);
  const ys = finite.map((p) => p.ap * 100);
  const ref = opts.referenceAP !== undefined && Number.isFinite(opts.referenceAP) && opts.referenceAP >= 0 ? opts.referenceAP : undefined;
  if (ref !== undefined) ys.push(ref * 100);
  const xt = niceTicks(Math.min(0, ...xs), xs.length ? Math.max(...xs) : 1);
  const yt = niceTicks(ys.length ? Math.max(0, Math.min(...ys) - 5) : 0, ys.length ? Math.max(...ys) : 1);
  const x0 = xt[0]!,
    x1 = xt[xt.length - 1]!,
    y0 = yt[0]!,
    y1 = yt[yt.length - 1]!;
  const X = (v: number): number => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number): number => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const f = (v: number): string => v.toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${xmlEsc(opts.title ?? 'Rate-accuracy: COCO box mAP vs bits per pixel')}</text>`,
  );
  // grid and ticks
  for (const v of xt) {
    parts.push(`<line x1="${f(X(v))}" y1="${m.t}" x2="${f(X(v))}" y2="${m.t + ph}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${f(X(v))}" y="${m.t + ph + 16}" text-anchor="middle">${v}</text>`);
  }
  for (const v of yt) {
    parts.push(`<line x1="${m.l}" y1="${f(Y(v))}" x2="${m.l + pw}" y2="${f(Y(v))}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(Y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">bits per pixel (original image)</text>`);
  parts.push(`<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">mAP AP@[.5:.95] (%)</text>`);
  let legendY = m.t + 10;
  if (ref !== undefined) {
    const yr = f(Y(ref * 100));
    parts.push(`<line class="reference" x1="${m.l}" y1="${yr}" x2="${m.l + pw}" y2="${yr}" stroke="#555" stroke-dasharray="6 4"/>`);
    parts.push(`<line x1="${m.l + pw + 12}" y1="${legendY}" x2="${m.l + pw + 36}" y2="${legendY}" stroke="#555" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${m.l + pw + 42}" y="${legendY + 4}">uncompressed ${(ref * 100).toFixed(2)}</text>`);
    legendY += 20;
  }
  const series = [...new Set(finite.map((p) => p.series))];
  series.forEach((name, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = finite.filter((p) => p.series === name).sort((a, b) => a.bpp - b.bpp);
    parts.push(`<g class="series" data-series="${xmlEsc(name)}">`);
    if (pts.length > 1) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${f(X(p.bpp))},${f(Y(p.ap * 100))}`).join(' ')}"/>`,
      );
    }
    for (const p of pts) {
      parts.push(
        `<circle cx="${f(X(p.bpp))}" cy="${f(Y(p.ap * 100))}" r="4" fill="${color}"><title>${xmlEsc(`${name} ${p.label}: ${p.bpp.toFixed(4)} bpp, AP ${(p.ap * 100).toFixed(2)}`)}</title></circle>`,
      );
      parts.push(`<text x="${f(X(p.bpp) + 6)}" y="${f(Y(p.ap * 100) - 6)}" font-size="10" fill="${color}">${xmlEsc(p.label)}</text>`);
    }
    parts.push('</g>');
    parts.push(`<line x1="${m.l + pw + 12}" y1="${legendY}" x2="${m.l + pw + 36}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${m.l + pw + 42}" y="${legendY + 4}">${xmlEsc(name)}</text>`);
    legendY += 20;
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
