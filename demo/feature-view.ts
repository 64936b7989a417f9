/**
 * Stem feature maps made visible (pure functions, no DOM, unit-tested in test/demo/feature-view.test.ts).
 * Each channel is scaled by ITS OWN robust range — the 1st and 99th percentiles of F (the map before coding) — so a
 * channel with a small spread still shows its structure and a few outliers do not wash it out. F̂ (after decoding)
 * is drawn with F's ranges, so the two pictures are directly comparable: what differs in the picture differs in
 * the values. The mosaic shows the channels with the largest spread in F, a grid of small tiles.
 */

export type FeatureShape = readonly [number, number, number];

export interface ChannelRange {
  lo: number;
  hi: number;
}

/** Percentile (0..100) of a sample by linear interpolation between order statistics (numpy's default). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const x = (p / 100) * (n - 1);
  const i = Math.floor(x),
    f = x - i;
  return i + 1 < n ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[n - 1]!;
}

/** Robust range of channel `ch`: [p_lo, p_hi] percentiles of (at most `maxSamples`, evenly strided) values. */
export function channelRange(data: Float32Array, shape: FeatureShape, ch: number, pLo = 1, pHi = 99, maxSamples = 65536): ChannelRange {
  const [, H, W] = shape;
  const n = H * W,
    step = Math.max(1, Math.floor(n / maxSamples));
  const off = ch * n;
  const s = new Float32Array(Math.ceil(n / step));
  let k = 0;
  for (let i = 0; i < n; i += step) s[k++] = data[off + i]!;
  const v = s.subarray(0, k).sort();
  let lo = percentile(v, pLo),
    hi = percentile(v, pHi);
  if (!(hi > lo)) {
    // (nearly) constant channel: fall back to its full range, else a unit window around the value
    lo = v[0]!;
    hi = v[k - 1]!;
    if (!(hi > lo)) {
      lo -= 0.5;
      hi += 0.5;
    }
  }
  return { lo, hi };
}

/** Ranges of every channel of F. */
export function channelRanges(data: Float32Array, shape: FeatureShape): ChannelRange[] {
  return Array.from({ length: shape[0] }, (_, c) => channelRange(data, shape, c));
}

/** Channels ordered by spread (p99 − p1) in F, largest first. */
export function mostActiveChannels(ranges: readonly ChannelRange[], k: number): number[] {
  return ranges
    .map((r, c) => [r.hi - r.lo, c] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, c]) => c);
}

/** 8-bit grey of value v in range r (clamped). */
export function toByte(v: number, r: ChannelRange): number {
  const t = (v - r.lo) / (r.hi - r.lo);
  return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(255 * t);
}

export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** One channel as an RGBA image, scaled by `range` (use F's range for F̂ too). */
export function renderChannel(data: Float32Array, shape: FeatureShape, ch: number, range: ChannelRange): RgbaImage {
  const [, H, W] = shape;
  const out = new Uint8ClampedArray(H * W * 4);
  const off = ch * H * W;
  for (let i = 0; i < H * W; i++) {
    const g = toByte(data[off + i]!, range);
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = g;
    out[4 * i + 3] = 255;
  }
  return { width: W, height: H, data: out };
}

/** Tiles of `channels` in a grid (`cols` wide, 1-px dark gaps), each scaled by its range in `ranges`. */
export function renderMosaic(
  data: Float32Array,
  shape: FeatureShape,
  channels: readonly number[],
  ranges: readonly ChannelRange[],
  cols = Math.ceil(Math.sqrt(channels.length)),
): RgbaImage {
  const [, H, W] = shape;
  const rows = Math.ceil(channels.length / cols);
  const width = cols * W + (cols - 1),
    height = rows * H + (rows - 1);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    out[4 * i] = 40;
    out[4 * i + 1] = 48;
    out[4 * i + 2] = 60;
    out[4 * i + 3] = 255;
  }
  channels.forEach((ch, t) => {
    const ox = (t % cols) * (W + 1),
      oy = Math.floor(t / cols) * (H + 1);
    const r = ranges[ch]!,
      off = ch * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const g = toByte(data[off + y * W + x]!, r),
          o = 4 * ((oy + y) * width + ox + x);
        out[o] = out[o + 1] = out[o + 2] = g;
      }
    }
  });
  return { width, height, data: out };
}

/** PSNR (dB) of F̂ against F over F's full value range (the 8-bit quantizer's range); Infinity when equal. */
export function featurePsnr(f: Float32Array, fHat: Float32Array, min: number, max: number): number {
  if (f.length !== fHat.length) throw new RangeError(`F has ${f.length} values, F̂ ${fHat.length}`);
  let se = 0;
  for (let i = 0; i < f.length; i++) se += (f[i]! - fHat[i]!) ** 2;
  const mse = se / f.length,
    peak = max - min;
  return mse === 0 ? Infinity : 10 * Math.log10((peak * peak) / mse);
}
