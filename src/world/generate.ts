/**
 * "Shapes world": a synthetic detection task, deterministic from a seed, on which the bundled detector and codecs
 * are trained (tools/train/) and evaluated (webvcm eval). Pure TypeScript, no dependencies, the same bytes on every
 * machine (only +, *, /, Math.sqrt/floor/sin/cos/exp/log of V8, whose results are fixed by its fdlibm port).
 *
 * Each image: a procedural background (value noise, gradients, stripes, checkers, tinted), clutter that belongs to no
 * class (strokes, irregular blobs, dots), 2–10 objects of 8 classes with random size (~10 px to half the image),
 * colour, fill texture, rotation and aspect ratio, allowed to overlap as long as every object keeps ≥ 60 % of its
 * pixels visible, then mild sensor noise. Sizes like COCO's after Detectron2's resize at short side 320: short side
 * 320, long side 320–512. Annotations are COCO-style: bbox = tight box of the visible pixels, area = visible pixels.
 */
import { mulberry32 } from '../util/random.ts';

export const WORLD_CLASS_NAMES: readonly string[] = Object.freeze([
  'circle',
  'triangle',
  'square',
  'star',
  'ring',
  'cross',
  'hexagon',
  'crescent',
]);
/** Version of the generator's output; bump when a pixel can change. */
export const WORLD_VERSION = 1;
/** Split seeds. `test` (7919) is used for nothing but reporting: not for training, nor for choosing models or thresholds. */
export const WORLD_SEEDS = Object.freeze({ train: 1000, val: 2000, test: 7919 });
export const WORLD_TEST_SIZE = 200;
export const WORLD_VAL_SIZE = 200;

export interface WorldObject {
  /** 0-based class index into WORLD_CLASS_NAMES */
  cls: number;
  /** COCO bbox of the visible pixels: [x, y, w, h] */
  bbox: [number, number, number, number];
  /** visible pixels */
  area: number;
}

export interface WorldImage {
  width: number;
  height: number;
  /** H*W*3 RGB */
  rgb: Uint8Array;
  objects: WorldObject[];
}

type Rng = () => number;

function hashSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (index + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const uni = (r: Rng, a: number, b: number) => a + (b - a) * r();
const int = (r: Rng, a: number, b: number) => a + Math.floor(r() * (b - a + 1)); // inclusive

function hsv(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const p = v * (1 - s),
    q = v * (1 - f * s),
    t = v * (1 - (1 - f) * s);
  const c = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ][i]!;
  return [c[0]! * 255, c[1]! * 255, c[2]! * 255];
}

function randomColour(r: Rng, sMin = 0.35, vMin = 0.3): [number, number, number] {
  return hsv(r(), uni(r, sMin, 1), uni(r, vMin, 1));
}

/** Value noise on a lattice of `cell` pixels, smoothstep-interpolated; returns a sampler in [0, 1]. */
function valueNoise(r: Rng, w: number, h: number, cell: number): (x: number, y: number) => number {
  const gw = Math.floor(w / cell) + 2,
    gh = Math.floor(h / cell) + 2;
  const g = new Float64Array(gw * gh);
  for (let i = 0; i < g.length; i++) g[i] = r();
  return (x, y) => {
    const fx = x / cell,
      fy = y / cell;
    const ix = Math.floor(fx),
      iy = Math.floor(fy);
    let tx = fx - ix,
      ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    const a = g[iy * gw + ix]!,
      b = g[iy * gw + ix + 1]!,
      c = g[(iy + 1) * gw + ix]!,
      d = g[(iy + 1) * gw + ix + 1]!;
    return a + (b - a) * tx + (c + (d - c) * tx - (a + (b - a) * tx)) * ty;
  };
}

/** A fill: colour at pixel (x, y), as float RGB 0..255. */
type Fill = (x: number, y: number) => [number, number, number];

