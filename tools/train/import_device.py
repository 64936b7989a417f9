"""Bring the f16 checkpoints of tools/train/device.sh back into the CPU training folders, as float32:

  /usr/bin/python3 tools/train/import_device.py DEVICE_OUT [--det .cache/train/det2/final-device.pt] \
      [--backbone .cache/train/pre/backbone-device.pt] [--codec .cache/train/codec3/base-device.pth.tar]

The detector file has train_detector.py's final.pt layout (model, cfg, state): pass it on as a starting point with
`train_detector.py --init FILE`; the codec base is a CompressAI state dict: `train_codec.py --init FILE`.
"""
import argparse
import os

import torch


def full(sd):
    return {k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--det', default='.cache/train/det2/final-device.pt')
    ap.add_argument('--backbone', default='.cache/train/pre/backbone-device.pt')
    ap.add_argument('--codec', default='.cache/train/codec3/base-device.pth.tar')
    a = ap.parse_args()
    for src, dst, conv in (('detector.pt', a.det, lambda c: {**c, 'model': full(c['model'])}),
                           ('backbone.pt', a.backbone, full), ('codec-base.pt', a.codec, full)):
        p = os.path.join(a.dir, src)
        if not os.path.exists(p):
            print(f'{p}: absent, skipped')
            continue
        os.makedirs(os.path.dirname(dst) or '.', exist_ok=True)
        torch.save(conv(torch.load(p, map_location='cpu')), dst)
        print(f'{p} -> {dst}')


if __name__ == '__main__':
    main()
