"""Train the bundled detector (Detectron2 Faster R-CNN R50-FPN layout, narrow widths) on the shapes world.

  /usr/bin/python3 tools/train/train_detector.py --data .cache/world-train --data .cache/world-train-b \
      --out .cache/train/det --minutes 70 --freeze-stem-at 0.3

Time-budgeted: the learning rate follows a cosine over --minutes of wall time (so a run ends on schedule on a busy
machine). At --freeze-stem-at (fraction of the budget) the stem (conv1 + BN) is frozen and written to
OUT/stem.pt, so that codec training (train_codec.py) can start on final stem features while the rest trains on.
Checkpoints every --ckpt-minutes to OUT/last.pt; rerunning the same command resumes. Log: OUT/log.txt.
"""
import argparse
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import rcnn
import runlog
import st_weights


def load_split(dirs):
    items = []
    for d in dirs:
        js = json.load(open(os.path.join(d, 'instances.json')))
        anns = {}
        for a in js['annotations']:
            anns.setdefault(a['image_id'], []).append(a)
        for im in js['images']:
            a = anns.get(im['id'], [])
            boxes = [[b['bbox'][0], b['bbox'][1], b['bbox'][0] + b['bbox'][2], b['bbox'][1] + b['bbox'][3]] for b in a]
            items.append((os.path.join(d, im['file_name']), boxes, [b['category_id'] - 1 for b in a]))
    return items


def round256(x):
    r = x % 256
    return max(256, x - r + (256 if r >= 128 else 0))


def sample_image(item, rng):
    """PIL-resized (bilinear, as Detectron2/the project) BGR uint8 tensor + scaled boxes. Scale jitter and
    method-2-like aspect changes so the detector serves both methods."""
    path, boxes, labels = item
    img = Image.open(path).convert('RGB')
    w, h = img.size
    u = rng.random()
    if u < 0.3:  # method 2 geometry: each side to its nearest multiple of 256
        nh, nw = round256(h), round256(w)
    else:
        s = rng.uniform(0.8, 1.25)
        nh, nw = int(h * s + 0.5), int(w * s + 0.5)
    if (nh, nw) != (h, w):
        img = img.resize((nw, nh), Image.BILINEAR)
    sx, sy = nw / w, nh / h
    arr = np.asarray(img)[:, :, ::-1].copy()
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4) * torch.tensor([sx, sy, sx, sy])
    if rng.random() < 0.5:
        arr = arr[:, ::-1].copy()
        b = torch.stack([nw - b[:, 2], b[:, 1], nw - b[:, 0], b[:, 3]], 1) if len(b) else b
    return torch.from_numpy(arr), b, torch.tensor(labels, dtype=torch.int64)


def batch(items, rng, n):
    xs, sizes, tg = [], [], []
    for it in rng.sample(items, n):
        im, b, l = sample_image(it, rng)
        x, sz = rcnn.preprocess(im)
        xs.append(x)
        sizes.append(sz)
        keep = ((b[:, 2] - b[:, 0]) > 1) & ((b[:, 3] - b[:, 1]) > 1) if len(b) else torch.zeros(0, dtype=torch.bool)
        tg.append({'boxes': b[keep], 'labels': l[keep]})
    H = max(x.shape[1] for x in xs)
    W = max(x.shape[2] for x in xs)
    out = torch.zeros(len(xs), 3, H, W)
    for i, x in enumerate(xs):
        out[i, :, :x.shape[1], :x.shape[2]] = x
    return out, sizes, tg


