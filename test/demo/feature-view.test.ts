import { describe, expect, it } from 'vitest';
import {
  channelRange,
  channelRanges,
  featurePsnr,
  mostActiveChannels,
  percentile,
  renderChannel,
  renderMosaic,
  toByte,
} from '../../demo/feature-view.ts';

describe('demo feature views', () => {
  it('percentile interpolates like numpy; robust range ignores outliers', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([0, 10], 1)).toBeCloseTo(0.1, 12);
    // channel 0: 0..99 ramp plus one huge outlier; channel 1: constant
    const H = 20,
      W = 50,
      n = H * W;
    const d = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) d[i] = i % 100;
    d[57] = 1e6;
    d.fill(3, n);
    const r0 = channelRange(d, [2, H, W], 0);
    expect(r0.lo).toBeCloseTo(
      percentile(
        [...d.subarray(0, n)].sort((a, b) => a - b),
        1,
      ),
      5,
    );
    expect(r0.hi).toBeLessThanOrEqual(99); // the outlier does not set the scale
    expect(channelRange(d, [2, H, W], 1)).toEqual({ lo: 2.5, hi: 3.5 });
  });

  it("F and F̂ drawn with F's ranges: equal maps give equal pixels, a shifted map gives brighter pixels", () => {
    const shape = [3, 4, 5] as const;
    const f = Float32Array.from({ length: 60 }, (_, i) => Math.sin(i) * (1 + (i % 3)));
    const ranges = channelRanges(f, shape);
    const a = renderChannel(f, shape, 1, ranges[1]!);
    const b = renderChannel(Float32Array.from(f), shape, 1, ranges[1]!);
    expect(a.width).toBe(5);
    expect(a.height).toBe(4);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    const brighter = renderChannel(
      f.map((v) => v + 0.1),
      shape,
      1,
      ranges[1]!,
    );
    let sa = 0,
      sb = 0;
    for (let i = 0; i < a.data.length; i += 4) {
      sa += a.data[i]!;
      sb += brighter.data[i]!;
    }
    expect(sb).toBeGreaterThan(sa);
    expect(toByte(-1e9, { lo: 0, hi: 1 })).toBe(0);
    expect(toByte(1e9, { lo: 0, hi: 1 })).toBe(255);
    expect(toByte(0.5, { lo: 0, hi: 1 })).toBe(128);
  });

  it('mosaic: the most active channels, tiled with 1-px gaps', () => {
    const shape = [4, 2, 3] as const;
    const f = new Float32Array(24);
    const spread = [1, 5, 0.1, 3];
    for (let c = 0; c < 4; c++) for (let i = 0; i < 6; i++) f[c * 6 + i] = spread[c]! * i;
    const ranges = channelRanges(f, shape);
    expect(mostActiveChannels(ranges, 3)).toEqual([1, 3, 0]);
    const m = renderMosaic(f, shape, [1, 3, 0], ranges, 2);
    expect([m.width, m.height]).toEqual([2 * 3 + 1, 2 * 2 + 1]);
    // tile 0 (channel 1) top-left pixel = its minimum → 0; bottom-right → 255
    expect(m.data[0]).toBe(0);
    expect(m.data[4 * (1 * m.width + 2)]).toBe(255);
  });

  it('PSNR over the quantizer range', () => {
    const f = new Float32Array([0, 1, 2, 3]);
    expect(featurePsnr(f, f, 0, 3)).toBe(Infinity);
    expect(
      featurePsnr(
        f,
        f.map((v) => v + 0.03),
        0,
        3,
      ),
    ).toBeCloseTo(40, 4); // float32 inputs
    expect(() => featurePsnr(f, new Float32Array(3), 0, 3)).toThrow(RangeError);
  });
});