function makeFill(r: Rng, w: number, h: number, forBackground: boolean): Fill {
  const c1 = forBackground ? randomColour(r, 0.05, 0.2) : randomColour(r);
  const c2 = forBackground ? randomColour(r, 0.05, 0.2) : randomColour(r);
  const kind = int(r, 0, forBackground ? 4 : 4);
  const mix = (t: number): [number, number, number] => [
    c1[0] + (c2[0] - c1[0]) * t,
    c1[1] + (c2[1] - c1[1]) * t,
    c1[2] + (c2[2] - c1[2]) * t,
  ];
  const ang = uni(r, 0, Math.PI);
  const ca = Math.cos(ang),
    sa = Math.sin(ang);
  switch (kind) {
    case 0: {
      // solid (background: plain noise-tinted)
      if (!forBackground) return () => c1;
      const n = valueNoise(r, w, h, uni(r, 24, 96));
      return (x, y) => mix(n(x, y));
    }
    case 1: {
      // stripes
      const period = forBackground ? uni(r, 10, 40) : uni(r, 4, 12);
      const soft = forBackground ? 0.5 : 0.15;
      return (x, y) => {
        const t = ((x * ca + y * sa) / period) % 1;
        const s = t < 0 ? t + 1 : t;
        return mix(s < 0.5 ? soft * 0.5 : 1 - soft * 0.5);
      };
    }
    case 2: {
      // multi-octave noise
      const cell = forBackground ? uni(r, 16, 64) : uni(r, 3, 10);
      const n1 = valueNoise(r, w, h, cell),
        n2 = valueNoise(r, w, h, cell / 2.3),
        n3 = valueNoise(r, w, h, cell / 5.1);
      return (x, y) => mix(Math.min(1, Math.max(0, 0.55 * n1(x, y) + 0.3 * n2(x, y) + 0.15 * n3(x, y))));
    }
    case 3: {
      // linear gradient
      const span = forBackground ? Math.max(w, h) : uni(r, 20, 120);
      const ox = uni(r, 0, w),
        oy = uni(r, 0, h);
      return (x, y) => {
        const t = ((x - ox) * ca + (y - oy) * sa) / span + 0.5;
        return mix(Math.min(1, Math.max(0, t)));
      };
    }
    default: {
      // checker
      const p = forBackground ? uni(r, 12, 48) : uni(r, 3, 8);
      return (x, y) => {
        const u = x * ca + y * sa,
          v = -x * sa + y * ca;
        return (Math.floor(u / p) + Math.floor(v / p)) & 1 ? mix(forBackground ? 0.35 : 0) : mix(forBackground ? 0.65 : 1);
      };
    }
  }
}

type Poly = number[]; // x0,y0,x1,y1,...

function regular(n: number, rot: number): Poly {
  const p: Poly = [];
  for (let i = 0; i < n; i++) {
    const a = rot + (2 * Math.PI * i) / n;
    p.push(Math.cos(a), Math.sin(a));
  }
  return p;
}
function starPoly(points: number, inner: number): Poly {
  const p: Poly = [];
  for (let i = 0; i < 2 * points; i++) {
    const a = -Math.PI / 2 + (Math.PI * i) / points,
      rr = i % 2 ? inner : 1;
    p.push(rr * Math.cos(a), rr * Math.sin(a));
  }
  return p;
}
function inPoly(p: Poly, u: number, v: number): boolean {
  let inside = false;
  for (let i = 0, j = p.length - 2; i < p.length; j = i, i += 2) {
    const xi = p[i]!,
      yi = p[i + 1]!,
      xj = p[j]!,
      yj = p[j + 1]!;
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

const TRIANGLE = regular(3, -Math.PI / 2);
const HEXAGON = regular(6, 0);
const STAR = starPoly(5, 0.45);

/** Membership of the unit-size class shape at local coordinates (u, v) ∈ [-1, 1]². */
function inShape(cls: number, u: number, v: number): boolean {
  switch (cls) {
    case 0:
      return u * u + v * v <= 1;
    case 1:
      return inPoly(TRIANGLE, u, v);
    case 2:
      return Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8;
    case 3:
      return inPoly(STAR, u, v);
    case 4: {
      const q = u * u + v * v;
      return q <= 1 && q >= 0.36;
    }
    case 5:
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 0.95) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 0.95);
    case 6:
      return inPoly(HEXAGON, u, v);
    case 7:
      return u * u + v * v <= 1 && (u - 0.5) * (u - 0.5) + v * v > 0.6;
    default:
      return false;
  }
}

