"""Export a trained detector checkpoint as a Detectron2 model-zoo pickle and score it in PyTorch on a world split.

  /usr/bin/python3 tools/train/export_detector.py --ckpt .cache/train/det/final.pt --out .cache/train/det/detector.pkl \
      [--val artifacts/world-val --results .cache/train/det/val-results-torch.json]

The pickle is {"model": {Detectron2 state-dict name: float32 ndarray}, "__author__": ..., "matching_heuristics":
False, "class_names": [...], "input": {"min_size": 320, "max_size": 544}}; BatchNorm layers become FrozenBN buffers
(weight, bias, running_mean, running_var; eps 1e-5). The results file is COCO detection results (category_id =
class + 1, as in the world's instances.json), scored by `webvcm eval --detections` (pycocotools-exact).
"""
import argparse
import json
import os
import pickle
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import rcnn  # noqa: E402

CLASS_NAMES = ['circle', 'triangle', 'square', 'star', 'ring', 'cross', 'hexagon', 'crescent']


def load(ckpt):
    c = torch.load(ckpt)
    cfg = c['cfg']
    m = rcnn.GeneralizedRCNN(widths=[tuple(w) for w in cfg['widths']], blocks=cfg['blocks'], fpn=cfg['fpn'], fc=cfg['fc'], num_classes=cfg['num_classes'])
    m.load_state_dict(c['model'])
    m.eval()
    return m, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--val')
    ap.add_argument('--results')
    ap.add_argument('--limit', type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, c = load(args.ckpt)
    sd = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    meta = {
        'model': sd, '__author__': 'webvcm tools/train (shapes world)', 'matching_heuristics': False,
        'class_names': CLASS_NAMES[:model.num_classes], 'input_min_size': 320, 'input_max_size': 544,
        'train': {'iterations': c.get('state', {}).get('iter'), 'minutes': round(c.get('state', {}).get('elapsed', 0) / 60, 1), 'cfg': c['cfg']},
    }
    with open(args.out, 'wb') as f:
        pickle.dump(meta, f, protocol=4)
    print(f'wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, {len(sd)} tensors)')
    if args.val:
        js = json.load(open(os.path.join(args.val, 'instances.json')))
        ims = js['images'][:args.limit] if args.limit else js['images']
        res = []
        t0 = time.time()
        for im in ims:
            img = np.asarray(Image.open(os.path.join(args.val, im['file_name'])).convert('RGB'))[:, :, ::-1].copy()
            x, size = rcnn.preprocess(torch.from_numpy(img))
            b, s, k = model.infer(x[None], size)
            for bb, ss, kk in zip(b.tolist(), s.tolist(), k.tolist()):
                res.append({'image_id': im['id'], 'category_id': kk + 1, 'bbox': [bb[0], bb[1], bb[2] - bb[0], bb[3] - bb[1]], 'score': ss})
        json.dump(res, open(args.results, 'w'))
        print(f'{len(ims)} images, {len(res)} detections in {time.time() - t0:.0f} s -> {args.results}')


if __name__ == '__main__':
    main()
