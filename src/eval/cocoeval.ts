// COCO bounding-box evaluation: a faithful TypeScript port of pycocotools' `COCO` (index + `loadRes` for bbox
// results) and `COCOeval` (iouType 'bbox': evaluate, accumulate, summarize), cocoapi commit 8c9bcc3c.
//
// Everything that decides a number follows pycocotools line by line:
//  - params: iouThrs = np.linspace(.5, .95, 10) (built as numpy builds it, so thresholds 8 is 0.8999999999999999),
//    recThrs = np.linspace(0, 1, 101) (i*0.01, not i/100), maxDets [1, 10, 100], area ranges all/small/medium/large
//    [0,1e10], [0,1024], [1024,9216], [9216,1e10], inclusive at both ends, tested against the GT `area` field;
//  - IoU as maskApi.c `bbIou` (crowd GT: intersection / detection area);
//  - detections of one (image, category) sorted by score with a stable sort, cut to maxDets[-1];
//  - greedy matching per IoU threshold, ignore flags, unmatched out-of-range detections ignored;
//  - accumulation with a stable sort of the concatenated per-image scores (images in ascending id order),
//    precision made monotone, read with searchsorted(rc, recThrs, side='left'), -1 for categories without GT;
//  - summarize means over entries > -1, summed with numpy's pairwise summation.
// Departures (all for bad input, where pycocotools crashes or silently mis-scores): malformed JSON, duplicate ids,
// GT annotations pointing at unknown images/categories and results for images not in the GT raise CocoFormatError;
// an empty results list is scored (AP 0) instead of crashing in loadRes.
import { VcmError } from '../util/errors.ts';

export class CocoFormatError extends VcmError {
  constructor(message: string) {
    super('input', message);
    this.name = 'CocoFormatError';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Input types

export interface CocoImage {
  id: number;
  width?: number;
  height?: number;
  file_name?: string;
  [k: string]: unknown;
}
export interface CocoCategory {
  id: number;
  name?: string;
  supercategory?: string;
  [k: string]: unknown;
}
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number] | number[];
  area: number;
  iscrowd: number | boolean;
  [k: string]: unknown;
}
export interface CocoGroundTruth {
  images: CocoImage[];
  categories: CocoCategory[];
  annotations: CocoAnnotation[];
  [k: string]: unknown;
}
export interface CocoResult {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number] | number[];
  score: number;
  [k: string]: unknown;
}

export interface CocoStats {
  AP: number;
  AP50: number;
  AP75: number;
  APs: number;
  APm: number;
  APl: number;
  AR1: number;
  AR10: number;
  AR100: number;
  ARs: number;
  ARm: number;
  ARl: number;
}
export const STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;

export interface CategoryAP {
  id: number;
  name: string;
  /** detectron2's per-category AP (precision[:, :, k, area all, maxDets 100], mean over > -1); null = no GT. */
  AP: number | null;
}

export interface CocoEvalResult {
  stats: CocoStats;
  statsArray: number[];
  /** pycocotools' `summarize()` lines. */
  summaryLines: string[];
  perCategory: CategoryAP[];
}

// ---------------------------------------------------------------------------------------------------------------
// Numeric helpers that mirror numpy

/** np.linspace(start, stop, num) with endpoint=True, computed as numpy 1.24 does (i*step + start, last = stop). */
export function linspace(start: number, stop: number, num: number): number[] {
  const out: number[] = [];
  if (num <= 0) return out;
  const div = num - 1;
  const delta = stop - start;
  const step = div > 0 ? delta / div : NaN;
  for (let i = 0; i < num; i++) out.push(div > 0 ? i * step + start : start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** numpy's pairwise summation for float64 (pairwise_sum_DOUBLE, unrolled by 8, blocks of 128). */
export function pairwiseSum(a: ArrayLike<number>, start = 0, n = a.length - start): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  } else if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j]!;
    let res = r[0]! + r[1]! + (r[2]! + r[3]!) + (r[4]! + r[5]! + (r[6]! + r[7]!));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  } else {
    let n2 = Math.floor(n / 2);
    n2 -= n2 % 8;
    return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
  }
}

