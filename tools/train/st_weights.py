"""Read the project's .safetensors weight files (no safetensors package needed) and load a bundled detector into the
training model (tools/train/rcnn.py), so a training stage can start from the committed weights.

The committed detector has BatchNorm folded into its convs (`conv.weight`, `conv.bias`). Loaded into a ConvBN, that is
weight = folded weight, BN γ = 1, β = folded bias, running mean 0, running var 1 − eps: the same function in eval mode.
"""
import json
import struct

import numpy as np
import torch

import rcnn

_DT = {'F32': np.float32, 'F16': np.float16, 'I32': np.int32, 'I64': np.int64, 'U8': np.uint8}


def read_safetensors(path):
    with open(path, 'rb') as f:
        buf = f.read()
    n = struct.unpack('<Q', buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    meta = header.pop('__metadata__', {})
    out = {}
    for k, v in header.items():
        a, b = v['data_offsets']
        arr = np.frombuffer(buf[8 + n + a:8 + n + b], dtype=_DT[v['dtype']]).reshape(v['shape'])
        out[k] = torch.from_numpy(arr.astype(np.float32) if v['dtype'] == 'F16' else arr.copy())
    return out, meta


def detector_cfg(meta):
    cfg = json.loads(meta['config'])
    stages = cfg['stages']
    return dict(widths=[(s['bottleneck'], s['out']) for s in stages], blocks=[s['blocks'] for s in stages],
                fpn=cfg.get('fpnChannels', cfg.get('fpn', 64)), fc=cfg.get('fc', cfg.get('boxHeadFc', 256)),
                num_classes=cfg.get('numClasses', cfg.get('num_classes', 8)))


def load_detector(path):
    """A rcnn.GeneralizedRCNN with the weights of a webvcm detector .safetensors (BN folded → identity BN)."""
    sd, meta = read_safetensors(path)
    cfg = detector_cfg(meta)
    fc = sd['roi_heads.box_head.fc1.weight'].shape[0]
    fpn = sd['backbone.fpn_lateral2.weight'].shape[0]
    k = sd['roi_heads.box_predictor.cls_score.weight'].shape[0] - 1
    model = rcnn.GeneralizedRCNN(widths=cfg['widths'], blocks=cfg['blocks'], fpn=fpn, fc=fc, num_classes=k)
    target = model.state_dict()
    new = {}
    for name, t in target.items():
        if name in sd:
            new[name] = sd[name]
            continue
        if '.norm.' in name:
            conv = name.split('.norm.')[0]
            field = name.split('.norm.')[1]
            bias = sd[conv + '.bias']
            if field == 'weight':
                new[name] = torch.ones_like(bias)
            elif field == 'bias':
                new[name] = bias.clone()
            elif field == 'running_mean':
                new[name] = torch.zeros_like(bias)
            elif field == 'running_var':
                new[name] = torch.full_like(bias, 1 - 1e-5)
            elif field == 'num_batches_tracked':
                new[name] = t
            continue
        raise KeyError(f'{path}: no tensor for {name}')
    model.load_state_dict(new)
    return model
