"""Where the detector's precision and recall go, from an experiment's per-image cache (`webvcm eval` / rd-torch
`--out DIR` writes DIR/detections.jsonl): at score >= 0.5 (IoU >= 0.5, right class, greedy by score as probe.py),

  1. every wrong box by kind: a second class on an object already found, a wrong class on a missed object, a duplicate
     of the right class, poor localization (0.1 <= IoU < 0.5 with an object), background (IoU < 0.1: the world's
     clutter), and the most frequent class confusions;
  2. recall by object side sqrt(area), and why each missed object was missed;
  3. post-hoc ablations that need no retraining: class-agnostic NMS over the >= 0.5 boxes, and that plus dropping the
     background boxes: the precision left when those error kinds are removed.

  /usr/bin/python3 tools/train/miss_analysis.py --cache artifacts/rd-test/detections.jsonl --annotations artifacts/world-test/instances.json [--row uncompressed]
"""
import argparse
import collections
import json

SIDE_BINS = [0, 12, 16, 20, 24, 32, 48, 96, 1e9]


def iou(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    i = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i + 1e-9)


def load(cache, annotations, row):
    inst = json.load(open(annotations))
    gts = collections.defaultdict(list)
    for a in inst['annotations']:
        x, y, w, h = a['bbox']
        gts[a['image_id']].append((x, y, x + w, y + h, a['category_id'], a['area']))
    images = []
    with open(cache) as f:
        head = json.loads(f.readline())
        if row not in head['rows']:
            raise SystemExit(f'row {row!r} is not in {cache} (rows: {", ".join(head["rows"][:8])} …)')
        for line in f:
            d = json.loads(line)
            r = d['rows'].get(row)
            if r is None:
                continue
            dets = [(r['s'][k], r['b'][4 * k:4 * k + 4], r['c'][k] + 1) for k in range(len(r['s']))]  # classes 0-based
            images.append((gts[d['id']], dets))
    return images, {c['id']: c['name'] for c in inst['categories']}


def match(g, dets, thr):
    """Greedy by score: returns (used flags per object, list of (det, matched object index or -1))."""
    used = [False] * len(g)
    out = []
    for s, b, c in sorted([t for t in dets if t[0] >= thr], key=lambda t: -t[0]):
        best, bj = 0.5, -1
        for j, o in enumerate(g):
            if o[4] == c and not used[j]:
                v = iou(b, o)
                if v >= best:
                    best, bj = v, j
        if bj >= 0:
            used[bj] = True
        out.append(((s, b, c), bj))
    return used, out


def agnostic_nms(dets, thr, t):
    keep = []
    for d in sorted([d for d in dets if d[0] >= thr], key=lambda d: -d[0]):
        if all(iou(d[1], k[1]) < t for k in keep):
            keep.append(d)
    return keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', required=True)
    ap.add_argument('--annotations', required=True)
    ap.add_argument('--row', default='uncompressed')
    ap.add_argument('--score', type=float, default=0.5)
    args = ap.parse_args()
    images, names = load(args.cache, args.annotations, args.row)
    thr = args.score
    kinds, conf = collections.Counter(), collections.Counter()
    tot, found, why = collections.Counter(), collections.Counter(), collections.defaultdict(collections.Counter)
    tp = ngt = 0

    def side_bin(area):
        s = area ** 0.5
        return next(k for k in range(len(SIDE_BINS) - 1) if SIDE_BINS[k] <= s < SIDE_BINS[k + 1])

    for g, dets in images:
        ngt += len(g)
        used, out = match(g, dets, thr)
        for (s, b, c), j in out:
            if j >= 0:
                tp += 1
                continue
            m, mj = max([(iou(b, o), k) for k, o in enumerate(g)] or [(0.0, -1)])
            if m >= 0.5 and g[mj][4] != c:
                kinds['a second class on a found object' if used[mj] else 'a wrong class on a missed object'] += 1
                conf[(g[mj][4], c)] += 1
            elif m >= 0.5:
                kinds['a duplicate of the right class'] += 1
            elif m >= 0.1:
                kinds['poor localization (0.1 <= IoU < 0.5)'] += 1
            else:
                kinds['background (IoU < 0.1 with every object)'] += 1
        for j, o in enumerate(g):
            k = side_bin(o[5])
            tot[k] += 1
            if used[j]:
                found[k] += 1
            elif any(t[0] >= thr and iou(t[1], o) >= 0.5 for t in dets):
                why[k]['only other classes'] += 1
            elif any(t[0] >= thr and t[2] == o[4] and iou(t[1], o) >= 0.1 for t in dets):
                why[k]['right class, IoU < 0.5'] += 1
            else:
                why[k]['no box >= score'] += 1
    fp = sum(kinds.values())
    print(f'{args.cache} row {args.row}, {len(images)} images, {ngt} objects; score >= {thr}: {tp} right, {fp} wrong boxes; '
          f'precision {tp / max(1, tp + fp):.3f}, recall {tp / max(1, ngt):.3f}')
    print('\n| wrong box | count | share |\n|---|---:|---:|')
    for k, v in kinds.most_common():
        print(f'| {k} | {v} | {v / fp:.1%} |')
    print('\nclass confusions (object → box): ' + ', '.join(f'{names[a]} → {names[b]} {n}' for (a, b), n in conf.most_common(8)))
    print('\n| object side (px) | objects | recall | missed: only other classes | missed: right class, IoU < 0.5 | missed: no box |')
    print('|---|---:|---:|---:|---:|---:|')
    for k in range(len(SIDE_BINS) - 1):
        if tot[k]:
            w = why[k]
            print(f'| {SIDE_BINS[k]:g}–{SIDE_BINS[k + 1]:g} | {tot[k]} | {found[k] / tot[k]:.3f} | {w["only other classes"]} | '
                  f'{w["right class, IoU < 0.5"]} | {w["no box >= score"]} |')
    print('\n| post-hoc ablation | precision | recall |\n|---|---:|---:|')
    print(f'| none | {tp / max(1, tp + fp):.3f} | {tp / max(1, ngt):.3f} |')
    for t in (0.7, 0.5, 0.3):
        a = b = 0
        for g, dets in images:
            used, out = match(g, agnostic_nms(dets, thr, t), thr)
            a += sum(used)
            b += len(out)
        print(f'| class-agnostic NMS at IoU {t} | {a / max(1, b):.3f} | {a / max(1, ngt):.3f} |')
    a = b = 0
    for g, dets in images:
        keep = [d for d in agnostic_nms(dets, thr, 0.5) if max([iou(d[1], o) for o in g] or [0.0]) >= 0.1]
        used, out = match(g, keep, thr)
        a += sum(used)
        b += len(out)
    print(f'| class-agnostic NMS at 0.5, background boxes dropped | {a / max(1, b):.3f} | {a / max(1, ngt):.3f} |')


if __name__ == '__main__':
    main()
