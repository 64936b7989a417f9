/**
 * Plain TypeScript references for the Detectron2 heads kernels (shaders/{topk,boxes,nms,roialign}.wgsl): the ground
 * truth their GPU tests compare against, and the building blocks of the CPU heads backend. Float32 arithmetic is
 * emulated with Math.fround where the rounding decides outcomes (box decoding, sample coordinates, IoU).
 */
const f = Math.fround;
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Sort key of a float for descending order (larger → smaller key); positive NaN first, like torch.topk. */
export function descKey(v: number): number {
  F32[0] = v;
  const b = U32[0]!;
  const ord = (b & 0x80000000) !== 0 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
  return ~ord >>> 0;
}

export const SENTINEL = 0xffffffff;

/** Sort entries (x, y, z, w) ascending lexicographically by (x, y, z), in place. */
export function sortEntriesRef(e: Uint32Array): Uint32Array {
  const n = e.length / 4;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => e[a * 4]! - e[b * 4]! || e[a * 4 + 1]! - e[b * 4 + 1]! || e[a * 4 + 2]! - e[b * 4 + 2]!);
  const out = new Uint32Array(e.length);
  idx.forEach((s, i) => out.set(e.subarray(s * 4, s * 4 + 4), i * 4));
  e.set(out);
  return e;
}

/** Top-k indices of `scores` by value descending, ties by lower index first (NaN as the largest). */
export function topkRef(scores: ArrayLike<number>, k: number): Uint32Array {
  const n = scores.length;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = descKey(scores[i]!);
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => keys[a]! - keys[b]! || a - b);
  return Uint32Array.from(idx.slice(0, Math.min(k, n)));
}

export type Box4 = [number, number, number, number];

/** Box2BoxTransform.apply_deltas for one box in float32 (weights, upper clamp on dw/dh only, no +1). */
export function decodeBoxRef(
  a: ArrayLike<number>,
  ao: number,
  d: ArrayLike<number>,
  doff: number,
  w: readonly number[],
  clamp: number,
): Box4 {
  const wa = f(a[ao + 2]! - a[ao]!),
    ha = f(a[ao + 3]! - a[ao + 1]!);
  const cx = f(a[ao]! + f(0.5 * wa)),
    cy = f(a[ao + 1]! + f(0.5 * ha));
  const cl = f(clamp);
  const dx = f(d[doff]! / f(w[0]!)),
    dy = f(d[doff + 1]! / f(w[1]!));
  let dw = f(d[doff + 2]! / f(w[2]!)),
    dh = f(d[doff + 3]! / f(w[3]!));
  if (dw > cl) dw = cl;
  if (dh > cl) dh = cl;
  const pcx = f(f(dx * wa) + cx),
    pcy = f(f(dy * ha) + cy);
  const pw = f(f(Math.exp(dw)) * wa),
    ph = f(f(Math.exp(dh)) * ha);
  return [f(pcx - f(0.5 * pw)), f(pcy - f(0.5 * ph)), f(pcx + f(0.5 * pw)), f(pcy + f(0.5 * ph))];
}

/** torch.clamp(0, lim) per coordinate (NaN stays NaN). */
export function clipBoxRef(b: Box4, h: number, w: number): Box4 {
  const c = (v: number, lim: number): number => (Number.isNaN(v) ? v : Math.min(Math.max(v, 0), f(lim)));
  return [c(b[0], w), c(b[1], h), c(b[2], w), c(b[3], h)];
}

export interface RpnDecodeArgs {
  /** Top-k anchor indices of the level, score order. */
  topIdx: Uint32Array;
  /** Objectness logits of the level in anchor order (y, x, a). */
  logits: ArrayLike<number>;
  /** Deltas in anchor order, 4 per anchor. */
  deltas: ArrayLike<number>;
  cell: Float32Array;
  A: number;
  W: number;
  stride: number;
  weights: readonly number[];
  clamp: number;
  imageHW: readonly [number, number];
  minSize: number;
  level: number;
  outOff: number;
}

