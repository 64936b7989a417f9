"""Train 64-channel CompressAI ScaleHyperprior feature codecs on the trained detector's 8-bit stem features.

  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/train_codec.py --stem .cache/train/det/stem.pt \
      --data .cache/world-train --out .cache/train/codec --lambdas 0.0025,0.01,0.04,0.16 --minutes 50

The paper's recipe: x = round(255·(F − min)/(max − min))/255 per image (the project's feature path), loss =
bpp + λ·255²·MSE(x̂, x) with CompressAI's noise-based training forward, the entropy bottleneck's auxiliary loss on
its own optimizer, then `update(force=True)` so the CDF tables in the state dict are exactly what CompressAI computes.
bpp counts bits per pixel of the IMAGE that produced the features (16 image pixels per stride-4 feature position).
All rate points train in one process, sharing each batch; the first quarter of the budget trains one model at the
middle λ and the others start from it (warm start), then each continues at its own λ. Writes OUT/codec-l{λ}.pth.tar
(torch.save(state_dict), CompressAI's format) plus OUT/log.txt; resumable from OUT/last.pt.
"""
import argparse
import copy
import json
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import cai
import rcnn
import runlog
import st_weights


def make_codec(N, M):
    torch.manual_seed(0)
    m = cai.ScaleHyperprior(N, M)
    m.g_a[0] = cai.conv(64, N)
    m.g_s[6] = cai.deconv(N, 64)
    return m


def stem_features(stem_state, paths, threads, ranges=None):
    model = rcnn.Stem()
    model.load_state_dict({k[len('backbone.bottom_up.stem.'):]: v for k, v in stem_state.items()})
    model.eval()
    feats = []
    with torch.no_grad():
        for p in paths:
            img = np.asarray(Image.open(p).convert('RGB'))[:, :, ::-1].copy()
            x, _ = rcnn.preprocess(torch.from_numpy(img))
            f = model(x[None])[0]
            q, mn, mx = rcnn.quantize8(f)
            q = q.to(torch.uint8)
            feats.append(q)
            if ranges is not None:
                ranges.append((float(mn), float(mx)))
    return feats


def load_features(args, rng, ranges=None):
    """8-bit stem maps of --images training images (sampled with rng) through the stem of --stem or --stem-from."""
    paths = []
    for d in args.data:
        js = json.load(open(os.path.join(d, 'instances.json')))
        paths += [os.path.join(d, im['file_name']) for im in js['images']]
    paths = rng.sample(paths, min(args.images, len(paths)))
    if args.stem_from:
        det = st_weights.load_detector(args.stem_from)
        stem_state = {k: v for k, v in det.state_dict().items() if k.startswith('backbone.bottom_up.stem.')}
    else:
        stem_state = torch.load(args.stem)
    return stem_features(stem_state, paths, args.threads, ranges)


def crop_batch(feats, rng, batch, cs, ranges=None):
    """A batch of random cs×cs crops (random horizontal flips) of the 8-bit maps, as floats in [0, 1]; with `ranges`
    (the maps' (min, max)), also a [batch, 2] tensor of the crops' ranges."""
    xs, rs = [], []
    for _ in range(batch):
        k = rng.randrange(len(feats))
        f = feats[k]
        if ranges is not None:
            rs.append(ranges[k])
        _, H, W = f.shape
        y, x = rng.randrange(0, H - cs + 1), rng.randrange(0, W - cs + 1)
        c = f[:, y:y + cs, x:x + cs].float() / 255
        if rng.random() < 0.5:
            c = c.flip(2)
        xs.append(c)
    return torch.stack(xs) if ranges is None else (torch.stack(xs), torch.tensor(rs))


