"""Stage A: pre-train the detector's backbone (res2–res5 on a frozen stem) as a shape classifier on object crops.

  /usr/bin/python3 tools/train/pretrain_backbone.py --data .cache/world-train --data .cache/world-train-b \
      --init weights/default/detector.safetensors --out .cache/train/pre --minutes 40

This plays the role ImageNet pre-training plays for real detectors. A 64×64 crop costs ~1/37 of a 320×480 image, so
the backbone sees hundreds of thousands of labelled shapes in the time the detector sees a few thousand images.

Crops: for every object of the training images, a square window around its box, side max(64, 1.4·max(w, h)) (small
objects stay at their native scale, large ones are scaled down to fit), resized to 72×72; at training time a random
64×64 crop of it, random flip. Class 8 ("background") crops are windows of the same sizes whose IoU with every object
box is < 0.1, so the backbone also learns clutter and texture are not shapes. Labels are the world's 8 classes.
The head is global average pooling of res5 + one linear layer (dropped afterwards).

The stem (conv1 + BN, the feature codec's input) comes from --init and stays frozen, so the codecs trained on it stay
valid. Runs channels-last (NHWC). BatchNorm after the stem trains in batch mode (batch 64); the detector then uses its statistics frozen.
Checkpoints every 4 min to OUT/last.pt (rerun the same command to resume), backbone weights to OUT/backbone.pt,
held-out accuracy on the val split's crops in the log.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

import rcnn
import runlog
import st_weights

MEAN = torch.tensor(rcnn.PIXEL_MEAN_BGR).view(1, 3, 1, 1)


def iou1(a, b):
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0


def extract(dirs, rng, bg_per_image, size=72, limit=0):
    crops, labels = [], []
    for d in dirs:
        js = json.load(open(os.path.join(d, 'instances.json')))
        anns = {}
        for a in js['annotations']:
            anns.setdefault(a['image_id'], []).append(a)
        ims = js['images'][:limit] if limit else js['images']
        for im in ims:
            img = Image.open(os.path.join(d, im['file_name'])).convert('RGB')
            W, H = img.size
            boxes = []
            for a in anns.get(im['id'], []):
                x, y, w, h = a['bbox']
                boxes.append((x, y, x + w, y + h))
                s = max(64.0, 1.4 * max(w, h))
                cx, cy = x + w / 2 + rng.uniform(-0.1, 0.1) * w, y + h / 2 + rng.uniform(-0.1, 0.1) * h
                win = (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)
                crops.append(np.asarray(img.crop(tuple(int(round(v)) for v in win)).resize((size, size), Image.BILINEAR))[:, :, ::-1])
                labels.append(a['category_id'] - 1)
            for _ in range(bg_per_image):
                for _try in range(20):
                    s = math.exp(rng.uniform(math.log(64), math.log(min(W, H) * 0.6)))
                    x0, y0 = rng.uniform(0, W - s), rng.uniform(0, H - s)
                    win = (x0, y0, x0 + s, y0 + s)
                    if all(iou1(win, b) < 0.1 for b in boxes):
                        crops.append(np.asarray(img.crop(tuple(int(round(v)) for v in win)).resize((size, size), Image.BILINEAR))[:, :, ::-1])
                        labels.append(8)
                        break
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels)


class Classifier(nn.Module):
    def __init__(self, det):
        super().__init__()
        self.bottom_up = det.backbone.bottom_up
        self.fc = nn.Linear(det.cfg['widths'][-1][1], 9)

    def forward(self, x):
        with torch.no_grad():
            s = self.bottom_up.stem(x)
        f = self.bottom_up.forward_from_stem(s)[-1]
        return self.fc(f.mean((2, 3)))


def augment(x, rng, train):
    n = x.shape[0]
    if train:
        out = torch.empty(n, 3, 64, 64, dtype=torch.uint8)
        for i in range(n):
            oy, ox = rng.randrange(9), rng.randrange(9)
            c = x[i, :, oy:oy + 64, ox:ox + 64]
            out[i] = c.flip(2) if rng.random() < 0.5 else c
    else:
        out = x[:, :, 4:68, 4:68]
    return (out.float() - MEAN).contiguous(memory_format=torch.channels_last)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', action='append', required=True)
    ap.add_argument('--val', default='../../artifacts/world-val')
    ap.add_argument('--init', required=True, help='detector .safetensors whose stem (frozen) and backbone start the run')
    ap.add_argument('--out', required=True)
    ap.add_argument('--minutes', type=float, default=40)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--bg', type=int, default=2, help='background crops per image')
    ap.add_argument('--seed', type=int, default=3)
    ap.add_argument('--device', default='cpu', help='cpu or cuda (tools/train/device.sh)')
    args = ap.parse_args()
    say = runlog.start_run(args.out, args.threads)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    cache = os.path.join(args.out, 'crops.pt')
    if os.path.exists(cache):
        X, Y, Xv, Yv = torch.load(cache)
    else:
        t0 = time.time()
        X, Y = extract(args.data, rng, args.bg)
        Xv, Yv = extract([args.val], random.Random(0), args.bg, limit=100)
        torch.save((X, Y, Xv, Yv), cache)
        say(f'extracted {len(Y)} train crops ({np.bincount(Y.numpy(), minlength=9).tolist()}), {len(Yv)} val crops in {time.time() - t0:.0f} s')
    det = st_weights.load_detector(args.init)
    dev = torch.device(args.device)
    model = Classifier(det).to(dev, memory_format=torch.channels_last)  # NHWC: mkldnn convs, 1.4x faster here
    stem = model.bottom_up.stem
    for p in stem.parameters():
        p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=5e-4)
    state = {'iter': 0, 'elapsed': 0.0, 'best': 0.0}
    ck = os.path.join(args.out, 'last.pt')
    if os.path.exists(ck):
        c = torch.load(ck, map_location=dev)
        model.load_state_dict(c['model'])
        opt.load_state_dict(c['opt'])
        state = c['state']
        rng.setstate(c['rng'])
        say(f'resumed at iter {state["iter"]}, {state["elapsed"] / 60:.1f} min')
    else:
        say(f'start: args {vars(args)}')
    budget = args.minutes * 60
    t_last = t_ck = time.time()
    avg_loss = avg_acc = None

    def evaluate():
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(Yv), 256):
                correct += int((model(augment(Xv[i:i + 256], rng, False).to(dev)).argmax(1).cpu() == Yv[i:i + 256]).sum())
        model.train()
        stem.eval()
        return correct / len(Yv)

    def save():
        torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'state': state, 'rng': rng.getstate()}, ck + '.tmp')
        os.replace(ck + '.tmp', ck)
        torch.save({k: v for k, v in det.backbone.bottom_up.state_dict().items()}, os.path.join(args.out, 'backbone.pt'))

    model.train()
    stem.eval()
    while state['elapsed'] < budget:
        frac = state['elapsed'] / budget
        lr = args.lr * min(1.0, (state['iter'] + 1) / 200) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        idx = torch.tensor([rng.randrange(len(Y)) for _ in range(args.batch)])
        x, y = augment(X[idx], rng, True).to(dev), Y[idx].to(dev)
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = float((logits.argmax(1) == y).float().mean())
        avg_loss = float(loss) if avg_loss is None else 0.98 * avg_loss + 0.02 * float(loss)
        avg_acc = acc if avg_acc is None else 0.98 * avg_acc + 0.02 * acc
        now = time.time()
        state['elapsed'] += now - t_last
        t_last = now
        state['iter'] += 1
        if state['iter'] % 50 == 0:
            say(f'iter {state["iter"]} {state["elapsed"] / 60:.1f}/{args.minutes:.0f} min lr {lr:.2e} loss {avg_loss:.4f} train-acc {avg_acc:.3f}')
        if state['iter'] % 500 == 0:
            say(f'iter {state["iter"]} val crop accuracy {evaluate():.4f} ({len(Yv)} crops)')
        if now - t_ck > 240:
            save()
            t_ck = now
    save()
    say(f'done: {state["iter"]} iterations in {state["elapsed"] / 60:.1f} min, val crop accuracy {evaluate():.4f} -> {args.out}/backbone.pt')


if __name__ == '__main__':
    main()
