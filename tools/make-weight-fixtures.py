#!/usr/bin/env python3
"""Write the small weight-loader fixtures in weights/fixtures/ (committed; CI never runs this).

Needs only Python 3.8+ and numpy (torch is NOT needed: the torch-zip fixture is written with zipfile + pickle using
stand-in modules named like torch's, which produces the same opcodes and globals as torch.save).

  python3 tools/make-weight-fixtures.py

Files:
  det_p{3,4,5}.pkl      narrow Detectron2 R50-FPN in the model-zoo layout ({"model": {...}, "__author__": ...}), 295
                        tensors, identical values, pickled with protocol 3 / 4 / 5 (5 uses numpy's _frombuffer and
                        in-band PickleBuffers).
  det_folded_stem_{weight,bias}.npy   numpy float32 reference of the FrozenBN fold of the stem conv of that model.
  arrays_p4.pkl         odd arrays: Fortran order, big-endian, float64, int64, float16, plus expected values in
  arrays_expected.json
  torch_odd.pth         torch.save-style zip (prefix 'odd_ckpt/', DEFLATED entries) of {"state_dict": {"module.*"}, ...}
                        with Double/Long/Half storages, a transposed (non-contiguous) view and a shared storage with
                        an offset; expected values in torch_odd_expected.json.
"""
import io
import json
import os
import pickle
import sys
import types
import zipfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'weights', 'fixtures')


def narrow_detector(rng):
    """Model-zoo names and shapes (detectron2-reference section 8) with tiny widths."""
    stem, fpn, fc, ncls = 8, 8, 8, 80
    stages = [('res2', 3, 2, 12), ('res3', 4, 4, 16), ('res4', 6, 6, 24), ('res5', 3, 8, 32)]
    m = {}

    def conv_bn(name, o, i, k):
        m[name + '.weight'] = (rng.standard_normal((o, i, k, k)) * (1.0 / np.sqrt(i * k * k))).astype(np.float32)
        m[name + '.norm.weight'] = rng.uniform(0.6, 1.4, o).astype(np.float32)
        m[name + '.norm.bias'] = (rng.standard_normal(o) * 0.2).astype(np.float32)
        m[name + '.norm.running_mean'] = (rng.standard_normal(o) * 0.2).astype(np.float32)
        m[name + '.norm.running_var'] = rng.uniform(0.5, 2.0, o).astype(np.float32)

    def conv(name, o, i, k):
        m[name + '.weight'] = (rng.standard_normal((o, i, k, k)) * 0.1).astype(np.float32)
        m[name + '.bias'] = (rng.standard_normal(o) * 0.1).astype(np.float32)

    conv_bn('backbone.bottom_up.stem.conv1', stem, 3, 7)
    cin = stem
    for name, blocks, b, out in stages:
        for i in range(blocks):
            p = f'backbone.bottom_up.{name}.{i}'
            conv_bn(p + '.conv1', b, cin if i == 0 else out, 1)
            conv_bn(p + '.conv2', b, b, 3)
            conv_bn(p + '.conv3', out, b, 1)
            if i == 0:
                conv_bn(p + '.shortcut', out, cin, 1)
        cin = out
    for k, (_, _, _, out) in zip(range(2, 6), stages):
        conv(f'backbone.fpn_lateral{k}', fpn, out, 1)
        conv(f'backbone.fpn_output{k}', fpn, fpn, 3)
    conv('proposal_generator.rpn_head.conv', fpn, fpn, 3)
    conv('proposal_generator.rpn_head.objectness_logits', 3, fpn, 1)
    conv('proposal_generator.rpn_head.anchor_deltas', 12, fpn, 1)
    for name, o, i in [('roi_heads.box_head.fc1', fc, fpn * 49), ('roi_heads.box_head.fc2', fc, fc),
                       ('roi_heads.box_predictor.cls_score', ncls + 1, fc),
                       ('roi_heads.box_predictor.bbox_pred', ncls * 4, fc)]:
        m[name + '.weight'] = (rng.standard_normal((o, i)) * 0.1).astype(np.float32)
        m[name + '.bias'] = (rng.standard_normal(o) * 0.1).astype(np.float32)
    return m


def fold_reference(m, conv):
    f32 = np.float32
    w, g, b = m[conv + '.weight'], m[conv + '.norm.weight'], m[conv + '.norm.bias']
    mean, var = m[conv + '.norm.running_mean'], m[conv + '.norm.running_var']
    rs = (f32(1) / np.sqrt(var + f32(1e-5))).astype(f32)   # torch CPU rsqrt = 1 / sqrt in float32
    scale = (g * rs).astype(f32)
    bias = (b - mean * scale).astype(f32)
    weight = (w * scale.reshape(-1, 1, 1, 1)).astype(f32)
    return weight, bias


# --- torch.save look-alike without torch ------------------------------------------------------------------------
def fake_torch_modules():
    torch = types.ModuleType('torch')
    utils = types.ModuleType('torch._utils')
    torch._utils = utils

    class FakeStorage:
        def __init__(self, key, dtype_name, data):
            self.key, self.dtype_name, self.data = key, dtype_name, data

    for n in ['FloatStorage', 'DoubleStorage', 'LongStorage', 'HalfStorage', 'IntStorage']:
        cls = type(n, (), {})
        cls.__module__ = 'torch'
        cls.__qualname__ = n
        setattr(torch, n, cls)

    def _rebuild_tensor_v2(*a):  # never called: only pickled by reference
        raise RuntimeError

    _rebuild_tensor_v2.__module__ = 'torch._utils'
    _rebuild_tensor_v2.__qualname__ = '_rebuild_tensor_v2'
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    sys.modules['torch'] = torch
    sys.modules['torch._utils'] = utils
    return torch, FakeStorage