@torch.no_grad()
def coded_stem(stem, codec, x, sizes, level=None, bits=None, psnrs=None):
    """The receiver's stem features F̂ for a batch: per image, the project's feature path (min/max, 8-bit, method 1
    padding to multiples of 64 split as CompressAI's compute_padding), the codec's eval-mode forward (rounded y and z,
    i.e. what decoding the stream gives), crop, clamp to [0, 1], dequantize; placed where the batch's stem output is.
    `codec` may be any callable returning {'x_hat': ...} (capacity.py). With `psnrs`, appends each map's PSNR (dB,
    on the real map in [0, 1])."""
    out = stem(x)
    for i, (h, w) in enumerate(sizes):
        hp, wp = (h + 31) // 32 * 32, (w + 31) // 32 * 32
        f = stem(x[i:i + 1, :, :hp, :wp])[0]
        q, mn, mx = rcnn.quantize8(f)
        q = q / 255
        C, H, W = q.shape
        H2, W2 = (H + 63) // 64 * 64, (W + 63) // 64 * 64
        t, l = (H2 - H) // 2, (W2 - W) // 2
        qp = F.pad(q[None], (l, W2 - W - l, t, H2 - H - t))
        res = codec(qp) if level is None else codec(qp, stage=2, s=level)  # a VBR codec at one of its levels
        if bits is not None:  # estimated y + z bits (probe.py)
            bits.append(sum(float(-torch.log2(v).sum()) for v in res['likelihoods'].values()))
        xh = res['x_hat'][0, :, t:t + H, l:l + W].clamp(0, 1)
        if psnrs is not None:
            psnrs.append(10 * math.log10(1 / max(float(F.mse_loss(xh, q)), 1e-12)))
        out[i, :, :H, :W] = xh * (mx - mn) + mn
    return out


