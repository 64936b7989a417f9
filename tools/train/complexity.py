"""Complexity in kMAC per image pixel, as CompressAI-Vision reports it: the client (stem, g_a, h_a, h_s) and the
receiver (h_s, g_s, the rest of the detector), for one image size and method, counted with forward hooks on every
Conv2d / ConvTranspose2d / Linear (and ConvBN, GDN's 1×1 convolution) of the actual models.

  COMPRESSAI_SRC=.cache/compressai-src /usr/bin/python3 tools/train/complexity.py \
      --detector weights/default/detector.safetensors --codec weights/world/codec-l0.04.pth.tar [--size 320x480] [--json]

Shapes come from the checkpoints. The ROI box head is counted for the 1000 proposals inference keeps per image.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import rcnn  # noqa: E402
import st_weights  # noqa: E402


def codec_from(path):
    import cai
    import train_codec
    if path.endswith('.safetensors'):
        sd, _ = st_weights.read_safetensors(path)
    else:
        sd = torch.load(path, map_location='cpu')
    N, M = sd['g_a.0.weight'].shape[0], sd['g_a.6.weight'].shape[0]
    m = train_codec.make_codec(N, M)
    m.load_state_dict(sd, strict=False)
    return m.eval(), N, M


class Counter:
    def __init__(self):
        self.macs = 0

    def conv(self, w, out, transposed=False, inp=None):
        if transposed:  # dense equivalent: every input position × kernel × out channels
            C, H, W = inp.shape[1:]
            self.macs += inp.shape[0] * C * H * W * w.shape[1] * w.shape[2] * w.shape[3]
        else:
            self.macs += out.numel() * w.shape[1] * w.shape[2] * w.shape[3]


def count(fn):
    """MACs of fn() with F.conv2d / conv_transpose2d / linear patched to count."""
    c = Counter()
    conv2d, convT, linear = F.conv2d, F.conv_transpose2d, F.linear

    def p_conv(x, w, *a, **k):
        y = conv2d(x, w, *a, **k)
        c.conv(w, y)
        return y

    def p_convT(x, w, *a, **k):
        y = convT(x, w, *a, **k)
        c.conv(w, y, True, x)
        return y

    def p_lin(x, w, *a, **k):
        c.macs += x.numel() // x.shape[-1] * w.shape[0] * w.shape[1]
        return linear(x, w, *a, **k)

    F.conv2d, F.conv_transpose2d, F.linear = p_conv, p_convT, p_lin
    try:
        with torch.no_grad():
            out = fn()
    finally:
        F.conv2d, F.conv_transpose2d, F.linear = conv2d, convT, linear
    return c.macs, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--detector', required=True)
    ap.add_argument('--codec', required=True)
    ap.add_argument('--size', default='320x480')
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.split('x'))
    det = st_weights.load_detector(a.detector).eval()
    codec, N, M = codec_from(a.codec)
    hp, wp = (h + 31) // 32 * 32, (w + 31) // 32 * 32
    x = torch.zeros(1, 3, hp, wp)
    stem_macs, f = count(lambda: det.backbone.bottom_up.stem(x))
    H, W = f.shape[2:]
    H2, W2 = (H + 63) // 64 * 64, (W + 63) // 64 * 64  # method 1: the codec codes the padded map
    q = torch.rand(1, f.shape[1], H2, W2)
    ga, y = count(lambda: codec.g_a(q))
    ha, z = count(lambda: codec.h_a(torch.abs(y)))
    hs, _ = count(lambda: codec.h_s(z))
    gs, _ = count(lambda: codec.g_s(y))

    def tail():
        feats = det.backbone.fpn(det.backbone.bottom_up.forward_from_stem(f))
        logits, deltas = det.rpn_outputs(feats)
        props = torch.rand(1000, 4) * torch.tensor([w / 2, h / 2, w / 2, h / 2])
        props[:, 2:] += props[:, :2] + 8
        return det.box_outputs(det.pool(feats, [props]))

    rest, _ = count(tail)
    px = h * w
    k = lambda m: m / px / 1e3
    res = {
        'size': [h, w], 'feature': [int(f.shape[1]), int(H), int(W)], 'coded_feature': [int(f.shape[1]), H2, W2], 'N': N, 'M': M,
        'kmac_per_pixel': {
            'stem': k(stem_macs), 'g_a': k(ga), 'h_a': k(ha), 'h_s': k(hs), 'g_s': k(gs), 'detector_rest': k(rest),
            'client': k(stem_macs + ga + ha + hs), 'receiver': k(hs + gs + rest), 'detector_whole': k(stem_macs + rest),
        },
    }
    if a.json:
        print(json.dumps(res))
        return
    print(f'{h}x{w} image, stem map {res["feature"]}, codec on {res["coded_feature"]} (method 1), N={N} M={M}')
    print('| part | kMAC/pixel |\n|---|---:|')
    for key, v in res['kmac_per_pixel'].items():
        print(f'| {key} | {v:.2f} |')


if __name__ == '__main__':
    main()