/** np.mean of a 1-D float64 array. */
function npMean(a: number[]): number {
  return (0 + pairwiseSum(a)) / a.length;
}

/** Indices that sort `keys` ascending, stably (np.argsort kind='mergesort'). */
function stableArgsort(keys: ArrayLike<number>): number[] {
  const idx = Array.from({ length: keys.length }, (_, i) => i);
  // Array.prototype.sort is stable (ES2019); ties keep index order.
  idx.sort((i, j) => {
    const a = keys[i]!;
    const b = keys[j]!;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  return idx;
}

const EPS = 2.220446049250313e-16; // np.spacing(1)

/** maskApi.c bbIou: IoU of detection boxes `d` (m) against GT boxes `g` (n), [x,y,w,h]; result[d*n + g]. */
export function bboxIou(d: number[][], g: number[][], iscrowd: boolean[]): Float64Array {
  const m = d.length;
  const n = g.length;
  const o = new Float64Array(m * n);
  for (let gi = 0; gi < n; gi++) {
    const G = g[gi]!;
    const ga = G[2]! * G[3]!;
    const crowd = iscrowd[gi]!;
    for (let di = 0; di < m; di++) {
      const D = d[di]!;
      const da = D[2]! * D[3]!;
      const w = Math.min(D[2]! + D[0]!, G[2]! + G[0]!) - Math.max(D[0]!, G[0]!);
      if (w <= 0) continue;
      const h = Math.min(D[3]! + D[1]!, G[3]! + G[1]!) - Math.max(D[1]!, G[1]!);
      if (h <= 0) continue;
      const i = w * h;
      const u = crowd ? da : da + ga - i;
      o[di * n + gi] = i / u;
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function fin(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function checkBbox(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.length !== 4 || !v.every(fin)) {
    throw new CocoFormatError(`${what}: bbox must be an array of 4 finite numbers [x, y, w, h], got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

// ---------------------------------------------------------------------------------------------------------------
// COCO: the dataset index (pycocotools.coco.COCO) restricted to what bbox evaluation uses

interface Ann {
  id: number;
  image_id: number;
  category_id: number;
  bbox: number[];
  area: number;
  iscrowd: boolean;
  score: number;
}

export class COCO {
  readonly images = new Map<number, CocoImage>();
  readonly cats = new Map<number, CocoCategory>();
  /** annotations in file order */
  readonly anns: Ann[] = [];
  /** imgToAnns: image id -> annotations in file order */
  readonly imgToAnns = new Map<number, Ann[]>();

  private constructor() {}

  /** Index a ground-truth dataset (validated). */
  static fromGroundTruth(data: unknown): COCO {
    if (!isObj(data)) throw new CocoFormatError('ground truth must be a JSON object with images, categories, annotations');
    for (const k of ['images', 'categories', 'annotations']) {
      if (!Array.isArray(data[k])) throw new CocoFormatError(`ground truth: missing or non-array key "${k}"`);
    }
    const c = new COCO();
    (data.images as unknown[]).forEach((im, i) => {
      if (!isObj(im) || !fin(im.id)) throw new CocoFormatError(`ground truth images[${i}]: needs a numeric "id"`);
      if (c.images.has(im.id)) throw new CocoFormatError(`ground truth images[${i}]: duplicate image id ${im.id}`);
      c.images.set(im.id, im as CocoImage);
    });
    (data.categories as unknown[]).forEach((cat, i) => {
      if (!isObj(cat) || !fin(cat.id)) throw new CocoFormatError(`ground truth categories[${i}]: needs a numeric "id"`);
      if (c.cats.has(cat.id)) throw new CocoFormatError(`ground truth categories[${i}]: duplicate category id ${cat.id}`);
      c.cats.set(cat.id, cat as CocoCategory);
    });
    const ids = new Set<number>();
    (data.annotations as unknown[]).forEach((a, i) => {
      const what = `ground truth annotations[${i}]`;
      if (!isObj(a)) throw new CocoFormatError(`${what}: not an object`);
      for (const k of ['id', 'image_id', 'category_id', 'area']) {
        if (!fin(a[k])) throw new CocoFormatError(`${what}: missing or non-finite "${k}"`);
      }
      if (!('iscrowd' in a) || (typeof a.iscrowd !== 'number' && typeof a.iscrowd !== 'boolean')) {
        throw new CocoFormatError(`${what}: missing "iscrowd" (0 or 1)`);
      }
      const bbox = checkBbox(a.bbox, what);
      const ann: Ann = {
        id: a.id as number,
        image_id: a.image_id as number,
        category_id: a.category_id as number,
        bbox,
        area: a.area as number,
        iscrowd: Boolean(a.iscrowd),
        score: 0,
      };
      if (ids.has(ann.id)) throw new CocoFormatError(`${what}: duplicate annotation id ${ann.id}`);
      if (!c.images.has(ann.image_id)) throw new CocoFormatError(`${what}: image_id ${ann.image_id} is not in "images"`);
      if (!c.cats.has(ann.category_id)) {
        throw new CocoFormatError(`${what}: category_id ${ann.category_id} is not in "categories"`);
      }
      ids.add(ann.id);
      c.add(ann);
    });
    return c;
  }

  private add(ann: Ann): void {
    this.anns.push(ann);
    let l = this.imgToAnns.get(ann.image_id);
    if (!l) this.imgToAnns.set(ann.image_id, (l = []));
    l.push(ann);
  }

  getImgIds(): number[] {
    return [...this.images.keys()];
  }
  getCatIds(): number[] {
    return [...this.cats.keys()];
  }

  /**
   * COCO.loadRes for bbox results: ids 1..n in list order, area = w*h, iscrowd 0, categories copied from the GT.
   * Like pycocotools' assertion, every result's image id must be an image of this dataset.
   */
  loadRes(results: unknown): COCO {
    if (!Array.isArray(results)) throw new CocoFormatError('results must be a JSON array of {image_id, category_id, bbox, score}');
    const res = new COCO();
    for (const [k, v] of this.images) res.images.set(k, v);
    for (const [k, v] of this.cats) res.cats.set(k, v);
    const unknownImgs = new Set<number>();
    results.forEach((r, i) => {
      const what = `results[${i}]`;
      if (!isObj(r)) throw new CocoFormatError(`${what}: not an object`);
      for (const k of ['image_id', 'category_id', 'score']) {
        if (!fin(r[k])) throw new CocoFormatError(`${what}: missing or non-finite "${k}"`);
      }
      if (!('bbox' in r)) {
        throw new CocoFormatError(`${what}: no "bbox" (only bbox results are supported, not segm/keypoints/captions)`);
      }
      const bb = checkBbox(r.bbox, what);
      const imageId = r.image_id as number;
      if (!this.images.has(imageId)) unknownImgs.add(imageId);
      res.add({
        id: i + 1,
        image_id: imageId,
        category_id: r.category_id as number,
        bbox: bb,
        area: bb[2]! * bb[3]!,
        iscrowd: false,
        score: r.score as number,
      });
    });
    if (unknownImgs.size > 0) {
      const list = [...unknownImgs].slice(0, 10).join(', ');
      throw new CocoFormatError(
        `results refer to ${unknownImgs.size} image id(s) not in the ground truth (${list}${unknownImgs.size > 10 ? ', ...' : ''}): ` +
          "results must be a subset of the annotation file's images (pycocotools asserts this in loadRes)",
      );
    }
    return res;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// COCOeval (bbox)

export class Params {
  imgIds: number[] = [];
  catIds: number[] = [];
  iouThrs: number[] = linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1);
  recThrs: number[] = linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1);
  maxDets: number[] = [1, 10, 100];
  areaRng: [number, number][] = [
    [0 ** 2, 1e5 ** 2],
    [0 ** 2, 32 ** 2],
    [32 ** 2, 96 ** 2],
    [96 ** 2, 1e5 ** 2],
  ];
  areaRngLbl: string[] = ['all', 'small', 'medium', 'large'];
  useCats = 1;
}

interface EvalImg {
  imageId: number;
  categoryId: number;
  aRng: [number, number];
  maxDet: number;
  dtIds: number[];
  gtIds: number[];
  /** [T, D] row-major: matched GT id (0 = unmatched) */
  dtMatches: Float64Array;
  /** [T, G] row-major: matched detection id */
  gtMatches: Float64Array;
  dtScores: number[];
  gtIgnore: Uint8Array;
  /** [T, D] row-major */
  dtIgnore: Uint8Array;
}

interface IouEntry {
  /** detections sorted by score (stable), cut to maxDets[-1] */
  dt: Ann[];
  /** D x G, row-major, GT in _gts order */
  ious: Float64Array;
  G: number;
}

export interface AccumulatedEval {
  /** [T, R, K, A, M] flattened C-order */
  precision: Float64Array;
  /** [T, K, A, M] flattened C-order */
  recall: Float64Array;
  dims: { T: number; R: number; K: number; A: number; M: number };
}

function key(img: number, cat: number): string {
  return `${img}|${cat}`;
}

export class COCOeval {
  readonly params = new Params();
  private gts = new Map<string, Ann[]>();
  private dts = new Map<string, Ann[]>();
  private ious = new Map<string, IouEntry>();
  evalImgs: (EvalImg | null)[] = [];
  eval: AccumulatedEval | null = null;
  stats: number[] = [];
  summaryLines: string[] = [];

  constructor(
    readonly cocoGt: COCO,
    readonly cocoDt: COCO,
  ) {
    this.params.imgIds = [...cocoGt.getImgIds()].sort((a, b) => a - b);
    this.params.catIds = [...cocoGt.getCatIds()].sort((a, b) => a - b);
  }

  private prepare(): void {
    const p = this.params;
    const imgSet = new Set(p.imgIds);
    const catSet = new Set(p.catIds);
    const collect = (coco: COCO, into: Map<string, Ann[]>): void => {
      into.clear();
      // getAnnIds(imgIds=p.imgIds, catIds=p.catIds): images in p.imgIds order, annotations in file order.
      for (const img of p.imgIds) {
        for (const a of coco.imgToAnns.get(img) ?? []) {
          if (!catSet.has(a.category_id) || !imgSet.has(a.image_id)) continue;
          const k = key(a.image_id, a.category_id);
          let l = into.get(k);
          if (!l) into.set(k, (l = []));
          l.push(a);
        }
      }
    };
    collect(this.cocoGt, this.gts);
    collect(this.cocoDt, this.dts);
  }

  evaluate(): void {
    const p = this.params;
    p.imgIds = [...new Set(p.imgIds)].sort((a, b) => a - b);
    p.catIds = [...new Set(p.catIds)].sort((a, b) => a - b);
    p.maxDets = [...p.maxDets].sort((a, b) => a - b);
    this.prepare();
    this.ious.clear();
    for (const img of p.imgIds) for (const cat of p.catIds) this.computeIoU(img, cat);
    const maxDet = p.maxDets[p.maxDets.length - 1]!;
    this.evalImgs = [];
    for (const cat of p.catIds) {
      for (const aRng of p.areaRng) {
        for (const img of p.imgIds) this.evalImgs.push(this.evaluateImg(img, cat, aRng, maxDet));
      }
    }
  }

  private computeIoU(img: number, cat: number): void {
    const k = key(img, cat);
    const gt = this.gts.get(k) ?? [];
    const dt0 = this.dts.get(k) ?? [];
    if (gt.length === 0 && dt0.length === 0) return;
    const order = stableArgsort(dt0.map((d) => -d.score));
    let dt = order.map((i) => dt0[i]!);
    const maxDet = this.params.maxDets[this.params.maxDets.length - 1]!;
    if (dt.length > maxDet) dt = dt.slice(0, maxDet);
    const ious = bboxIou(
      dt.map((d) => d.bbox),
      gt.map((g) => g.bbox),
      gt.map((g) => g.iscrowd),
    );
    this.ious.set(k, { dt, ious, G: gt.length });
  }

  private evaluateImg(img: number, cat: number, aRng: [number, number], maxDet: number): EvalImg | null {
    const p = this.params;
    const k = key(img, cat);
    const gt0 = this.gts.get(k) ?? [];
    const dtAll = this.dts.get(k) ?? [];
    if (gt0.length === 0 && dtAll.length === 0) return null;
    const entry = this.ious.get(k)!;
    const ignore0 = gt0.map((g) => (g.iscrowd || g.area < aRng[0] || g.area > aRng[1] ? 1 : 0));
    const gtind = stableArgsort(ignore0);
    const gt = gtind.map((i) => gt0[i]!);
    // detections: sorted by score (stable) and cut to maxDet, as in computeIoU (same list, same order)
    const dt = entry.dt.slice(0, maxDet);
    const iscrowd = gt.map((g) => g.iscrowd);
    const T = p.iouThrs.length;
    const G = gt.length;
    const D = dt.length;
    const Gorig = entry.G;
    const gtm = new Float64Array(T * G);
    const dtm = new Float64Array(T * D);
    const gtIg = Uint8Array.from(gtind.map((i) => ignore0[i]!));
    const dtIg = new Uint8Array(T * D);
    const iouAt = (d: number, g: number): number => entry.ious[d * Gorig + gtind[g]!]!;
    if (D > 0 && G > 0) {
      for (let t = 0; t < T; t++) {
        const thr = p.iouThrs[t]!;
        for (let di = 0; di < D; di++) {
          let iou = Math.min(thr, 1 - 1e-10);
          let m = -1;
          for (let gi = 0; gi < G; gi++) {
            if (gtm[t * G + gi]! > 0 && !iscrowd[gi]) continue;
            if (m > -1 && gtIg[m] === 0 && gtIg[gi] === 1) break;
            const v = iouAt(di, gi);
            if (v < iou) continue;
            iou = v;
            m = gi;
          }
          if (m === -1) continue;
          dtIg[t * D + di] = gtIg[m]!;
          dtm[t * D + di] = gt[m]!.id;
          gtm[t * G + m] = dt[di]!.id;
        }
      }
    }
    for (let di = 0; di < D; di++) {
      const a = dt[di]!.area;
      const out = a < aRng[0] || a > aRng[1];
      if (!out) continue;
      for (let t = 0; t < T; t++) if (dtm[t * D + di] === 0) dtIg[t * D + di] = 1;
    }
    return {
      imageId: img,
      categoryId: cat,
      aRng,
      maxDet,
      dtIds: dt.map((d) => d.id),
      gtIds: gt.map((g) => g.id),
      dtMatches: dtm,
      gtMatches: gtm,
      dtScores: dt.map((d) => d.score),
      gtIgnore: gtIg,
      dtIgnore: dtIg,
    };
  }

  accumulate(): AccumulatedEval {
    const p = this.params;
    const T = p.iouThrs.length;
    const R = p.recThrs.length;
    const K = p.catIds.length;
    const A = p.areaRng.length;
    const M = p.maxDets.length;
    const I0 = p.imgIds.length;
    const A0 = A;
    const precision = new Float64Array(T * R * K * A * M).fill(-1);
    const recall = new Float64Array(T * K * A * M).fill(-1);
    const pIdx = (t: number, r: number, k: number, a: number, m: number): number => (((t * R + r) * K + k) * A + a) * M + m;
    const rIdx = (t: number, k: number, a: number, m: number): number => ((t * K + k) * A + a) * M + m;
    for (let k = 0; k < K; k++) {
      const Nk = k * A0 * I0;
      for (let a = 0; a < A; a++) {
        const Na = a * I0;
        for (let m = 0; m < M; m++) {
          const maxDet = p.maxDets[m]!;
          const E: EvalImg[] = [];
          for (let i = 0; i < I0; i++) {
            const e = this.evalImgs[Nk + Na + i];
            if (e) E.push(e);
          }
          if (E.length === 0) continue;
          const scores: number[] = [];
          const srcE: number[] = [];
          const srcD: number[] = [];
          E.forEach((e, ei) => {
            const n = Math.min(maxDet, e.dtScores.length);
            for (let d = 0; d < n; d++) {
              scores.push(e.dtScores[d]!);
              srcE.push(ei);
              srcD.push(d);
            }
          });
          const inds = stableArgsort(scores.map((s) => -s));
          let npig = 0;
          for (const e of E) for (const g of e.gtIgnore) if (g === 0) npig++;
          if (npig === 0) continue;
          const nd = inds.length;
          for (let t = 0; t < T; t++) {
            const tpSum = new Float64Array(nd);
            const fpSum = new Float64Array(nd);
            let tpc = 0;
            let fpc = 0;
            for (let j = 0; j < nd; j++) {
              const ei = srcE[inds[j]!]!;
              const d = srcD[inds[j]!]!;
              const e = E[ei]!;
              const Dn = e.dtScores.length;
              const matched = e.dtMatches[t * Dn + d]! !== 0;
              const ig = e.dtIgnore[t * Dn + d]! !== 0;
              if (matched && !ig) tpc++;
              if (!matched && !ig) fpc++;
              tpSum[j] = tpc;
              fpSum[j] = fpc;
            }
            const rc = new Float64Array(nd);
            const pr = new Float64Array(nd);
            for (let j = 0; j < nd; j++) {
              rc[j] = tpSum[j]! / npig;
              pr[j] = tpSum[j]! / (fpSum[j]! + tpSum[j]! + EPS);
            }
            recall[rIdx(t, k, a, m)] = nd ? rc[nd - 1]! : 0;
            for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
            // q[ri] = pr[searchsorted(rc, recThrs[ri], 'left')], 0 once the index runs past the end
            for (let ri = 0; ri < R; ri++) {
              const v = p.recThrs[ri]!;
              let lo = 0;
              let hi = nd;
              while (lo < hi) {
                const mid = (lo + hi) >>> 1;
                if (rc[mid]! < v) lo = mid + 1;
                else hi = mid;
              }
              precision[pIdx(t, ri, k, a, m)] = lo < nd ? pr[lo]! : 0;
            }
          }
        }
      }
    }
    this.eval = { precision, recall, dims: { T, R, K, A, M } };
    return this.eval;
  }

  private summarizeOne(ap: boolean, iouThr: number | null, areaRng: string, maxDets: number): number {
    const p = this.params;
    const ev = this.eval!;
    const { T, R, K, A, M } = ev.dims;
    const iStr = (mean: number): string => {
      const title = ap ? 'Average Precision' : 'Average Recall';
      const type = ap ? '(AP)' : '(AR)';
      const iouStr = iouThr === null ? `${fmtFixed(p.iouThrs[0]!, 2)}:${fmtFixed(p.iouThrs[T - 1]!, 2)}` : fmtFixed(iouThr, 2);
      return ` ${title.padEnd(18)} ${type} @[ IoU=${iouStr.padEnd(9)} | area=${areaRng.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${fmtFixed(mean, 3)}`;
    };
    const aind = p.areaRngLbl.map((l, i) => (l === areaRng ? i : -1)).filter((i) => i >= 0);
    const mind = p.maxDets.map((d, i) => (d === maxDets ? i : -1)).filter((i) => i >= 0);
    const tind = iouThr === null ? [...Array(T).keys()] : p.iouThrs.map((t, i) => (t === iouThr ? i : -1)).filter((i) => i >= 0);
    const vals: number[] = [];
    if (ap) {
      for (const t of tind)
        for (let r = 0; r < R; r++)
          for (let k = 0; k < K; k++)
            for (const a of aind)
              for (const m of mind) {
                const v = ev.precision[(((t * R + r) * K + k) * A + a) * M + m]!;
                if (v > -1) vals.push(v);
              }
    } else {
      for (const t of tind)
        for (let k = 0; k < K; k++)
          for (const a of aind)
            for (const m of mind) {
              const v = ev.recall[((t * K + k) * A + a) * M + m]!;
              if (v > -1) vals.push(v);
            }
    }
    const mean = vals.length === 0 ? -1 : npMean(vals);
    this.summaryLines.push(iStr(mean));
    return mean;
  }

  summarize(): number[] {
    if (!this.eval) throw new Error('COCOeval.summarize: call accumulate() first');
    const md = this.params.maxDets;
    this.summaryLines = [];
    const s = (ap: boolean, iou: number | null, area: string, m: number): number => this.summarizeOne(ap, iou, area, m);
    this.stats = [
      s(true, null, 'all', md[2]!),
      s(true, 0.5, 'all', md[2]!),
      s(true, 0.75, 'all', md[2]!),
      s(true, null, 'small', md[2]!),
      s(true, null, 'medium', md[2]!),
      s(true, null, 'large', md[2]!),
      s(false, null, 'all', md[0]!),
      s(false, null, 'all', md[1]!),
      s(false, null, 'all', md[2]!),
      s(false, null, 'small', md[2]!),
      s(false, null, 'medium', md[2]!),
      s(false, null, 'large', md[2]!),
    ];
    return this.stats;
  }

  /** detectron2 COCOEvaluator._derive_coco_results: per category, precision[:, :, k, 0, -1] mean over > -1. */
  perCategoryAP(): CategoryAP[] {
    const ev = this.eval!;
    const { T, R, K, A, M } = ev.dims;
    return this.params.catIds.map((id, k) => {
      const vals: number[] = [];
      for (let t = 0; t < T; t++)
        for (let r = 0; r < R; r++) {
          const v = ev.precision[(((t * R + r) * K + k) * A + 0) * M + (M - 1)]!;
          if (v > -1) vals.push(v);
        }
      const name = this.cocoGt.cats.get(id)?.name;
      return { id, name: typeof name === 'string' ? name : String(id), AP: vals.length ? npMean(vals) : null };
    });
  }
}

/** Python's '{:0.Nf}'.format(x): like toFixed, but exact binary ties round half to even. */
export function fmtFixed(x: number, digits: number): string {
  let s = x.toFixed(digits);
  if (!Number.isFinite(x)) return s;
  const long = Math.abs(x).toFixed(Math.min(100, digits + 30));
  const tail = long.slice(long.indexOf('.') + 1 + digits);
  if (/^50*$/.test(tail)) {
    // exact tie: JS rounded away from zero; Python rounds to even
    const down = (Math.sign(x) < 0 ? '-' : '') + long.slice(0, long.indexOf('.') + 1 + digits).replace(/\.$/, '');
    const lastDigit = Number(down[down.length - 1]);
    if (lastDigit % 2 === 0) s = down;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------------------------
// One-call API

export interface EvaluateOptions {
  /** evaluate only these image ids (pycocotools params.imgIds); default: all GT images */
  imgIds?: number[];
}

function statsFromArray(a: number[]): CocoStats {
  const o = {} as Record<string, number>;
  STAT_NAMES.forEach((n, i) => (o[n] = a[i]!));
  return o as unknown as CocoStats;
}

/** Score COCO bbox results against a ground truth exactly like pycocotools (stats as fractions, -1 = undefined). */
export function evaluateBoxes(gt: CocoGroundTruth | unknown, results: CocoResult[] | unknown, opts: EvaluateOptions = {}): CocoEvalResult {
  const cocoGt = gt instanceof COCO ? gt : COCO.fromGroundTruth(gt);
  const cocoDt = cocoGt.loadRes(results);
  const E = new COCOeval(cocoGt, cocoDt);
  if (opts.imgIds) {
    if (!opts.imgIds.every(fin)) throw new CocoFormatError('imgIds must be finite numbers');
    E.params.imgIds = [...opts.imgIds];
  }
  E.evaluate();
  E.accumulate();
  const statsArray = E.summarize();
  return { stats: statsFromArray(statsArray), statsArray, summaryLines: E.summaryLines, perCategory: E.perCategoryAP() };
}