def load_codec(path):
    """A CompressAI .pth.tar (fixed-rate bmshj2018-hyperprior, or the VBR variant of train_codec_vbr.py), updated,
    frozen, in eval mode."""
    import train_codec
    sd = torch.load(path, map_location='cpu')
    N, M = sd['g_a.0.weight'].shape[0], sd['g_a.6.weight'].shape[0]
    if 'Gain' in sd:  # bmshj2018-hyperprior-vbr (train_codec_vbr.py): every level is a codec
        import train_codec_vbr
        m = train_codec_vbr.make_vbr(N, M, [1.0] * len(sd['Gain']), 0)
    else:
        m = train_codec.make_codec(N, M)
    m.load_state_dict(sd)
    m.update(force=True)
    m.eval()
    for q in m.parameters():
        q.requires_grad_(False)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', action='append', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--minutes', type=float, default=70)
    ap.add_argument('--freeze-stem-at', type=float, default=0.3)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--ckpt-minutes', type=float, default=4)
    ap.add_argument('--init', help='start from a webvcm detector .safetensors or a final.pt-layout checkpoint (its stem is frozen from the start)')
    ap.add_argument('--backbone', help="pre-trained bottom-up weights (pretrain_backbone.py's OUT/backbone.pt), loaded over --init")
    ap.add_argument('--frozen-bn', action='store_true', help="BatchNorm uses its (pre-trained) statistics, as Detectron2's FrozenBN")
    ap.add_argument('--warmup', type=int, default=300)
    ap.add_argument('--device', default='cpu', help='cpu or cuda (tools/train/device.sh)')
    ap.add_argument('--codecs', default='', help='codec-aware fine-tuning: comma-separated CompressAI .pth.tar files')
    ap.add_argument('--coded-frac', type=float, default=0.5, help='fraction of batches whose stem features go through a codec')
    args = ap.parse_args()
    say = runlog.start_run(args.out, args.threads)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    items = load_split(args.data)
    if args.init and not args.init.endswith('.safetensors'):  # a final.pt-layout file (e.g. from device.sh, import_device.py)
        ci = torch.load(args.init, map_location='cpu')
        cfg = ci['cfg']
        model = rcnn.GeneralizedRCNN(widths=[tuple(w) for w in cfg['widths']], blocks=cfg['blocks'], fpn=cfg['fpn'], fc=cfg['fc'], num_classes=cfg['num_classes'])
        model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in ci['model'].items()})
    else:
        model = st_weights.load_detector(args.init) if args.init else rcnn.GeneralizedRCNN()
    if args.backbone:
        model.backbone.bottom_up.load_state_dict(torch.load(args.backbone))
    dev = torch.device(args.device)
    model = model.to(dev, memory_format=torch.channels_last)  # NHWC: mkldnn convs instead of the slow im2col path, ~3x faster
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    state = {'iter': 0, 'elapsed': 0.0, 'stem_frozen': bool(args.init)}
    ck = os.path.join(args.out, 'last.pt')
    if os.path.exists(ck):
        c = torch.load(ck, map_location=dev)
        model.load_state_dict(c['model'])
        opt.load_state_dict(c['opt'])
        state = c['state']
        rng.setstate(c['rng'])
        torch.set_rng_state(c['torch_rng'])
        say(f'resumed at iter {state["iter"]}, {state["elapsed"] / 60:.1f} min')
    else:
        say(f'start: {len(items)} images, cfg {json.dumps(model.cfg)}, params {sum(p.numel() for p in model.parameters())}, args {vars(args)}')
    budget = args.minutes * 60
    stem = model.backbone.bottom_up.stem

    def freeze_stem():
        for p in stem.parameters():
            p.requires_grad_(False)
        stem.eval()

    def set_train_mode():
        model.train()
        if state['stem_frozen']:
            stem.eval()
        if args.frozen_bn:
            for m in model.backbone.bottom_up.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()

    if state['stem_frozen']:
        freeze_stem()
    codecs = []
    if args.codecs:
        assert state['stem_frozen'], 'codec-aware fine-tuning needs the frozen stem the codecs were trained on'
        for p in args.codecs.split(','):
            m = load_codec(p).to(dev)
            codecs.append(m)
        say(f'codec-aware fine-tuning with {len(codecs)} codecs ({args.codecs}), coded fraction {args.coded_frac}')
    t_last = time.time()
    t_ck = time.time()
    avg = {}
    set_train_mode()
    if state['stem_frozen'] and not os.path.exists(os.path.join(args.out, 'stem.pt')):
        torch.save({k: v for k, v in model.state_dict().items() if k.startswith('backbone.bottom_up.stem.')}, os.path.join(args.out, 'stem.pt'))
    while state['elapsed'] < budget:
        frac = state['elapsed'] / budget
        warm = min(1.0, (state['iter'] + 1) / args.warmup)
        lr = args.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        if not state['stem_frozen'] and frac >= args.freeze_stem_at:
            freeze_stem()
            state['stem_frozen'] = True
            torch.save({k: v for k, v in model.state_dict().items() if k.startswith('backbone.bottom_up.stem.')}, os.path.join(args.out, 'stem.pt'))
            say(f'stem frozen at iter {state["iter"]} -> {args.out}/stem.pt')
        x, sizes, tg = batch(items, rng, args.batch)
        stem_in = None
        if codecs and rng.random() < args.coded_frac:
            cm = codecs[rng.randrange(len(codecs))]
            stem_in = coded_stem(stem, cm, x, sizes, rng.randrange(len(cm.Gain)) if hasattr(cm, 'Gain') else None)
        x = x.to(dev).contiguous(memory_format=torch.channels_last)
        tg = [{k: v.to(dev) for k, v in t.items()} for t in tg]
        losses = model.losses(x, sizes, tg, stem=stem_in)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        for k, v in losses.items():
            avg[k] = 0.98 * avg.get(k, float(v)) + 0.02 * float(v)
        now = time.time()
        state['elapsed'] += now - t_last
        t_last = now
        state['iter'] += 1
        if state['iter'] % 20 == 0:
            say(f'iter {state["iter"]} {state["elapsed"] / 60:.1f}/{args.minutes:.0f} min lr {lr:.2e} ' + ' '.join(f'{k} {v:.4f}' for k, v in avg.items()))
        if now - t_ck > args.ckpt_minutes * 60 or state['elapsed'] >= budget:
            torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'state': state, 'rng': rng.getstate(),
                        'torch_rng': torch.get_rng_state(), 'cfg': model.cfg}, ck + '.tmp')
            os.replace(ck + '.tmp', ck)
            t_ck = now
    torch.save({'model': model.state_dict(), 'cfg': model.cfg, 'state': state}, os.path.join(args.out, 'final.pt'))
    say(f'done: {state["iter"]} iterations in {state["elapsed"] / 60:.1f} min -> {args.out}/final.pt')


if __name__ == '__main__':
    main()
