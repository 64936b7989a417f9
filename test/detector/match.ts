// One-to-one matching of boxes (XYXY) for detection/proposal comparisons.
export function iou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const ax1 = a[4 * i]!,
    ay1 = a[4 * i + 1]!,
    ax2 = a[4 * i + 2]!,
    ay2 = a[4 * i + 3]!;
  const bx1 = b[4 * j]!,
    by1 = b[4 * j + 1]!,
    bx2 = b[4 * j + 2]!,
    by2 = b[4 * j + 3]!;
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1)),
    ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = iw * ih;
  const u = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return u > 0 ? inter / u : inter === 0 && ax1 === bx1 && ay1 === by1 && ax2 === bx2 && ay2 === by2 ? 1 : 0;
}

export interface MatchReport {
  matched: number;
  unmatchedRef: number[];
  unmatchedGot: number[];
  minIou: number;
  maxScoreDiff: number;
}

/**
 * Greedy one-to-one matching in reference order: a pair needs the same class (when given), IoU ≥ minIou and
 * |Δscore| ≤ maxDs (when scores are given). Candidates are tried nearest-index first.
 */
export function matchBoxes(
  refBoxes: ArrayLike<number>,
  gotBoxes: ArrayLike<number>,
  o: {
    refScores?: ArrayLike<number>;
    gotScores?: ArrayLike<number>;
    refClasses?: ArrayLike<number>;
    gotClasses?: ArrayLike<number>;
    minIou: number;
    maxDs?: number;
  },
): MatchReport {
  const n = refBoxes.length / 4,
    m = gotBoxes.length / 4;
  const used = new Uint8Array(m);
  const unmatchedRef: number[] = [];
  let minIou = 1,
    maxScoreDiff = 0,
    matched = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let d = 0; d < m && best < 0; d++) {
      for (const j of d === 0 ? [i] : [i - d, i + d]) {
        if (j < 0 || j >= m || used[j]) continue;
        if (o.refClasses && o.gotClasses && o.refClasses[i] !== o.gotClasses[j]) continue;
        if (o.refScores && o.gotScores && Math.abs(o.refScores[i]! - o.gotScores[j]!) > (o.maxDs ?? Infinity)) continue;
        const v = iou(refBoxes, i, gotBoxes, j);
        if (v < o.minIou) continue;
        best = j;
        minIou = Math.min(minIou, v);
        if (o.refScores && o.gotScores) maxScoreDiff = Math.max(maxScoreDiff, Math.abs(o.refScores[i]! - o.gotScores[j]!));
        break;
      }
    }
    if (best >= 0) {
      used[best] = 1;
      matched++;
    } else unmatchedRef.push(i);
  }
  const unmatchedGot: number[] = [];
  for (let j = 0; j < m; j++) if (!used[j]) unmatchedGot.push(j);
  return { matched, unmatchedRef, unmatchedGot, minIou, maxScoreDiff };
}
