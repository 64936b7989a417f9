"""PyTorch worker for `tools/rd-torch.ts` (the rate–accuracy experiment with the PyTorch reference runner,
docs/eval.md): the detector (tools/train/rcnn.py, Detectron2 R50-FPN inference) and the feature codecs (CompressAI's
own code, real entropy coding) for `runRdExperiment`, one JSON object per line on stdin and stdout.

  COMPRESSAI_SRC=... /usr/bin/python3 tools/train/rd_worker.py --detector D --codec C [--codec C2 ...]
      --min-size 320 --max-size 544 [--threads 1]

Start: one line {"ready": true, "codecs": [{"levels": n}], "numClasses": k, "classNames": [...]|null}.
Requests (each answered by one line; an error by {"error": "..."}); images come decoded by webvcm (the same pixels
as `webvcm eval`, whatever the file format):
  {"op": "features", "height": H, "width": W, "bgr": b64 of H*W*3 uint8 BGR, "reference": bool,
   "points": [{"key": row key, "method": 1|2, "codec": index, "level": VBR level or null}]}
    -> {"size": [H, W], "reference": dets|null, "rows": {key: {dets, "y": b64, "z": b64, "zShape": [h, w],
        "featureShape": [C, H, W], "padding": [t, l, b, r], "mn": f32, "mx": f32, "resized": [h, w]}}}
  {"op": "detect", "height": H, "width": W, "bgr": b64 of H*W*3 uint8 BGR}  -> {"dets": dets}
  dets = {"boxes": [x1, y1, x2, y2, ...] in original-image pixels, "scores": [...], "classes": [...]}

The feature path is webvcm's (src/model/codec/features.ts): per-image min/max, q = round_half_even((F − mn)/scale)
with scale = f32((mx − mn)/255), x = q/255; method 1 pads x to multiples of 64 (CompressAI's compute_padding split)
and crops after decoding; method 2 codes the stem of the image resized to multiples of 256; F̂ = clamp(x̂, 0, 1)·(mx −
mn) + mn, then the rest of the detector from the stem. The strings come from `compress()` and x̂ from `decompress()`
(a VBR model at `stage=2, s=level`), so the detector sees what a receiver decodes. The container around the strings
is written by the TypeScript side (src/coder/container.ts), which also counts the bytes.
"""
import argparse
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import cai  # noqa: E402  (CompressAI's classes, before anything imports compressai)
import export_detector  # noqa: E402
import probe  # noqa: E402
import rcnn  # noqa: E402
import train_codec  # noqa: E402
import train_codec_vbr  # noqa: E402
import train_detector  # noqa: E402


def load_codec(path):
    """A CompressAI .pth.tar (torch.save(state_dict)): bmshj2018-hyperprior, or -vbr (a `Gain` tensor)."""
    sd = torch.load(path, map_location='cpu')
    if 'state_dict' in sd:
        sd = sd['state_dict']
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}
    N, M = sd['g_a.0.weight'].shape[0], sd['g_a.6.weight'].shape[0]
    if 'Gain' in sd:
        m = train_codec_vbr.make_vbr(N, M, [1.0] * len(sd['Gain']), 0)
    else:
        m = train_codec.make_codec(N, M)
    m.load_state_dict(sd)
    return m.eval()


def shortest_edge_size(h, w, short, max_size):
    """detectron2 ResizeShortestEdge.get_output_shape (src/model/detector/preprocess.ts shortestEdgeSize)."""
    scale = short / min(h, w)
    nh, nw = (short, scale * w) if h < w else (scale * h, short)
    if max(nh, nw) > max_size:
        scale = max_size / max(nh, nw)
        nh, nw = nh * scale, nw * scale
    return int(nh + 0.5), int(nw + 0.5)


def resized(bgr, h, w):
    """Pillow bilinear (what the project's resize reproduces bit for bit); the same array when the size is kept."""
    if bgr.shape[:2] == (h, w):
        return bgr
    rgb = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).resize((w, h), Image.BILINEAR)
    return np.asarray(rgb)[:, :, ::-1].copy()


def compute_padding(h, w, div=64):
    H, W = (h + div - 1) // div * div, (w + div - 1) // div * div
    t, l = (H - h) // 2, (W - w) // 2
    return t, l, H - h - t, W - w - l


def postprocess(b, s, c, size, original):
    """detectron2 detector_postprocess: scale by original/resized per axis (float32), clip, drop empty boxes."""
    sx = np.float32(original[1] / size[1])
    sy = np.float32(original[0] / size[0])
    b = b * torch.tensor([sx, sy, sx, sy])
    H, W = original
    b = torch.stack([b[:, 0].clamp(0, W), b[:, 1].clamp(0, H), b[:, 2].clamp(0, W), b[:, 3].clamp(0, H)], 1)
    keep = ((b[:, 2] - b[:, 0]) > 0) & ((b[:, 3] - b[:, 1]) > 0)
    return {'boxes': b[keep].flatten().tolist(), 'scores': s[keep].tolist(), 'classes': c[keep].tolist()}


