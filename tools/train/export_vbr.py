"""Export a VBR training checkpoint (train_codec_vbr.py's OUT/last.pt, or an f16 snapshot) as CompressAI writes a
finished model: `update(force=True)`, then `torch.save(state_dict)`.

  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/export_vbr.py .cache/train/vbr/last.pt -o .cache/train/vbr/codec-vbr.pth.tar [--f16]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import train_codec_vbr  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ckpt')
    ap.add_argument('-o', '--out', required=True)
    ap.add_argument('--f16', action='store_true',
                    help='round every parameter to float16 first (then update): `webvcm convert` stores those tensors as '
                         'F16, losslessly, which halves the file; the rounded model is the one evaluated')
    a = ap.parse_args()
    c = torch.load(a.ckpt, map_location='cpu')
    sd = c['model'] if 'model' in c else c
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    N, M = sd['g_a.0.weight'].shape[0], sd['g_a.6.weight'].shape[0]
    m = train_codec_vbr.make_vbr(N, M, [1.0] * len(sd['Gain']), 0)
    m.load_state_dict(sd)
    if a.f16:
        with torch.no_grad():
            for p in m.parameters():
                p.copy_(p.half().float())
    m.eval()
    m.update(force=True)
    torch.save(m.state_dict(), a.out)
    print(f'{a.out}: N={N} M={M}, {len(sd["Gain"])} levels, gains {[round(float(g), 4) for g in m.Gain]}')


if __name__ == '__main__':
    main()
