"""Where the detector loses objects, by object size: the RPN's proposals (top 1000 after NMS, as at test time) and the
final detections at score >= 0.5 (IoU >= 0.5, right class), on a world split, in PyTorch.

  /usr/bin/python3 tools/train/proposal_recall.py --ckpt weights/default/detector.safetensors --split artifacts/world-val --limit 100

For each object: the best IoU of any proposal (recall at 0.5 / 0.7), the best IoU of any anchor of the grid (what the
RPN can start from; the smallest anchor is 32 px at P2, Detectron2's default), and whether a final detection finds it.
Rows by object side sqrt(area) in pixels.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import miss_analysis  # noqa: E402
import probe  # noqa: E402
import rcnn  # noqa: E402

BINS = [0, 12, 16, 20, 24, 32, 48, 96, 1e9]


def box_iou(a, b):
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda t: (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--split', default='artifacts/world-val')
    ap.add_argument('--limit', type=int, default=100)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = probe.load(args.ckpt)
    js = json.load(open(os.path.join(args.split, 'instances.json')))
    ims = js['images'][:args.limit]
    anns = {}
    for a in js['annotations']:
        anns.setdefault(a['image_id'], []).append(a)
    rows = []  # (side, best anchor IoU, best proposal IoU, found)
    for im in ims:
        img = np.asarray(Image.open(os.path.join(args.split, im['file_name'])).convert('RGB'))[:, :, ::-1].copy()
        x, size = rcnn.preprocess(torch.from_numpy(img))
        x = x[None]
        with torch.no_grad():
            feats = model.features(x, None)
            anchors = rcnn.grid_anchors([f.shape[2:] for f in feats], x.device)
            logits, deltas = model.rpn_outputs(feats)
            props = model.proposals(anchors, logits, deltas, [size], 1000, 1000)[0]
            b, s, k = model.infer(x, size)
        gt = anns.get(im['id'], [])
        if not gt:
            continue
        g = torch.tensor([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]] for a in gt], dtype=torch.float32)
        ia = box_iou(g, torch.cat(anchors)).max(1).values
        ip = box_iou(g, props).max(1).values
        objects = [(*row, a['category_id'], a['area']) for row, a in zip(g.tolist(), gt)]
        used, _ = miss_analysis.match(objects, list(zip(s.tolist(), b.tolist(), (k + 1).tolist())), 0.5)
        for j, a in enumerate(gt):
            rows.append((a['area'] ** 0.5, float(ia[j]), float(ip[j]), used[j]))
    r = np.array(rows)
    print(f'{args.ckpt} on {os.path.basename(args.split)}, {len(ims)} images, {len(rows)} objects')
    print('| object side (px) | objects | best anchor IoU, median | proposal recall @0.5 | @0.7 | found at score >= 0.5 |')
    print('|---|---:|---:|---:|---:|---:|')
    for lo, hi in zip(BINS[:-1], BINS[1:]):
        m = (r[:, 0] >= lo) & (r[:, 0] < hi)
        if m.any():
            n = int(m.sum())
            print(f'| {lo:g}–{hi:g} | {n} | {np.median(r[m, 1]):.2f} | {(r[m, 2] >= 0.5).mean():.3f} | {(r[m, 2] >= 0.7).mean():.3f} | {r[m, 3].mean():.3f} |')
    print(f'| all | {len(r)} | {np.median(r[:, 1]):.2f} | {(r[:, 2] >= 0.5).mean():.3f} | {(r[:, 2] >= 0.7).mean():.3f} | {r[:, 3].mean():.3f} |')


if __name__ == '__main__':
    main()
