import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderRatePlot } from '../../src/eval/plot.ts';

const MINI = resolve(process.cwd(), 'weights/mini-coco');
const gt = JSON.parse(readFileSync(join(MINI, 'instances.json'), 'utf8'));

describe('renderRatePlot', () => {
  it('plot escapes labels and skips undefined (-1) APs', () => {
    const svg = renderRatePlot(
      [
        { series: 'a<b', label: 'q&1', bpp: 0.5, ap: 0.3 },
        { series: 'a<b', label: 'q2', bpp: 1.0, ap: -1 },
      ],
      { referenceAP: -1 },
    );
    expect(svg).toContain('a&lt;b');
    expect(svg).toContain('q&amp;1');
    expect(svg.match(/<circle /g)).toHaveLength(1);
    expect(svg).not.toContain('class="reference"');
  });
});

describe('weights/mini-coco', () => {
  it('is a valid COCO set: PNGs < 150 KB whose sizes match instances.json, 80 categories, cat boxes inside the images', async () => {
    const { statSync } = await import('node:fs');
    const { decodeImageFile } = await import('../../src/io/image.ts');
    const { COCO } = await import('../../src/eval/cocoeval.ts');
    const { COCO_CATEGORIES } = await import('../../src/eval/coco-categories.ts');
    const coco = COCO.fromGroundTruth(gt);
    expect(gt.categories).toEqual(COCO_CATEGORIES);
    expect(coco.getImgIds()).toHaveLength(4);
    for (const im of gt.images) {
      const path = join(MINI, im.file_name);
      expect(statSync(path).size).toBeLessThan(150 * 1024);
      const img = decodeImageFile(readFileSync(path));
      expect([img.width, img.height]).toEqual([im.width, im.height]);
      for (const a of coco.imgToAnns.get(im.id) ?? []) {
        const [x, y, w, h] = a.bbox as number[];
        expect(x! >= 0 && y! >= 0 && x! + w! <= im.width && y! + h! <= im.height).toBe(true);
      }
    }
    expect(gt.annotations).toHaveLength(5);
  });
});
