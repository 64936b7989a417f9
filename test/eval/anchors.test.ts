// The image-codec anchors: HEVC-intra through ffmpeg/x265 (round trip, rate falls with QP, odd sizes, errors) and the
// anchor plan's per-codec quality ranges.
import { describe, expect, it } from 'vitest';
import { parseAnchors } from '../../src/cli/eval.ts';
import { checkAnchorSupport, codeWithAnchor, DEFAULT_ANCHOR_QUALITIES } from '../../src/eval/anchors.ts';
import { generateWorldImage, WORLD_SEEDS } from '../../src/world/generate.ts';

function worldBgr(index: number, crop?: { w: number; h: number }) {
  const img = generateWorldImage(WORLD_SEEDS.val, index);
  const w = crop?.w ?? img.width;
  const h = crop?.h ?? img.height;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = 3 * (y * img.width + x);
      const d = 3 * (y * w + x);
      data[d] = img.rgb[s + 2]!;
      data[d + 1] = img.rgb[s + 1]!;
      data[d + 2] = img.rgb[s]!;
    }
  }
  return { width: w, height: h, data };
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

describe('HEVC-intra anchor (x265 through ffmpeg)', () => {
  it('is available (set-up installs ffmpeg)', async () => {
    await expect(checkAnchorSupport(['hevc'])).resolves.toBeUndefined();
  });

  it('round-trips a world image; bytes fall and PSNR falls as the QP rises', async () => {
    const img = worldBgr(0);
    const res = [];
    for (const qp of [22, 37, 47]) {
      const r = await codeWithAnchor(img, 'hevc', qp);
      expect(r.decoded.width).toBe(img.width);
      expect(r.decoded.height).toBe(img.height);
      res.push({ qp, bytes: r.bytes, psnr: psnr(img.data, r.decoded.data) });
    }
    expect(res[0]!.bytes).toBeGreaterThan(res[1]!.bytes);
    expect(res[1]!.bytes).toBeGreaterThan(res[2]!.bytes);
    expect(res[0]!.psnr).toBeGreaterThan(res[1]!.psnr);
    expect(res[1]!.psnr).toBeGreaterThan(res[2]!.psnr);
    expect(res[0]!.psnr).toBeGreaterThan(33); // QP 22 on a 320-px world image: a faithful picture
    // no 2 kB x265 info SEI: a strongly quantised frame is small
    expect(res[2]!.bytes).toBeLessThan(2000);
  }, 60_000);

  it('odd sizes are padded for 4:2:0 and cropped back', async () => {
    const img = worldBgr(1, { w: 101, h: 77 });
    const r = await codeWithAnchor(img, 'hevc', 27);
    expect([r.decoded.width, r.decoded.height]).toEqual([101, 77]);
    expect(psnr(img.data, r.decoded.data)).toBeGreaterThan(25);
  }, 60_000);

  it('refuses QPs outside 0..51 and names a missing ffmpeg', async () => {
    const img = worldBgr(0, { w: 16, h: 16 });
    await expect(codeWithAnchor(img, 'hevc', 52)).rejects.toThrow(/HEVC-intra quality must be an integer 0\.\.51/);
    const prev = process.env.WEBVCM_FFMPEG;
    process.env.WEBVCM_FFMPEG = '/nonexistent/ffmpeg';
    try {
      await expect(checkAnchorSupport(['hevc'])).rejects.toThrow(/needs ffmpeg with libx265/);
    } finally {
      if (prev === undefined) delete process.env.WEBVCM_FFMPEG;
      else process.env.WEBVCM_FFMPEG = prev;
    }
  });
});

describe('anchor plan', () => {
  it('--anchors hevc takes QPs (default 22..47), and other codecs keep 1..100', () => {
    expect(parseAnchors('hevc', undefined)).toEqual([{ codec: 'hevc', qualities: [...DEFAULT_ANCHOR_QUALITIES.hevc] }]);
    expect(parseAnchors('jpeg,hevc', 'jpeg=5,10;hevc=0,51')).toEqual([
      { codec: 'jpeg', qualities: [5, 10] },
      { codec: 'hevc', qualities: [0, 51] },
    ]);
    expect(() => parseAnchors('hevc', '60')).toThrow(/hevc QPs 0\.\.51/);
    expect(() => parseAnchors('jpeg,hevc', '0,30')).toThrow(/jpeg qualities 1\.\.100/);
  });
});