interface Placed {
  /** coverage in [0,1] per pixel of its box (x0..x1, y0..y1 inclusive) */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  cov: Float32Array;
}

/** Rasterize an object with 4×4 supersampling into its bounding box. */
function rasterize(
  test: (u: number, v: number) => boolean,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  rot: number,
  w: number,
  h: number,
): Placed | null {
  const ext = Math.max(rx, ry) * 1.05 + 1;
  const x0 = Math.max(0, Math.floor(cx - ext)),
    x1 = Math.min(w - 1, Math.ceil(cx + ext));
  const y0 = Math.max(0, Math.floor(cy - ext)),
    y1 = Math.min(h - 1, Math.ceil(cy + ext));
  if (x1 < x0 || y1 < y0) return null;
  const bw = x1 - x0 + 1,
    bh = y1 - y0 + 1;
  const cov = new Float32Array(bw * bh);
  const c = Math.cos(rot),
    s = Math.sin(rot);
  let any = false;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let hit = 0;
      for (let sy = 0; sy < 4; sy++) {
        const py = y + (sy + 0.5) / 4 - cy;
        for (let sx = 0; sx < 4; sx++) {
          const px = x + (sx + 0.5) / 4 - cx;
          const u = (px * c + py * s) / rx,
            v = (-px * s + py * c) / ry;
          if (u * u + v * v <= 1.1 && test(u, v)) hit++;
        }
      }
      if (hit) {
        cov[(y - y0) * bw + (x - x0)] = hit / 16;
        any = true;
      }
    }
  }
  return any ? { x0, y0, x1, y1, cov } : null;
}

function composite(img: Float64Array, w: number, p: Placed, fill: Fill): void {
  const bw = p.x1 - p.x0 + 1;
  for (let y = p.y0; y <= p.y1; y++) {
    for (let x = p.x0; x <= p.x1; x++) {
      const a = p.cov[(y - p.y0) * bw + (x - p.x0)]!;
      if (a === 0) continue;
      const [r, g, b] = fill(x, y);
      const o = (y * w + x) * 3;
      img[o] = img[o]! + (r - img[o]!) * a;
      img[o + 1] = img[o + 1]! + (g - img[o + 1]!) * a;
      img[o + 2] = img[o + 2]! + (b - img[o + 2]!) * a;
    }
  }
}

