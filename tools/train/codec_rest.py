"""The bundled codec as a training resume point, without a second full copy in the repository.

weights/default/codec.safetensors holds every conv weight and bias, Gain and QuantABCD exactly (the f16-rounded
parameters, stored as lossless F16), but GDN as its effective β/γ and the entropy models as tables. The few tensors a
CompressAI state dict needs beyond those — the raw GDN parameters, the entropy bottleneck's density parameters and
quantiles, small buffers — go into a small "rest" file (weights/snapshot/codec-rest.pt, ~0.3 MB); `join` rebuilds the
state dict (then `update(force=True)`), which `train_codec_vbr.py --base` and `train_detector.py --codecs` take.

  /usr/bin/python3 tools/train/codec_rest.py split CODEC.pth.tar weights/default/codec.safetensors -o weights/snapshot/codec-rest.pt
  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/codec_rest.py join weights/default/codec.safetensors weights/snapshot/codec-rest.pt -o codec.pth.tar
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import st_weights  # noqa: E402

# buffers that update(force=True) recomputes: never stored
DERIVED = ('._offset', '._quantized_cdf', '._cdf_length')


def split(pth, st, out):
    sd = torch.load(pth, map_location='cpu')
    canon, _ = st_weights.read_safetensors(st)
    rest = {}
    for k, v in sd.items():
        if k.endswith(DERIVED):
            continue
        c = canon.get(k)
        if c is not None and c.shape == v.shape and torch.equal(c.to(v.dtype), v):
            continue  # exactly in the bundled file
        h = v.half() if v.is_floating_point() else v
        rest[k] = h if v.is_floating_point() and torch.equal(h.float(), v.float()) else v
    torch.save(rest, out)
    print(f'{out}: {len(rest)} tensors, {os.path.getsize(out) / 1e6:.2f} MB ({len(sd)} in the state dict)')


def join(st, rest_path, out):
    import train_codec_vbr
    canon, _ = st_weights.read_safetensors(st)
    rest = {k: (v.float() if v.is_floating_point() else v) for k, v in torch.load(rest_path, map_location='cpu').items()}
    N, M = canon['g_a.0.weight'].shape[0], canon['g_a.6.weight'].shape[0]
    m = train_codec_vbr.make_vbr(N, M, [1.0] * len(canon['Gain']), 0)
    want = m.state_dict()
    sd = {}
    for k, v in want.items():
        if k in rest:
            sd[k] = rest[k]
        elif k in canon:  # (buffers such as scale_table are empty before update(): CompressAI resizes them on load)
            sd[k] = canon[k].to(v.dtype)
    missing = [k for k in want if k not in sd and not k.endswith(DERIVED)]  # checked before the tables are filled in
    if missing:
        sys.exit(f'{st} + {rest_path} lack {missing}')
    for k in want:
        if k not in sd:  # the derived tables, as they are before update()
            sd[k] = want[k]
    m.load_state_dict(sd)
    m.eval()
    m.update(force=True)
    torch.save(m.state_dict(), out)
    print(f'{out}: N={N} M={M}, {len(canon["Gain"])} levels')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('cmd', choices=['split', 'join'])
    ap.add_argument('a')
    ap.add_argument('b')
    ap.add_argument('-o', '--out', required=True)
    a = ap.parse_args()
    (split if a.cmd == 'split' else join)(a.a, a.b, a.out)


if __name__ == '__main__':
    main()