class Worker:
    def __init__(self, a):
        self.model = probe.load(a.detector)
        self.codecs = [load_codec(c) for c in a.codec]
        self.min_size, self.max_size = a.min_size, a.max_size
        self.stem_mod = self.model.backbone.bottom_up.stem
        self.safetensors = a.detector.endswith('.safetensors')

    def hello(self):
        k = self.model.num_classes
        # a training checkpoint stores no names: the world's (export_detector.py); a .safetensors has its own (TS reads them)
        names = None if self.safetensors else export_detector.CLASS_NAMES[:k]
        return {'ready': True, 'numClasses': k, 'classNames': names,
                'codecs': [{'levels': len(c.Gain) if hasattr(c, 'Gain') else 0} for c in self.codecs]}

    def stem(self, bgr, method2):
        """(stem [C, Hs, Ws], resized (h, w)) for the original BGR image under the detector's resize."""
        H, W = bgr.shape[:2]
        h, w = shortest_edge_size(H, W, self.min_size, self.max_size)
        if method2:
            h, w = train_detector.round256(h), train_detector.round256(w)
        x, size = rcnn.preprocess(torch.from_numpy(resized(bgr, h, w)))
        return self.stem_mod(x[None])[0], size

    def finish(self, stem, size, original):
        b, s, c = self.model.infer(stem.new_zeros(1), size, stem=stem[None])
        return postprocess(b, s, c, size, original)

    def code(self, stem, p):
        """webvcm's feature path around CompressAI compress() / decompress(); returns the receiver's F̂ and the fields."""
        codec = self.codecs[p['codec']]
        C, H, W = stem.shape
        pad = compute_padding(H, W)
        if p['method'] == 2 and any(pad):
            raise ValueError(f'method 2 stem {H}x{W} is not a multiple of 64')
        q, mn, mx = rcnn.quantize8(stem)
        q = q / 255
        t, l, b, r = pad
        x = F.pad(q[None], (l, r, t, b))
        kw = {} if p.get('level') is None else {'stage': 2, 's': int(p['level'])}
        enc = codec.compress(x, **kw)
        y, z = enc['strings'][0][0], enc['strings'][1][0]
        xh = codec.decompress([[y], [z]], enc['shape'], **kw)['x_hat']
        fh = xh[0, :, t:t + H, l:l + W].clamp(0, 1) * (mx - mn) + mn
        fields = {'y': base64.b64encode(y).decode(), 'z': base64.b64encode(z).decode(), 'zShape': list(enc['shape']),
                  'featureShape': [C, H, W], 'padding': list(pad), 'mn': float(mn), 'mx': float(mx)}
        return fh, fields

    @torch.no_grad()
    def features(self, req):
        bgr = image(req)
        original = bgr.shape[:2]
        out = {'size': list(original), 'reference': None, 'rows': {}}
        for method in (1, 2):
            pts = [p for p in req['points'] if p['method'] == method]
            if not pts and not (method == 1 and req.get('reference')):
                continue
            stem, size = self.stem(bgr, method == 2)
            if method == 1 and req.get('reference'):
                out['reference'] = self.finish(stem, size, original)
            for p in pts:
                fh, fields = self.code(stem, p)
                out['rows'][p['key']] = {'dets': self.finish(fh, size, original), 'resized': list(size), **fields}
        return out

    @torch.no_grad()
    def detect(self, req):
        bgr = image(req)
        stem, size = self.stem(bgr, False)
        return {'dets': self.finish(stem, size, bgr.shape[:2])}


def image(req):
    """The request's image: H×W×3 uint8 BGR, decoded by webvcm (bgrFromFileBytes, or an anchor's decoder)."""
    H, W = int(req['height']), int(req['width'])
    bgr = np.frombuffer(base64.b64decode(req['bgr']), dtype=np.uint8)
    if H <= 0 or W <= 0 or bgr.size != H * W * 3:
        raise ValueError(f'bgr holds {bgr.size} bytes for {H}x{W}x3')
    return bgr.reshape(H, W, 3)



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--detector', required=True, help='training checkpoint (final.pt / last.pt) or a webvcm detector .safetensors')
    ap.add_argument('--codec', action='append', default=[], help='CompressAI .pth.tar (fixed-rate or -vbr), repeated')
    ap.add_argument('--min-size', type=int, required=True)
    ap.add_argument('--max-size', type=int, required=True)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    w = Worker(a)
    out = sys.stdout
    out.write(json.dumps(w.hello()) + '\n')
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            op = req.get('op')
            if op == 'features':
                res = w.features(req)
            elif op == 'detect':
                res = w.detect(req)
            else:
                raise ValueError(f'unknown op {op!r}')
        except Exception as e:  # reported to the caller, which names the image
            res = {'error': f'{type(e).__name__}: {e}'}
        out.write(json.dumps(res) + '\n')
        out.flush()


if __name__ == '__main__':
    main()
