"""Write the committed weights-only training snapshot (float16, replaced on every call, never accumulated):

  /usr/bin/python3 tools/train/snapshot.py --det .cache/train/det2/last.pt --codec .cache/train/vbr/last.pt

weights/snapshot/detector.pt  train_detector.py's final.pt layout (model, cfg, state), f16 — resume the detector with
                              `train_detector.py --init weights/snapshot/detector.pt …`
weights/snapshot/codec.pt     CompressAI state dict of the codec being trained (the VBR model, or a stage-1 base), f16 —
                              resume with `train_codec_vbr.py --base weights/snapshot/codec.pt …`
weights/snapshot/status.json  where each run stood (iterations, minutes, the command's arguments), for the next session
The optimiser states are not kept (a restart rebuilds Adam's moments within a few hundred iterations).
"""
import argparse
import json
import os
import time

import torch

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'weights', 'snapshot')


def half(sd):
    return {k: (v.half() if v.is_floating_point() else v).cpu().contiguous() for k, v in sd.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--det')
    ap.add_argument('--codec')
    ap.add_argument('--note', default='')
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    status = {'written': time.strftime('%Y-%m-%d %H:%M'), 'note': a.note}
    if a.det:
        c = torch.load(a.det, map_location='cpu')
        torch.save({'model': half(c['model']), 'cfg': c['cfg'], 'state': c.get('state', {}), 'f16': True}, os.path.join(OUT, 'detector.pt'))
        status['detector'] = {'from': a.det, 'state': c.get('state', {})}
    if a.codec:
        c = torch.load(a.codec, map_location='cpu')
        sd = c['model'] if 'model' in c else c['models'][0] if 'models' in c else c
        torch.save(half(sd), os.path.join(OUT, 'codec.pt'))
        status['codec'] = {'from': a.codec, 'state': c.get('state', {}), 'lambdas': c.get('lambdas'), 'vbr': 'Gain' in sd}
    with open(os.path.join(OUT, 'status.json'), 'w') as f:
        json.dump(status, f, indent=1)
    for n in sorted(os.listdir(OUT)):
        print(f'{n}: {os.path.getsize(os.path.join(OUT, n)) / 2**20:.1f} MiB')


if __name__ == '__main__':
    main()
