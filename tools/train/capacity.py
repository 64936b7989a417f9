"""Capacity ablation of the feature codec (issue 19): how much of the 8-bit stem map can CompressAI's hyperprior
transforms (g_a, g_s) give back when rate is no object, and what detection AP that leaves.

  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/capacity.py --data .cache/world-train --data .cache/world-train-b \
      --detector weights/default/detector.safetensors --init .cache/train/export/codec-vbr-paper.pth.tar \
      --out .cache/train/cap-c3 --minutes 30

The model is the codec's transform pair only, trained as an autoencoder: x̂ = g_s(Q(g_a(x))) on whole maps padded
as method 1 codes them, loss = MSE on the real map, with Q = uniform noise of width 1/gain in training and rounding to
a step of 1/gain in evaluation (no entropy model, no rate term: λ → ∞ at a fixed fine step). `--gain 0` removes Q.
Variants:
  --init PTH      start from a codec's g_a/g_s (the bundled one: does more training at no rate raise its ceiling?);
                  with --down 3, from the codec less the stage next to the latent on each side (the same start, a
                  latent at 1/8 of the map instead of 1/16);
  --N/--M/--down  fresh transforms: N, M and the number of stride-2 stages (CompressAI's family has 4, i.e. a latent
                  at 1/16 of the map; --down 3 is the same network with one stage fewer, not a CompressAI model).
Every --eval-every minutes (and at the start) it scores the receiver side of method 1 on --eval-limit images of
--eval-split with --detector: PSNR of x̂ on the real map, precision/recall at 0.5 and COCO AP (webvcm eval, needs
`npm run build`). `--reference` only prints the same scores for the 8-bit maps themselves and for 2×2 / 4×4
block averages of them. Log: OUT/log.txt and OUT/evals.jsonl; resumable from OUT/last.pt.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import cai  # noqa: E402
import probe  # noqa: E402
import runlog  # noqa: E402
import train_codec  # noqa: E402
import train_detector  # noqa: E402
from compressai.layers import GDN  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


class Transforms(nn.Module):
    """CompressAI's ScaleHyperprior g_a / g_s (kernel 5, stride 2, GDN / IGDN), 64 channels in and out, `down`
    stride-2 stages (4 in CompressAI)."""

    def __init__(self, N, M, down=4, gain=4.0):
        super().__init__()
        a, s = [], []
        for i in range(down):
            a.append(cai.conv(64 if i == 0 else N, M if i == down - 1 else N))
            s.append(cai.deconv(M if i == 0 else N, 64 if i == down - 1 else N))
            if i < down - 1:
                a.append(GDN(N))
                s.append(GDN(N, inverse=True))
        self.g_a, self.g_s = nn.Sequential(*a), nn.Sequential(*s)
        self.gain = gain
        self.multiple = 2 ** down

    def forward(self, x):
        y = self.g_a(x)
        if self.gain:
            y = y + (torch.rand_like(y) - 0.5) / self.gain if self.training else torch.round(y * self.gain) / self.gain
        return {'x_hat': self.g_s(y)}


def lowpass(k):
    """A stand-in 'codec' that returns the k×k block average of the map (k = 1: the map itself)."""
    def f(x):
        return {'x_hat': x if k == 1 else F.interpolate(F.avg_pool2d(x, k), scale_factor=k, mode='nearest')}
    return f


def evaluate(codec, det, split, limit, threads):
    """Method 1's receiver side through `codec` on the first `limit` images of `split`: PSNR (dB, mean over maps, on
    the real map), P/R at score ≥ 0.5 and COCO AP / AP50 / APs."""
    js, ims, anns = probe.split_subset(split, limit)
    stem, psnrs = det.backbone.bottom_up.stem, []
    with torch.no_grad():
        res = probe.detect(det, split, ims, lambda x, size: train_detector.coded_stem(stem, codec, x[None], [size], psnrs=psnrs))
    p, r, rs, _ = probe.pr_at(res, anns)
    tmp = os.path.join(ROOT, '.cache', 'capacity-eval')
    os.makedirs(tmp, exist_ok=True)
    st = probe.coco_stats(res, js, ims, anns, os.path.join(tmp, f'det-{os.getpid()}.json'))
    return {'psnr': sum(psnrs) / len(psnrs), 'P': p, 'R': r, 'R_small': rs, 'AP': 100 * st['AP'], 'AP50': 100 * st['AP50'],
            'APs': 100 * st['APs']}


def fmt(e):
    return (f"PSNR {e['psnr']:.2f} dB, AP {e['AP']:.2f}, AP50 {e['AP50']:.2f}, APs {e['APs']:.2f}, "
            f"P/R@0.5 {e['P']:.3f}/{e['R']:.3f}, small R {e['R_small']:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--detector', required=True, help='a webvcm detector .safetensors or a train_detector.py checkpoint')
    ap.add_argument('--data', action='append')
    ap.add_argument('--out')
    ap.add_argument('--init', help="a CompressAI .pth.tar whose g_a / g_s start the run (its N, M; 4 stages)")
    ap.add_argument('--N', type=int, default=128)
    ap.add_argument('--M', type=int, default=192)
    ap.add_argument('--down', type=int, default=4)
    ap.add_argument('--gain', type=float, default=4.0, help='the latent step is 1/gain (the bundled codec: gain 1 at its top level); 0: none')
    ap.add_argument('--minutes', type=float, default=30)
    ap.add_argument('--images', type=int, default=1000)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--lr', type=float, default=1e-4)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=11)
    ap.add_argument('--eval-split', default=os.path.join(ROOT, 'artifacts/world-test'))
    ap.add_argument('--eval-limit', type=int, default=40)
    ap.add_argument('--eval-every', type=float, default=10, help='minutes of training between evaluations')
    ap.add_argument('--reference', action='store_true', help='only score the 8-bit maps and their 2×2 / 4×4 block averages')
    args = ap.parse_args()
    det = probe.load(args.detector)
    if args.reference:
        torch.set_num_threads(args.threads)
        for k in (1, 2, 4):
            print(f'{"8-bit map" if k == 1 else f"{k}×{k} block average"}: ' + fmt(evaluate(lowpass(k), det, args.eval_split, args.eval_limit, args.threads)), flush=True)
        return
    if not args.data or not args.out:
        ap.error('--data and --out are required (unless --reference)')
    say = runlog.start_run(args.out, args.threads)
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    if args.init:
        sd = torch.load(args.init, map_location='cpu')
        N, M = sd['g_a.0.weight'].shape[0], sd['g_a.6.weight'].shape[0]
        if args.down not in (3, 4):
            ap.error('--init works with --down 4 (the codec as it is) or 3 (the codec less one stage)')
        model = Transforms(N, M, args.down, args.gain)
        # --down 3: the codec less one stride-2 stage, the one next to the latent on each side: g_a keeps its layers
        # 0-3 and its last conv (N→M), g_s its first deconv and IGDN (M→N) and its layers 4-6
        keep = {'g_a': [0, 1, 2, 3, 4, 5, 6], 'g_s': [0, 1, 2, 3, 4, 5, 6]} if args.down == 4 else {'g_a': [0, 1, 2, 3, 6], 'g_s': [0, 1, 4, 5, 6]}
        state = {}
        for g, layers in keep.items():
            for new, old in enumerate(layers):
                for k, v in sd.items():
                    if k.startswith(f'{g}.{old}.'):
                        state[f'{g}.{new}.' + k[len(f'{g}.{old}.'):]] = v
        model.load_state_dict(state)
    else:
        N, M = args.N, args.M
        if not 1 <= args.down <= 6:
            ap.error('--down must be 1..6 (method 1 pads to multiples of 64)')
        model = Transforms(N, M, args.down, args.gain)
    t0 = time.time()
    stem_state = {k: v for k, v in det.state_dict().items() if k.startswith('backbone.bottom_up.stem.')}
    paths = []
    for d in args.data:
        js = json.load(open(os.path.join(d, 'instances.json')))
        paths += [os.path.join(d, im['file_name']) for im in js['images']]
    feats = train_codec.stem_features(stem_state, rng.sample(paths, min(args.images, len(paths))), args.threads)
    say(f'{len(feats)} stem maps in {time.time() - t0:.0f} s; N={N} M={M} stages={len(model.g_a) // 2 + 1} gain={args.gain} '
        f'params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M; args {vars(args)}')
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = {'iter': 0, 'elapsed': 0.0, 'next_eval': 0.0}
    ck = os.path.join(args.out, 'last.pt')
    if os.path.exists(ck):
        c = torch.load(ck)
        model.load_state_dict(c['model'])
        opt.load_state_dict(c['opt'])
        state = c['state']
        rng.setstate(c['rng'])
        say(f'resumed at iter {state["iter"]}, {state["elapsed"] / 60:.1f} min')
    evals = open(os.path.join(args.out, 'evals.jsonl'), 'a')
    budget = args.minutes * 60
    t_last = t_ck = time.time()
    avg = None
    while True:
        if state['elapsed'] >= state['next_eval'] or state['elapsed'] >= budget:
            model.eval()
            e = evaluate(model, det, args.eval_split, args.eval_limit, args.threads)
            model.train()
            e.update(iter=state['iter'], minutes=round(state['elapsed'] / 60, 2))
            evals.write(json.dumps(e) + '\n')
            evals.flush()
            say(f'eval at iter {state["iter"]} ({state["elapsed"] / 60:.1f} min): ' + fmt(e))
            state['next_eval'] = state['elapsed'] + args.eval_every * 60
            t_last = time.time()  # evaluation time is not training time
            if state['elapsed'] >= budget:
                break
        frac = state['elapsed'] / budget
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        xb, mask, _ = train_codec.full_batch(feats, rng, args.batch)
        mse = ((model(xb)['x_hat'] - xb) ** 2 * mask).sum() / (mask.sum() * xb.shape[1])
        opt.zero_grad()
        mse.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        avg = float(mse) if avg is None else 0.95 * avg + 0.05 * float(mse)
        now = time.time()
        state['elapsed'] += now - t_last
        t_last = now
        state['iter'] += 1
        if state['iter'] % 50 == 0:
            say(f'iter {state["iter"]} {state["elapsed"] / 60:.1f}/{args.minutes:.0f} min lr {lr:.2e} train {10 * math.log10(1 / max(avg, 1e-12)):.2f} dB')
        if now - t_ck > 240:
            torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'state': state, 'rng': rng.getstate()}, ck + '.tmp')
            os.replace(ck + '.tmp', ck)
            t_ck = now
    torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'state': state, 'rng': rng.getstate()}, ck)
    say(f'done: {state["iter"]} iterations in {state["elapsed"] / 60:.1f} min')


if __name__ == '__main__':
    main()
