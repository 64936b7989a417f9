/** The shapes world: deterministic, bit-identical validation split, and a task with the variety the issue asks for. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateWorldImage, worldCocoJson, WORLD_CLASS_NAMES, WORLD_SEEDS, WORLD_VAL_SIZE } from '../../src/world/generate.ts';

const EXPECTED = JSON.parse(readFileSync(new URL('./world-val.sha256.json', import.meta.url), 'utf8')) as {
  pixels: string;
  instances: string;
};

describe('shapes world', () => {
  it(`regenerates the ${WORLD_VAL_SIZE}-image validation split bit-identically (pixels and instances.json)`, () => {
    const h = createHash('sha256');
    const images = [];
    for (let i = 0; i < WORLD_VAL_SIZE; i++) {
      const img = generateWorldImage(WORLD_SEEDS.val, i);
      h.update(img.rgb);
      images.push({ index: i, img });
    }
    expect(h.digest('hex')).toBe(EXPECTED.pixels);
    const json = JSON.stringify(worldCocoJson(WORLD_SEEDS.val, images));
    expect(createHash('sha256').update(json).digest('hex')).toBe(EXPECTED.instances);

    // variety: every class, sizes from ~10 px to half the image, several objects per image, COCO-like image sizes
    const anns = images.flatMap(({ img }) => img.objects);
    const classes = new Set(anns.map((a) => a.cls));
    expect(classes.size).toBe(WORLD_CLASS_NAMES.length);
    expect(WORLD_CLASS_NAMES.length).toBeGreaterThanOrEqual(6);
    const sides = anns.map((a) => Math.max(a.bbox[2], a.bbox[3]));
    expect(Math.min(...sides)).toBeLessThanOrEqual(12);
    expect(Math.max(...sides)).toBeGreaterThanOrEqual(150);
    for (const { img } of images) {
      expect(Math.min(img.width, img.height)).toBe(320);
      expect(Math.max(img.width, img.height)).toBeLessThanOrEqual(512);
      for (const o of img.objects) {
        expect(o.bbox[0]).toBeGreaterThanOrEqual(0);
        expect(o.bbox[1]).toBeGreaterThanOrEqual(0);
        expect(o.bbox[0] + o.bbox[2]).toBeLessThanOrEqual(img.width);
        expect(o.bbox[1] + o.bbox[3]).toBeLessThanOrEqual(img.height);
        expect(o.area).toBeGreaterThan(0);
      }
    }
    expect(anns.length / images.length).toBeGreaterThan(3);
  });

  it('differs between seeds and indexes, and is the same on a second call', () => {
    const a = generateWorldImage(WORLD_SEEDS.val, 3),
      b = generateWorldImage(WORLD_SEEDS.val, 3);
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(a.objects).toEqual(b.objects);
    const c = generateWorldImage(WORLD_SEEDS.train, 3),
      d = generateWorldImage(WORLD_SEEDS.val, 4);
    expect(Buffer.from(a.rgb).equals(Buffer.from(c.rgb))).toBe(false);
    expect(Buffer.from(a.rgb).equals(Buffer.from(d.rgb))).toBe(false);
  });
});