/** Generate image `index` of the world with seed `seed`. */
export function generateWorldImage(seed: number, index: number): WorldImage {
  const r = mulberry32(hashSeed(seed, index));
  const shortSide = 320;
  const longSide = int(r, 320, 512);
  const landscape = r() < 0.7;
  const w = landscape ? longSide : shortSide,
    h = landscape ? shortSide : longSide;
  const img = new Float64Array(w * h * 3);

  // background: one or two procedural layers
  const bg = makeFill(r, w, h, true);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const c = bg(x, y),
        o = (y * w + x) * 3;
      img[o] = c[0];
      img[o + 1] = c[1];
      img[o + 2] = c[2];
    }
  if (r() < 0.5) {
    const bg2 = makeFill(r, w, h, true);
    const mask = valueNoise(r, w, h, uni(r, 40, 120));
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const t = Math.min(1, Math.max(0, (mask(x, y) - 0.4) * 4));
        if (t === 0) continue;
        const c = bg2(x, y),
          o = (y * w + x) * 3;
        img[o] = img[o]! + (c[0] - img[o]!) * t;
        img[o + 1] = img[o + 1]! + (c[1] - img[o + 1]!) * t;
        img[o + 2] = img[o + 2]! + (c[2] - img[o + 2]!) * t;
      }
  }

  // clutter below the objects: irregular blobs, strokes, dots (no class)
  const clutter = int(r, 0, 7);
  for (let k = 0; k < clutter; k++) drawClutter(r, img, w, h);

  // objects
  const owner = new Int16Array(w * h).fill(-1);
  const full: number[] = [],
    visible: number[] = [];
  const objs: { cls: number }[] = [];
  const want = int(r, 2, 10);
  const minSide = Math.min(w, h);
  for (let k = 0, tries = 0; k < want && tries < want * 12; tries++) {
    const cls = int(r, 0, WORLD_CLASS_NAMES.length - 1);
    const size = Math.exp(uni(r, Math.log(12), Math.log(minSide * 0.5)));
    const aspect = Math.exp(uni(r, Math.log(0.65), Math.log(1.55)));
    const rx = (size / 2) * Math.sqrt(aspect),
      ry = size / 2 / Math.sqrt(aspect);
    const rot = uni(r, 0, 2 * Math.PI);
    const margin = Math.max(rx, ry) * 0.6;
    const cx = uni(r, margin, w - margin),
      cy = uni(r, margin, h - margin);
    const p = rasterize((u, v) => inShape(cls, u, v), cx, cy, rx, ry, rot, w, h);
    const fill = makeFill(r, w, h, false);
    if (!p) continue;
    const bw = p.x1 - p.x0 + 1;
    // occlusion check: every earlier object keeps ≥ 60 % of its pixels
    const lost = new Map<number, number>();
    let mine = 0;
    for (let y = p.y0; y <= p.y1; y++)
      for (let x = p.x0; x <= p.x1; x++) {
        if (p.cov[(y - p.y0) * bw + (x - p.x0)]! < 0.5) continue;
        mine++;
        const o = owner[y * w + x]!;
        if (o >= 0) lost.set(o, (lost.get(o) ?? 0) + 1);
      }
    if (mine < 40) continue;
    let ok = true;
    for (const [o, n] of lost)
      if (visible[o]! - n < 0.6 * full[o]!) {
        ok = false;
        break;
      }
    if (!ok) continue;
    for (const [o, n] of lost) visible[o] = visible[o]! - n;
    const id = objs.length;
    for (let y = p.y0; y <= p.y1; y++)
      for (let x = p.x0; x <= p.x1; x++) {
        if (p.cov[(y - p.y0) * bw + (x - p.x0)]! >= 0.5) owner[y * w + x] = id;
      }
    full.push(mine);
    visible.push(mine);
    objs.push({ cls });
    // a darker or lighter rim on some objects
    composite(img, w, p, fill);
    k++;
  }

  // a few thin strokes over everything (partial occlusion by clutter)
  const over = int(r, 0, 2);
  for (let k = 0; k < over; k++) drawStroke(r, img, w, h, uni(r, 1, 2.5));

  // sensor noise and quantization
  const rgb = new Uint8Array(w * h * 3);
  const sigma = uni(r, 0, 4);
  for (let i = 0; i < rgb.length; i++) {
    const n = (r() + r() + r() - 1.5) * 2 * sigma;
    const v = Math.round(img[i]! + n);
    rgb[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }

  // annotations from the owner map
  const minX = new Array(objs.length).fill(Infinity),
    minY = [...minX],
    maxX = new Array(objs.length).fill(-1),
    maxY = [...maxX];
  const area = new Array(objs.length).fill(0);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = owner[y * w + x]!;
      if (o < 0) continue;
      area[o]++;
      if (x < minX[o]) minX[o] = x;
      if (x > maxX[o]) maxX[o] = x;
      if (y < minY[o]) minY[o] = y;
      if (y > maxY[o]) maxY[o] = y;
    }
  const objects: WorldObject[] = [];
  objs.forEach((o, i) => {
    if (area[i] === 0) return;
    objects.push({ cls: o.cls, bbox: [minX[i], minY[i], maxX[i] - minX[i] + 1, maxY[i] - minY[i] + 1], area: area[i] });
  });
  return { width: w, height: h, rgb, objects };
}