/** shaders/boxes.wgsl K_RPN_DECODE: writes boxes/scores/entries at [outOff, outOff + k). */
export function rpnDecodeRef(a: RpnDecodeArgs, boxes: Float32Array, scores: Float32Array, entries: Uint32Array): void {
  const anchor = new Float32Array(4);
  for (let i = 0; i < a.topIdx.length; i++) {
    const idx = a.topIdx[i]!;
    const an = idx % a.A,
      pos = Math.floor(idx / a.A);
    const sx = f((pos % a.W) * a.stride),
      sy = f(Math.floor(pos / a.W) * a.stride);
    anchor[0] = sx + a.cell[an * 4]!;
    anchor[1] = sy + a.cell[an * 4 + 1]!;
    anchor[2] = sx + a.cell[an * 4 + 2]!;
    anchor[3] = sy + a.cell[an * 4 + 3]!;
    const raw = decodeBoxRef(anchor, 0, a.deltas, idx * 4, a.weights, a.clamp);
    const s = a.logits[idx]!;
    const fin = raw.every(Number.isFinite) && Number.isFinite(s);
    const b = clipBoxRef(raw, a.imageHW[0], a.imageHW[1]);
    const valid = fin && f(b[2] - b[0]) > a.minSize && f(b[3] - b[1]) > a.minSize;
    const o = a.outOff + i;
    boxes.set(b, o * 4);
    scores[o] = s;
    entries.set([a.level, descKey(s), o, valid ? 1 : 0], o * 4);
  }
}

/** Row softmax of [R][K] (float32 result). */
export function softmaxRowsRef(x: ArrayLike<number>, R: number, K: number): Float32Array {
  const y = new Float32Array(R * K);
  for (let r = 0; r < R; r++) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) m = Math.max(m, x[r * K + k]!);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(x[r * K + k]! - m);
    for (let k = 0; k < K; k++) y[r * K + k] = Math.exp(x[r * K + k]! - m) / s;
  }
  return y;
}

export interface RoiDecodeResult {
  boxes: Float32Array; // [R][NC][4] clipped
  scores: Float32Array; // [R][NC]
  /** flat r*NC + k of the candidates (row finite, score > thresh), ascending. */
  cand: Uint32Array;
}

/** shaders/boxes.wgsl K_ROI_DECODE. probs [R][K] (background last), deltas [R][NC*4], proposals [R][4]. */
export function roiDecodeRef(
  probs: ArrayLike<number>,
  deltas: ArrayLike<number>,
  proposals: ArrayLike<number>,
  R: number,
  K: number,
  spec: { weights: readonly number[]; clamp: number; thresh: number; imageHW: readonly [number, number] },
): RoiDecodeResult {
  const NC = K - 1;
  const boxes = new Float32Array(R * NC * 4),
    scores = new Float32Array(R * NC);
  const cand: number[] = [];
  for (let r = 0; r < R; r++) {
    let ok = true;
    for (let k = 0; k < K; k++) ok &&= Number.isFinite(probs[r * K + k]!);
    for (let k = 0; k < NC; k++) {
      const raw = decodeBoxRef(proposals, r * 4, deltas, (r * NC + k) * 4, spec.weights, spec.clamp);
      ok &&= raw.every(Number.isFinite);
      boxes.set(clipBoxRef(raw, spec.imageHW[0], spec.imageHW[1]), (r * NC + k) * 4);
      scores[r * NC + k] = probs[r * K + k]!;
    }
    if (!ok) continue;
    for (let k = 0; k < NC; k++) if (scores[r * NC + k]! > f(spec.thresh)) cand.push(r * NC + k);
  }
  return { boxes, scores, cand: Uint32Array.from(cand) };
}

/** IoU as torchvision's nms computes it in float32 (no +1). */
export function iouRef(b: ArrayLike<number>, i: number, j: number): number {
  const areaI = f(f(b[i * 4 + 2]! - b[i * 4]!) * f(b[i * 4 + 3]! - b[i * 4 + 1]!));
  const areaJ = f(f(b[j * 4 + 2]! - b[j * 4]!) * f(b[j * 4 + 3]! - b[j * 4 + 1]!));
  const iw = Math.max(0, f(Math.min(b[i * 4 + 2]!, b[j * 4 + 2]!) - Math.max(b[i * 4]!, b[j * 4]!)));
  const ih = Math.max(0, f(Math.min(b[i * 4 + 3]!, b[j * 4 + 3]!) - Math.max(b[i * 4 + 1]!, b[j * 4 + 1]!)));
  const inter = f(iw * ih);
  return f(inter / f(f(areaI + areaJ) - inter));
}

