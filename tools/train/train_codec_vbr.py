"""One variable-rate feature codec for every rate point: CompressAI's `bmshj2018-hyperprior-vbr` (ScaleHyperpriorVbr,
Kamisli, Racapé & Choi, DCC 2024), stage 2, trained as CompressAI trains it, on the 8-bit stem features.

  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/train_codec_vbr.py --stem-from weights/default/detector.safetensors \
      --base .cache/train/codec3/last.pt --data .cache/world-train --data .cache/world-train-b \
      --out .cache/train/vbr --lambdas 0.005,0.02,0.08,0.32,1.28,5.12 --base-level 3 --minutes 90

Stage 1 is the plain ScaleHyperprior (train_codec.py's base model, at the λ of --base-level, where the gain is 1).
Stage 2 (this script): the same network with CompressAI's VBR modules — a gain per level (the inverse quantisation
step: y·gain is quantised, indexes come from scales_hat·gain) and the QuantABCD offset MLP — trained with one λ per
batch, the level drawn uniformly, loss = bpp + λ_s·255²·MSE, CompressAI's straight-through quantisation, the entropy
bottleneck's auxiliary loss on its own optimiser, then `update(force=True)`. Gains follow the high-rate rule
step ∝ 1/√λ (gain_s = √(λ_s/λ_base)), fixed as in CompressAI (its forward detaches them).

With --task-detector (our addition, not the paper's recipe): distortion = MSE(x̂, x) + w·MSE of the frozen detector's res2
output on the dequantised F̂ and F (in units of the map's range), so that bits go where the detector looks.

Writes OUT/codec-vbr.pth.tar (CompressAI's state dict: the ScaleHyperprior keys + Gain + QuantABCD.*) and OUT/log.txt
(per-level bpp and PSNR); resumable from OUT/last.pt.
"""
import argparse
import math
import os
import random
import time

import torch
import torch.nn.functional as F

import cai  # noqa: F401  (CompressAI without its package __init__)
import runlog
import train_codec
from compressai.models.vbr import ScaleHyperpriorVbr  # noqa: E402


