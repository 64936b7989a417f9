#!/usr/bin/env python3
"""Write a full-size fake Detectron2 R50-FPN checkpoint for the loader benchmark (never needed by CI).

Random float32 weights in the model-zoo layout (detectron2-reference section 8: 295 tensors, 41,806,176 values),
pickled with protocol 4 as {"model": {...}, "__author__": "webvcm fake"} into .cache/fake_r50_fpn.pkl (git-ignored).
Needs numpy only:  python3 tools/make-fake-r50.py [out.pkl]
"""
import os
import pickle
import sys

import numpy as np


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '.cache', 'fake_r50_fpn.pkl')
    os.makedirs(os.path.dirname(out), exist_ok=True)
    rng = np.random.default_rng(0)
    m = {}

    def rnd(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.05))

    def conv_bn(name, o, i, k):
        m[name + '.weight'] = rnd(o, i, k, k)
        m[name + '.norm.weight'] = rng.uniform(0.5, 1.5, o).astype(np.float32)
        m[name + '.norm.bias'] = rnd(o)
        m[name + '.norm.running_mean'] = rnd(o)
        m[name + '.norm.running_var'] = rng.uniform(0.5, 2.0, o).astype(np.float32)

    conv_bn('backbone.bottom_up.stem.conv1', 64, 3, 7)
    for s, blocks, cin, b, cout in [(2, 3, 64, 64, 256), (3, 4, 256, 128, 512), (4, 6, 512, 256, 1024), (5, 3, 1024, 512, 2048)]:
        for i in range(blocks):
            p = f'backbone.bottom_up.res{s}.{i}'
            conv_bn(p + '.conv1', b, cin if i == 0 else cout, 1)
            conv_bn(p + '.conv2', b, b, 3)
            conv_bn(p + '.conv3', cout, b, 1)
            if i == 0:
                conv_bn(p + '.shortcut', cout, cin, 1)
        m[f'backbone.fpn_lateral{s}.weight'] = rnd(256, cout, 1, 1)
        m[f'backbone.fpn_lateral{s}.bias'] = rnd(256)
        m[f'backbone.fpn_output{s}.weight'] = rnd(256, 256, 3, 3)
        m[f'backbone.fpn_output{s}.bias'] = rnd(256)
    for name, shape in [('proposal_generator.rpn_head.conv', (256, 256, 3, 3)), ('proposal_generator.rpn_head.objectness_logits', (3, 256, 1, 1)),
                        ('proposal_generator.rpn_head.anchor_deltas', (12, 256, 1, 1)), ('roi_heads.box_head.fc1', (1024, 12544)),
                        ('roi_heads.box_head.fc2', (1024, 1024)), ('roi_heads.box_predictor.cls_score', (81, 1024)),
                        ('roi_heads.box_predictor.bbox_pred', (320, 1024))]:
        m[name + '.weight'] = rnd(*shape)
        m[name + '.bias'] = rnd(shape[0])
    n = sum(v.size for v in m.values())
    assert len(m) == 295 and n == 41806176, (len(m), n)
    with open(out, 'wb') as f:
        pickle.dump({'model': m, '__author__': 'webvcm fake'}, f, protocol=4)
    print(f'{out}: {len(m)} tensors, {n} values, {os.path.getsize(out)} bytes')


if __name__ == '__main__':
    main()