class FakeTensor:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce_ex__(self, proto):
        import collections
        return (sys.modules['torch._utils']._rebuild_tensor_v2,
                (self.storage, self.offset, tuple(self.shape), tuple(self.stride), False, collections.OrderedDict()))


def write_torch_odd(path):
    import collections
    torch, FakeStorage = fake_torch_modules()
    storages = []

    def storage(dtype_name, arr):
        s = FakeStorage(str(len(storages)), dtype_name, np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')))
        storages.append(s)
        return s

    rng = np.random.default_rng(5)
    a = rng.standard_normal(6).astype(np.float64)
    b = np.array([1, -2, 3, 2**31 - 1], dtype=np.int64)
    h = np.array([0.5, -1.25, 65504, 2**-24], dtype=np.float16)
    base = np.arange(12, dtype=np.float32) * np.float32(0.5)
    shared = storage('FloatStorage', base)
    sd = collections.OrderedDict()
    sd['module.double'] = FakeTensor(storage('DoubleStorage', a), 0, [2, 3], [3, 1])
    sd['module.long'] = FakeTensor(storage('LongStorage', b), 0, [4], [1])
    sd['module.half'] = FakeTensor(storage('HalfStorage', h), 0, [4], [1])
    sd['module.transposed'] = FakeTensor(shared, 0, [4, 3], [1, 4])       # base.reshape(3, 4).T
    sd['module.offset_view'] = FakeTensor(shared, 5, [2, 3], [3, 1])      # base[5:11].reshape(2, 3)
    root = {'state_dict': sd, 'epoch': 3, 'note': 'fixture'}

    class P(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, FakeStorage):
                return ('storage', getattr(torch, obj.dtype_name), obj.key, 'cpu', obj.data.size)
            return None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(root)
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr('odd_ckpt/data.pkl', buf.getvalue())
        z.writestr('odd_ckpt/byteorder', 'little')
        for s in storages:
            z.writestr(f'odd_ckpt/data/{s.key}', s.data.tobytes())
        z.writestr('odd_ckpt/version', '3\n')
    expected = {
        'double': {'shape': [2, 3], 'values': [float(np.float32(x)) for x in a]},
        'long': {'shape': [4], 'values': [int(x) for x in b]},
        'half': {'shape': [4], 'values': [float(x) for x in h.astype(np.float32)]},
        'transposed': {'shape': [4, 3], 'values': [float(x) for x in base.reshape(3, 4).T.ravel()]},
        'offset_view': {'shape': [2, 3], 'values': [float(x) for x in base[5:11]]},
        'metadata': {'epoch': '3', 'note': 'fixture'},
    }
    with open(path.replace('.pth', '_expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    for k in ['torch._utils', 'torch']:
        del sys.modules[k]


def write_meta_fixtures():
    """Tiny pickles with the top-level metadata a trained export carries (tools/train/export_detector.py): a str list of
    class names, a bool, a nested dict (ignored); protocols 2 and 4."""
    arrays = {'a': np.arange(3, dtype=np.float32)}
    root = {'model': arrays, '__author__': 'webvcm fixture', 'matching_heuristics': False,
            'class_names': ['circle', 'triangle', 'square'], 'input': {'min_size': 320}}
    for proto in (2, 4):
        with open(os.path.join(OUT, f'meta_p{proto}.pkl'), 'wb') as f:
            pickle.dump(root, f, protocol=proto)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2024)
    model = narrow_detector(rng)
    assert len(model) == 295, len(model)
    # a stored anchor entry, as old zoo files have; the loader must ignore it
    model['proposal_generator.anchor_generator.cell_anchors.0'] = np.zeros((3, 4), np.float32)
    for proto in (3, 4, 5):
        with open(os.path.join(OUT, f'det_p{proto}.pkl'), 'wb') as f:
            pickle.dump({'model': model, '__author__': 'webvcm fixture'}, f, protocol=proto)
    w, b = fold_reference(model, 'backbone.bottom_up.stem.conv1')
    np.save(os.path.join(OUT, 'det_folded_stem_weight.npy'), w)
    np.save(os.path.join(OUT, 'det_folded_stem_bias.npy'), b)

    fortran = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4) * np.float32(0.25))
    big = np.array([1.5, -2.25, 3e-3], dtype='>f4')
    dbl = np.array([[0.1, 0.2], [1e30, -7.0]], dtype=np.float64)
    lng = np.array([0, -1, 2**31 - 1, -2**31], dtype=np.int64)
    half = np.array([1.0, -0.5, 0.0999755859375], dtype=np.float16)
    arrays = {'fortran': fortran, 'big_endian': big, 'float64': dbl, 'int64': lng, 'float16': half}
    with open(os.path.join(OUT, 'arrays_p4.pkl'), 'wb') as f:
        pickle.dump({'model': arrays, '__author__': 'webvcm fixture'}, f, protocol=4)
    expected = {k: {'shape': list(v.shape),
                    'values': [float(x) if v.dtype.kind == 'f' else int(x)
                               for x in np.ascontiguousarray(v).astype(np.float32 if v.dtype.kind == 'f' else np.int64).ravel()]}
                for k, v in arrays.items()}
    with open(os.path.join(OUT, 'arrays_expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    write_torch_odd(os.path.join(OUT, 'torch_odd.pth'))
    write_meta_fixtures()
    for n in sorted(os.listdir(OUT)):
        print(f'{os.path.getsize(os.path.join(OUT, n)):8d}  weights/fixtures/{n}')


if __name__ == '__main__':
    main()