def make_vbr(N, M, lambdas, base_level):
    torch.manual_seed(0)
    m = ScaleHyperpriorVbr(N, M)
    m.g_a[0] = cai.conv(64, N)
    m.g_s[6] = cai.deconv(N, 64)
    m.lmbda = list(lambdas)
    m.levels = len(lambdas)
    base = lambdas[base_level]
    m.Gain = torch.nn.Parameter(torch.tensor([math.sqrt(l / base) for l in lambdas]), requires_grad=True)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--stem', help='stem state dict (train_detector.py OUT/stem.pt)')
    ap.add_argument('--stem-from', help='or: a detector .safetensors whose (frozen) stem produces the features')
    ap.add_argument('--base', required=True, help="stage-1 weights: train_codec.py's OUT/last.pt (its base model) or a .pth.tar")
    ap.add_argument('--data', action='append', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--lambdas', default='0.005,0.02,0.08,0.32,1.28,5.12')
    ap.add_argument('--base-level', type=int, default=3, help='the level whose λ the base model was trained at (gain 1)')
    ap.add_argument('--minutes', type=float, default=90)
    ap.add_argument('--images', type=int, default=2000)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--crop', type=int, default=64)
    ap.add_argument('--lr', type=float, default=5e-4)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--seed', type=int, default=5)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--task-detector', help='task-aware variant (ours): also the distortion of the frozen detector\'s res2 output on the dequantised features (a .safetensors or final.pt)')
    ap.add_argument('--full-frac', type=float, default=0.0,
                    help='fraction of batches made of whole maps padded as method 1 codes them (bpp per real image pixel, '
                         'distortion on the real map), the rest 64×64 crops')
    ap.add_argument('--full-batch', type=int, default=4)
    ap.add_argument('--reset-gains', action='store_true',
                    help="gains from --lambdas and --base-level (sqrt(λ/λ_base)) instead of the base's, e.g. to add a level")
    ap.add_argument('--task-weight', type=float, default=1.0, help='weight of the res2 distortion against the feature MSE')
    args = ap.parse_args()
    say = runlog.start_run(args.out, args.threads)
    lambdas = [float(v) for v in args.lambdas.split(',')]
    rng = random.Random(args.seed)
    t0 = time.time()
    ranges = [] if args.task_detector else None
    feats = train_codec.load_features(args, rng, ranges)
    res2 = None
    if args.task_detector:
        import probe
        res2 = probe.load(args.task_detector).backbone.bottom_up.res2.eval()
        for p in res2.parameters():
            p.requires_grad_(False)
    dev = torch.device(args.device)
    bs = torch.load(args.base, map_location='cpu')
    if 'models' in bs:  # a train_codec.py checkpoint: its base model (before the split there is one)
        bs = bs['models'][0]
    elif 'model' in bs:  # this script's own checkpoint (a restart with new settings)
        bs = bs['model']
    bs = {k: (v.float() if v.is_floating_point() else v) for k, v in bs.items() if not (args.reset_gains and k == 'Gain')}  # f16 snapshots
    N, M = bs['g_a.0.weight'].shape[0], bs['g_a.6.weight'].shape[0]
    model = make_vbr(N, M, lambdas, args.base_level)
    missing, unexpected = model.load_state_dict(bs, strict=False)
    say(f'{len(feats)} stem maps in {time.time() - t0:.0f} s; N={N} M={M}; base {args.base}; new (not in the base): {missing}; '
        f'gains {[round(float(g), 4) for g in model.Gain]}; args {vars(args)}')
    model.to(dev)
    if res2 is not None:
        res2.to(dev)
    params = [v for k, v in model.named_parameters() if not k.endswith('.quantiles') and k != 'Gain']
    aux_params = [v for k, v in model.named_parameters() if k.endswith('.quantiles')]
    opt, opt_aux = torch.optim.Adam(params, lr=args.lr), torch.optim.Adam(aux_params, lr=1e-3)
    state = {'iter': 0, 'elapsed': 0.0}
    ck = os.path.join(args.out, 'last.pt')
    if os.path.exists(ck):
        c = torch.load(ck, map_location=dev)
        model.load_state_dict(c['model'])
        opt.load_state_dict(c['opt'])
        opt_aux.load_state_dict(c['opt_aux'])
        state = c['state']
        rng.setstate(c['rng'])
        say(f'resumed at iter {state["iter"]}, {state["elapsed"] / 60:.1f} min')
    budget = args.minutes * 60
    t_last = t_ck = time.time()
    avg = {}
    model.train()
    while state['elapsed'] < budget:
        frac = state['elapsed'] / budget
        lr = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g['lr'] = lr
        s = rng.randrange(len(lambdas))
        if rng.random() < args.full_frac:
            xb, mask, rb = train_codec.full_batch(feats, rng, args.full_batch, ranges)
            mask = mask.to(dev)
            npix = float(mask.sum()) * 16
        else:
            xb, rb = train_codec.crop_batch(feats, rng, args.batch, args.crop, ranges) if res2 is not None else \
                (train_codec.crop_batch(feats, rng, args.batch, args.crop), None)
            mask = None
            npix = xb.shape[0] * args.crop * args.crop * 16
        xb = xb.to(dev)
        out = model(xb, stage=2, s=s)
        bpp = sum(torch.log(l).sum() for l in out['likelihoods'].values()) / (-math.log(2) * npix)

        def masked_mse(a, b):
            if mask is None:
                return F.mse_loss(a, b)
            return ((a - b) ** 2 * mask).sum() / (mask.sum() * a.shape[1])

        mse = masked_mse(out['x_hat'], xb)
        dist = mse
        if res2 is not None:  # task-aware: res2(F̂) against res2(F), in units of the map's range
            rb = rb.to(dev)
            lo, span = rb[:, 0].view(-1, 1, 1, 1), (rb[:, 1] - rb[:, 0]).view(-1, 1, 1, 1)
            with torch.no_grad():
                r_ref = res2(xb * span + lo)
            dist = mse + args.task_weight * masked_mse(res2(out['x_hat'] * span + lo) / span, r_ref / span)
        loss = bpp + lambdas[s] * 255 ** 2 * dist
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        aux = model.aux_loss()
        opt_aux.zero_grad()
        aux.backward()
        opt_aux.step()
        if (mask is not None) == (args.full_frac > 0):  # the log follows whole maps when there are any
            b0, m0 = avg.get(s, (float(bpp), float(mse)))
            avg[s] = (0.95 * b0 + 0.05 * float(bpp), 0.95 * m0 + 0.05 * float(mse))
        now = time.time()
        state['elapsed'] += now - t_last
        t_last = now
        state['iter'] += 1
        if state['iter'] % 60 == 0:
            say(f'iter {state["iter"]} {state["elapsed"] / 60:.1f}/{args.minutes:.0f} min lr {lr:.2e} ' +
                ' '.join(f'l{lambdas[k]:g}: {b:.4f} bpp {10 * math.log10(1 / max(mm, 1e-12)):.2f} dB' for k, (b, mm) in sorted(avg.items())))
        if now - t_ck > 240 or state['elapsed'] >= budget:
            torch.save({'model': model.state_dict(), 'opt': opt.state_dict(), 'opt_aux': opt_aux.state_dict(), 'state': state,
                        'rng': rng.getstate(), 'lambdas': lambdas}, ck + '.tmp')
            os.replace(ck + '.tmp', ck)
            t_ck = now
    model.cpu().eval()
    model.update(force=True)
    path = os.path.join(args.out, 'codec-vbr.pth.tar')
    torch.save(model.state_dict(), path)
    say(f'done: {state["iter"]} iterations in {state["elapsed"] / 60:.1f} min -> {path}')


if __name__ == '__main__':
    main()