/**
 * shaders/nms.wgsl (bounds + mask + scan): greedy NMS within each segment of `entries` (sorted by segment, then
 * score descending). Box of entry i = boxes[payload_i]; invalid entries (w = 0) are neither kept nor suppress.
 * Returns keep flags per entry.
 */
export function segmentedNmsRef(entries: Uint32Array, m: number, boxes: ArrayLike<number>, thresh: number): Uint8Array {
  const keep = new Uint8Array(m);
  const removed = new Uint8Array(m);
  const th = f(thresh);
  for (let i = 0; i < m; i++) {
    if (removed[i] || entries[i * 4 + 3] === 0) continue;
    keep[i] = 1;
    const pi = entries[i * 4 + 2]!;
    for (let j = i + 1; j < m && entries[j * 4] === entries[i * 4]; j++) {
      if (!removed[j] && iouRef(boxes, pi, entries[j * 4 + 2]!) > th) removed[j] = 1;
    }
  }
  return keep;
}

export interface RoiAlignLevel {
  data: Float32Array;
  /** CHW */ h: number;
  w: number;
  scale: number;
}

/**
 * torchvision roi_align (aligned → −0.5 offset and no min-size clamp; sampling 0 → adaptive grid) for ROIs with
 * per-ROI levels. Output [R][C*P*P] with the (c, y, x) order inside each row.
 */
export function roiAlignRef(
  levels: RoiAlignLevel[],
  C: number,
  rois: ArrayLike<number>,
  R: number,
  roiLevel: ArrayLike<number>,
  P: number,
  sampling: number,
  aligned: boolean,
): Float32Array {
  const out = new Float32Array(R * C * P * P);
  const off = aligned ? 0.5 : 0;
  for (let r = 0; r < R; r++) {
    const L = levels[roiLevel[r]!]!;
    const s = f(L.scale);
    const sx = f(f(rois[r * 4]! * s) - off),
      sy = f(f(rois[r * 4 + 1]! * s) - off);
    const ex = f(f(rois[r * 4 + 2]! * s) - off),
      ey = f(f(rois[r * 4 + 3]! * s) - off);
    let rw = f(ex - sx),
      rh = f(ey - sy);
    if (!aligned) {
      rw = Math.max(rw, 1);
      rh = Math.max(rh, 1);
    }
    const bw = f(rw / P),
      bh = f(rh / P);
    const gh = sampling > 0 ? sampling : Math.ceil(f(rh / P));
    const gw = sampling > 0 ? sampling : Math.ceil(f(rw / P));
    const count = Math.max(gh * gw, 1);
    for (let c = 0; c < C; c++) {
      const plane = c * L.h * L.w;
      for (let py = 0; py < P; py++)
        for (let px = 0; px < P; px++) {
          let acc = 0;
          for (let iy = 0; iy < gh; iy++) {
            const y = f(f(sy + f(py * bh)) + f(f(f(iy + 0.5) * bh) / gh));
            for (let ix = 0; ix < gw; ix++) {
              const x = f(f(sx + f(px * bw)) + f(f(f(ix + 0.5) * bw) / gw));
              acc += bilinearRef(L.data, plane, L.h, L.w, y, x);
            }
          }
          out[r * C * P * P + c * P * P + py * P + px] = acc / count;
        }
    }
  }
  return out;
}

function bilinearRef(d: Float32Array, plane: number, H: number, W: number, yIn: number, xIn: number): number {
  let y = yIn,
    x = xIn;
  if (y < -1 || y > H || x < -1 || x > W) return 0;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  let yl = Math.trunc(y),
    xl = Math.trunc(x),
    yh: number,
    xh: number;
  if (yl >= H - 1) {
    yl = yh = H - 1;
    y = yl;
  } else yh = yl + 1;
  if (xl >= W - 1) {
    xl = xh = W - 1;
    x = xl;
  } else xh = xl + 1;
  const ly = f(y - yl),
    lx = f(x - xl),
    hy = f(1 - ly),
    hx = f(1 - lx);
  return (
    hy * hx * d[plane + yl * W + xl]! +
    hy * lx * d[plane + yl * W + xh]! +
    ly * hx * d[plane + yh * W + xl]! +
    ly * lx * d[plane + yh * W + xh]!
  );
}
