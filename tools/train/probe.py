"""Score a detector checkpoint in PyTorch on a world split, for monitoring training (the published figures come from
`webvcm eval`, which runs the exported weights in WGSL).

  /usr/bin/python3 tools/train/probe.py --ckpt .cache/train/det2/last.pt --split artifacts/world-val --limit 50

--ckpt takes a training checkpoint (last.pt / final.pt) or a webvcm detector .safetensors. Prints precision and recall
at score ≥ 0.5 (IoU ≥ 0.5, right class; small objects < 32² px separately), then COCO AP through
`node bin/webvcm.js eval --detections` (pycocotools-exact; needs `npm run build`).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import miss_analysis  # noqa: E402
import rcnn  # noqa: E402
import st_weights  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


def load(ckpt):
    if ckpt.endswith('.safetensors'):
        return st_weights.load_detector(ckpt).eval()
    c = torch.load(ckpt)
    cfg = c['cfg']
    m = rcnn.GeneralizedRCNN(widths=[tuple(w) for w in cfg['widths']], blocks=cfg['blocks'], fpn=cfg['fpn'], fc=cfg['fc'],
                             num_classes=cfg['num_classes'])
    m.load_state_dict(c['model'])
    return m.eval()


def pr_at(results, anns_by_image, thr=0.5):
    """Greedy matching by score (miss_analysis.match): a detection ≥ thr is right if it overlaps an unmatched object of
    its class at IoU ≥ 0.5. Returns precision, recall, small-object recall and the found/total counts."""
    tp = fp = 0
    found = {'all': [0, 0], 'small': [0, 0]}
    by_img = {}
    for r in results:
        b = r['bbox']
        by_img.setdefault(r['image_id'], []).append((r['score'], (b[0], b[1], b[0] + b[2], b[1] + b[3]), r['category_id']))
    for img, anns in anns_by_image.items():
        gts = [(a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3], a['category_id'], a['area']) for a in anns]
        used, out = miss_analysis.match(gts, by_img.get(img, []), thr)
        hits = sum(j >= 0 for _, j in out)
        tp, fp = tp + hits, fp + len(out) - hits
        for j, g in enumerate(gts):
            for k in ('all', 'small') if g[5] < 32 * 32 else ('all',):
                found[k][1] += 1
                found[k][0] += used[j]
    return tp / max(1, tp + fp), found['all'][0] / max(1, found['all'][1]), found['small'][0] / max(1, found['small'][1]), found


def split_subset(split, limit):
    """A world split's instances.json and its first `limit` images (0: all), with their annotations by image id."""
    js = json.load(open(os.path.join(split, 'instances.json')))
    ims = js['images'][:limit] if limit else js['images']
    ids = {im['id'] for im in ims}
    anns = {i: [] for i in ids}
    for a in js['annotations']:
        if a['image_id'] in ids:
            anns[a['image_id']].append(a)
    return js, ims, anns


def detect(model, split, ims, stem_fn=None):
    """COCO detection results of `model` on `ims`; stem_fn(x, size), if given, supplies the stem features."""
    res = []
    for im in ims:
        img = np.asarray(Image.open(os.path.join(split, im['file_name'])).convert('RGB'))[:, :, ::-1].copy()
        x, size = rcnn.preprocess(torch.from_numpy(img))
        b, s, k = model.infer(x[None], size, stem_fn(x, size) if stem_fn else None)
        for bb, ss, kk in zip(b.tolist(), s.tolist(), k.tolist()):
            res.append({'image_id': im['id'], 'category_id': kk + 1, 'bbox': [bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1]], 'score': ss})
    return res


def coco_stats(res, js, ims, anns, out):
    """COCO statistics of `res` (written to `out`, the annotations subset beside it) through `webvcm eval
    --detections` (pycocotools-exact); None, with the tool's output printed, when it fails."""
    json.dump(res, open(out, 'w'))
    ann_path = out + '.gt.json'
    json.dump({'images': ims, 'annotations': [a for a in js['annotations'] if a['image_id'] in anns], 'categories': js['categories']}, open(ann_path, 'w'))
    r = subprocess.run(['node', os.path.join(ROOT, 'bin/webvcm.js'), 'eval', '--annotations', ann_path, '--detections', out, '--json'],
                       capture_output=True, text=True)
    try:
        return json.loads(r.stdout)['stats']
    except Exception:
        print(r.stdout[-600:], r.stderr[-600:])
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--split', default=os.path.join(ROOT, 'artifacts/world-val'))
    ap.add_argument('--limit', type=int, default=50)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--results', default='')
    ap.add_argument('--codec', default='', help='a CompressAI .pth.tar: score the receiver side of method 1 through it (estimated bpp)')
    ap.add_argument('--level', type=int, default=0, help='with a VBR --codec: the level')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.ckpt)
    js, ims, anns = split_subset(args.split, args.limit)
    stem_fn, bits, pixels = None, [], [0]
    if args.codec:
        import train_detector
        codec = train_detector.load_codec(args.codec)

        def stem_fn(x, size):
            pixels[0] += size[0] * size[1]
            return train_detector.coded_stem(model.backbone.bottom_up.stem, codec, x[None], [size], args.level if hasattr(codec, 'Gain') else None, bits)
    t0 = time.time()
    res = detect(model, args.split, ims, stem_fn)
    os.makedirs(os.path.join(ROOT, '.cache/probe'), exist_ok=True)
    out = args.results or os.path.join(ROOT, '.cache/probe', f'{os.path.basename(os.path.dirname(os.path.abspath(args.ckpt)))}-{os.path.basename(args.split)}.json')
    p, r, rs, found = pr_at(res, anns)
    if args.codec:
        print(f'codec {args.codec} level {args.level}: {sum(bits) / pixels[0]:.4f} bpp (estimated from the likelihoods)')
    print(f'{args.ckpt} on {os.path.basename(args.split)} ({len(ims)} images, {time.time() - t0:.0f} s): '
          f'score>=0.5 precision {p:.3f} recall {r:.3f} small recall {rs:.3f} ({found["small"][0]}/{found["small"][1]})')
    st = coco_stats(res, js, ims, anns, out)
    if st:
        print('COCO ' + ' '.join(f'{k} {100 * st[k]:.2f}' for k in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')))


if __name__ == '__main__':
    main()