function drawStroke(r: Rng, img: Float64Array, w: number, h: number, thick: number): void {
  const col = randomColour(r, 0, 0.1);
  const x0 = uni(r, 0, w),
    y0 = uni(r, 0, h),
    len = uni(r, 30, 200),
    a = uni(r, 0, 2 * Math.PI);
  const x1 = x0 + len * Math.cos(a),
    y1 = y0 + len * Math.sin(a);
  const bx0 = Math.max(0, Math.floor(Math.min(x0, x1) - thick - 1)),
    bx1 = Math.min(w - 1, Math.ceil(Math.max(x0, x1) + thick + 1));
  const by0 = Math.max(0, Math.floor(Math.min(y0, y1) - thick - 1)),
    by1 = Math.min(h - 1, Math.ceil(Math.max(y0, y1) + thick + 1));
  const dx = x1 - x0,
    dy = y1 - y0,
    l2 = dx * dx + dy * dy;
  for (let y = by0; y <= by1; y++)
    for (let x = bx0; x <= bx1; x++) {
      const px = x + 0.5 - x0,
        py = y + 0.5 - y0;
      const t = Math.min(1, Math.max(0, (px * dx + py * dy) / l2));
      const ex = px - t * dx,
        ey = py - t * dy;
      const d = Math.sqrt(ex * ex + ey * ey);
      const aCov = Math.min(1, Math.max(0, thick / 2 + 0.5 - d));
      if (aCov <= 0) continue;
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) img[o + c] = img[o + c]! + (col[c]! - img[o + c]!) * aCov;
    }
}

function drawClutter(r: Rng, img: Float64Array, w: number, h: number): void {
  const kind = int(r, 0, 2);
  if (kind === 0) {
    drawStroke(r, img, w, h, uni(r, 1, 5));
    return;
  }
  const fill = makeFill(r, w, h, false);
  if (kind === 1) {
    // irregular blob: 7–9 vertices at random radii
    const n = int(r, 7, 9),
      poly: Poly = [];
    for (let i = 0; i < n; i++) {
      const a = (2 * Math.PI * (i + uni(r, -0.3, 0.3))) / n,
        rr = uni(r, 0.35, 1);
      poly.push(rr * Math.cos(a), rr * Math.sin(a));
    }
    const size = uni(r, 10, 90);
    const p = rasterize(
      (u, v) => inPoly(poly, u, v),
      uni(r, 0, w),
      uni(r, 0, h),
      size / 2,
      (size / 2) * uni(r, 0.5, 1),
      uni(r, 0, 6.28),
      w,
      h,
    );
    if (p) composite(img, w, p, fill);
    return;
  }
  const dots = int(r, 3, 12); // a scatter of small dots
  const cx = uni(r, 0, w),
    cy = uni(r, 0, h);
  for (let i = 0; i < dots; i++) {
    const rad = uni(r, 1.5, 3.5);
    const p = rasterize((u, v) => u * u + v * v <= 1, cx + uni(r, -40, 40), cy + uni(r, -40, 40), rad, rad, 0, w, h);
    if (p) composite(img, w, p, fill);
  }
}

/** COCO-format annotations for images `indices` of a world. file_name = `${index padded to 6}.png`. */
export function worldCocoJson(seed: number, images: { index: number; img: WorldImage }[]): object {
  let annId = 1;
  return {
    info: { description: `webvcm shapes world v${WORLD_VERSION}, seed ${seed}` },
    categories: WORLD_CLASS_NAMES.map((name, i) => ({ id: i + 1, name, supercategory: 'shape' })),
    images: images.map(({ index, img }) => ({ id: index + 1, file_name: worldFileName(index), width: img.width, height: img.height })),
    annotations: images.flatMap(({ index, img }) =>
      img.objects.map((o) => ({
        id: annId++,
        image_id: index + 1,
        category_id: o.cls + 1,
        bbox: o.bbox,
        area: o.area,
        iscrowd: 0,
      })),
    ),
  };
}

export function worldFileName(index: number): string {
  return `${String(index).padStart(6, '0')}.png`;
}
