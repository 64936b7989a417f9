/**
 * Writes a split of the shapes world (src/world/generate.ts) as PNG files + COCO instances.json.
 *   npx tsx tools/make-world.ts --split val [--count 200] [--out artifacts/world-val]
 *   npx tsx tools/make-world.ts --split train --count 4000 --out .cache/world-train
 *   npx tsx tools/make-world.ts --split test [--count 200] [--out artifacts/world-test]   (held-out: reporting only)
 * The images are a pure function of (split seed, index); tests regenerate the val split and compare hashes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { generateWorldImage, worldCocoJson, worldFileName, WORLD_SEEDS, WORLD_TEST_SIZE, WORLD_VAL_SIZE } from '../src/world/generate.ts';

function arg(name: string, dflt?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const split = arg('split', 'val')!;
if (split !== 'train' && split !== 'val' && split !== 'test') throw new Error(`--split must be train, val or test, got ${split}`);
const seed = WORLD_SEEDS[split];
const count = Number(arg('count', split === 'val' ? String(WORLD_VAL_SIZE) : split === 'test' ? String(WORLD_TEST_SIZE) : '4000'));
const start = Number(arg('start', '0'));
const out = arg('out', `artifacts/world-${split}`)!;
mkdirSync(out, { recursive: true });
const images: { index: number; img: ReturnType<typeof generateWorldImage> }[] = [];
const t0 = Date.now();
for (let i = start; i < start + count; i++) {
  const img = generateWorldImage(seed, i);
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let p = 0; p < img.width * img.height; p++) {
    rgba[4 * p] = img.rgb[3 * p]!;
    rgba[4 * p + 1] = img.rgb[3 * p + 1]!;
    rgba[4 * p + 2] = img.rgb[3 * p + 2]!;
    rgba[4 * p + 3] = 255;
  }
  const png = pngjs.PNG.sync.write({ width: img.width, height: img.height, data: Buffer.from(rgba.buffer) } as never, {
    colorType: 2,
    deflateLevel: 6,
  });
  writeFileSync(join(out, worldFileName(i)), png);
  images.push({ index: i, img: { ...img, rgb: new Uint8Array(0) } });
  if ((i - start + 1) % 100 === 0)
    process.stderr.write(`[world] ${split} ${i - start + 1}/${count} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
}
writeFileSync(join(out, 'instances.json'), JSON.stringify(worldCocoJson(seed, images)));
process.stderr.write(`[world] wrote ${count} images + instances.json to ${out}\n`);