def full_batch(feats, rng, batch, ranges=None):
    """A batch of whole 8-bit maps as the receiver codes them with method 1: each padded to multiples of 64, split as
    CompressAI's compute_padding (centred), then zero-padded bottom/right to the batch's largest; random horizontal
    flips. Returns (x [B, C, H, W] in [0, 1], mask [B, 1, H, W] of the real map, ranges [B, 2] or None)."""
    xs, ms, rs = [], [], []
    for _ in range(batch):
        k = rng.randrange(len(feats))
        f = feats[k].float() / 255
        if rng.random() < 0.5:
            f = f.flip(2)
        C, H, W = f.shape
        H2, W2 = (H + 63) // 64 * 64, (W + 63) // 64 * 64
        t, l = (H2 - H) // 2, (W2 - W) // 2
        xs.append(F.pad(f, (l, W2 - W - l, t, H2 - H - t)))
        ms.append(F.pad(torch.ones(1, H, W), (l, W2 - W - l, t, H2 - H - t)))
        if ranges is not None:
            rs.append(ranges[k])
    Hm, Wm = max(x.shape[1] for x in xs), max(x.shape[2] for x in xs)
    x = torch.stack([F.pad(v, (0, Wm - v.shape[2], 0, Hm - v.shape[1])) for v in xs])
    m = torch.stack([F.pad(v, (0, Wm - v.shape[2], 0, Hm - v.shape[1])) for v in ms])
    return x, m, (torch.tensor(rs) if ranges is not None else None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--stem', help='stem state dict written by train_detector.py (OUT/stem.pt)')
    ap.add_argument('--stem-from', help='or: a detector .safetensors whose (frozen) stem produces the features')
    ap.add_argument('--init', help='warm start: a CompressAI .pth.tar of the same N/M (e.g. the previously bundled codec)')
    ap.add_argument('--base-lambda', type=float, help='λ of the shared base model (default: the middle λ)')
    ap.add_argument('--base-frac', type=float, default=0.25, help='fraction of the budget spent on the shared base model')
    ap.add_argument('--data', action='append', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--lambdas', default='0.0025,0.01,0.04,0.16')
    ap.add_argument('--N', type=int, default=48)
    ap.add_argument('--M', type=int, default=64)
    ap.add_argument('--minutes', type=float, default=50)
    ap.add_argument('--images', type=int, default=800)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--crop', type=int, default=64)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=2)
    ap.add_argument('--device', default='cpu', help='cpu or cuda (tools/train/device.sh)')
    args = ap.parse_args()
    say = runlog.start_run(args.out, args.threads)

    lambdas = [float(v) for v in args.lambdas.split(',')]
    rng = random.Random(args.seed)
    t0 = time.time()
    feats = load_features(args, rng)
    say(f'{len(feats)} stem feature maps (8-bit) in {time.time() - t0:.0f} s; lambdas {lambdas}; N={args.N} M={args.M}; args {vars(args)}')

    dev = torch.device(args.device)
    base = make_codec(args.N, args.M)
    if args.init:
        base.load_state_dict(torch.load(args.init), strict=False)
        say(f'warm start from {args.init}')
    base.to(dev)
    models = [base]
    ck = os.path.join(args.out, 'last.pt')
    state = {'iter': 0, 'elapsed': 0.0, 'split': False}
    mid = len(lambdas) // 2
    if args.base_lambda is not None:
        mid = min(range(len(lambdas)), key=lambda i: abs(math.log(lambdas[i] / args.base_lambda)))

    def opts(m):
        p = [v for k, v in m.named_parameters() if not k.endswith('.quantiles')]
        a = [v for k, v in m.named_parameters() if k.endswith('.quantiles')]
        return torch.optim.Adam(p, lr=args.lr), torch.optim.Adam(a, lr=1e-3)

    optimizers = [opts(base)]
    if os.path.exists(ck):
        c = torch.load(ck, map_location=dev)
        state = c['state']
        models = []
        optimizers = []
        for sd, (o1, o2) in zip(c['models'], c['opts']):
            m = make_codec(args.N, args.M).to(dev)
            m.load_state_dict(sd, strict=False)
            models.append(m)
            oo = opts(m)
            oo[0].load_state_dict(o1)
            oo[1].load_state_dict(o2)
            optimizers.append(oo)
        rng.setstate(c['rng'])
        say(f'resumed at iter {state["iter"]}')
    budget = args.minutes * 60
    t_last = time.time()
    t_ck = time.time()
    avg = {}
    cs = args.crop
    while state['elapsed'] < budget:
        frac = state['elapsed'] / budget
        if not state['split'] and frac >= args.base_frac:
            base_opt = optimizers[0]
            models = [base if i == mid else copy.deepcopy(base) for i in range(len(lambdas))]
            optimizers = [base_opt if i == mid else opts(m) for i, m in enumerate(models)]
            state['split'] = True
            say(f'split into {len(models)} rate points at iter {state["iter"]}')
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        xb = crop_batch(feats, rng, args.batch, cs).to(dev)
        npix = xb.shape[0] * cs * cs * 16  # image pixels behind the crops
        lams = [lambdas[mid]] if not state['split'] else lambdas
        for i, (m, (o, oa)) in enumerate(zip(models, optimizers)):
            for g in o.param_groups:
                g['lr'] = lr
            out = m(xb)
            bpp = sum(torch.log(l).sum() for l in out['likelihoods'].values()) / (-math.log(2) * npix)
            mse = F.mse_loss(out['x_hat'], xb)
            loss = bpp + lams[i] * 255 ** 2 * mse
            o.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            o.step()
            aux = m.aux_loss()
            oa.zero_grad()
            aux.backward()
            oa.step()
            key = f'l{lams[i]:g}'
            b0, m0 = avg.get(key, (float(bpp), float(mse)))
            avg[key] = (0.98 * b0 + 0.02 * float(bpp), 0.98 * m0 + 0.02 * float(mse))
        now = time.time()
        state['elapsed'] += now - t_last
        t_last = now
        state['iter'] += 1
        if state['iter'] % 50 == 0:
            say(f'iter {state["iter"]} {state["elapsed"] / 60:.1f}/{args.minutes:.0f} min lr {lr:.2e} ' +
                ' '.join(f'{k}: bpp {b:.4f} psnr {10 * math.log10(1 / max(mm, 1e-12)):.2f}' for k, (b, mm) in avg.items()))
        if now - t_ck > 240 or state['elapsed'] >= budget:
            torch.save({'models': [m.state_dict() for m in models], 'opts': [(o.state_dict(), a.state_dict()) for o, a in optimizers],
                        'state': state, 'rng': rng.getstate()}, ck + '.tmp')
            os.replace(ck + '.tmp', ck)
            t_ck = now
    if not state['split']:
        models = [copy.deepcopy(base) for _ in lambdas]
    for lam, m in zip(lambdas, models):
        m.cpu()
        m.update(force=True)
        path = os.path.join(args.out, f'codec-l{lam:g}.pth.tar')
        torch.save(m.state_dict(), path)
        say(f'wrote {path}')
    say(f'done: {state["iter"]} iterations in {state["elapsed"] / 60:.1f} min')


if __name__ == '__main__':
    main()
