"""Faster R-CNN R50-FPN in Detectron2's layout and inference semantics, small enough to train on 2 CPU cores.

Module names equal Detectron2's state-dict names (backbone.bottom_up.res2.0.conv1.norm.weight, ...), so the exported
model-zoo pickle needs no renaming. Inference follows ../shared/docs/detectron2-reference.md: BGR minus pixel mean,
pad to 32, stride-in-1x1 bottlenecks, FPN P2-P6, anchors without rounding at offset 0, per-level top-k, per-level NMS
0.7, ROIAlignV2 (aligned=True, sampling_ratio=0), box coder (10,10,5,5), score 0.05, class NMS 0.5, top 100.
Training follows Detectron2's defaults (anchor matcher 0.3/0.7 with low-quality matches, 256 anchors per image at 50 %
positives; ROI matcher 0.5, 512 ROIs at 25 % foreground, GT appended to proposals; L1 box losses). Development
tooling only: the product runs the exported weights in WGSL.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import batched_nms, box_iou, roi_align

PIXEL_MEAN_BGR = (103.530, 116.280, 123.675)
ANCHOR_SIZES = (32, 64, 128, 256, 512)
ASPECT_RATIOS = (0.5, 1.0, 2.0)
STRIDES = (4, 8, 16, 32, 64)
CLAMP = math.log(1000.0 / 16)


class ConvBN(nn.Module):
    """Detectron2's Conv2d(bias=False, norm=BN): `.weight` plus `.norm.{weight,bias,running_mean,running_var}`."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        nn.init.kaiming_normal_(self.weight, mode='fan_out', nonlinearity='relu')
        self.norm = nn.BatchNorm2d(cout, eps=1e-5)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return self.norm(F.conv2d(x, self.weight, None, self.stride, self.padding))


class Bottleneck(nn.Module):
    def __init__(self, cin, bott, cout, stride):
        super().__init__()
        self.shortcut = ConvBN(cin, cout, 1, stride) if cin != cout else None
        self.conv1 = ConvBN(cin, bott, 1, stride)  # STRIDE_IN_1X1
        self.conv2 = ConvBN(bott, bott, 3, 1, 1)
        self.conv3 = ConvBN(bott, cout, 1)
        nn.init.zeros_(self.conv3.norm.weight)  # zero-init residual: stable from-scratch training

    def forward(self, x):
        s = self.shortcut(x) if self.shortcut is not None else x
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        return F.relu(self.conv3(y) + s)


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBN(3, 64, 7, 2, 3)

    def forward(self, x):
        return F.max_pool2d(F.relu(self.conv1(x)), 3, 2, 1)


class BottomUp(nn.Module):
    def __init__(self, widths, blocks):
        super().__init__()
        self.stem = Stem()
        cin = 64
        for s, ((b, o), n) in enumerate(zip(widths, blocks), start=2):
            stage = nn.Sequential(*[Bottleneck(cin if i == 0 else o, b, o, (1 if s == 2 else 2) if i == 0 else 1) for i in range(n)])
            setattr(self, f'res{s}', stage)
            cin = o

    def forward_from_stem(self, x):
        outs = []
        for s in range(2, 6):
            x = getattr(self, f'res{s}')(x)
            outs.append(x)
        return outs


class Backbone(nn.Module):
    def __init__(self, widths, blocks, fpn):
        super().__init__()
        self.bottom_up = BottomUp(widths, blocks)
        for s, (_, o) in enumerate(widths, start=2):
            lat, out = nn.Conv2d(o, fpn, 1), nn.Conv2d(fpn, fpn, 3, padding=1)
            for m in (lat, out):
                nn.init.kaiming_uniform_(m.weight, a=1)
                nn.init.zeros_(m.bias)
            setattr(self, f'fpn_lateral{s}', lat)
            setattr(self, f'fpn_output{s}', out)

    def fpn(self, res):
        t = self.fpn_lateral5(res[3])
        outs = [self.fpn_output5(t)]
        for s in (4, 3, 2):
            t = getattr(self, f'fpn_lateral{s}')(res[s - 2]) + F.interpolate(t, scale_factor=2.0, mode='nearest')
            outs.insert(0, getattr(self, f'fpn_output{s}')(t))
        outs.append(F.max_pool2d(outs[-1], 1, 2, 0))
        return outs  # p2..p6


class RPNHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.objectness_logits = nn.Conv2d(c, 3, 1)
        self.anchor_deltas = nn.Conv2d(c, 12, 1)
        for m in (self.conv, self.objectness_logits, self.anchor_deltas):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)


class RPN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.rpn_head = RPNHead(c)


class BoxHead(nn.Module):
    def __init__(self, c, fc):
        super().__init__()
        self.fc1 = nn.Linear(c * 49, fc)
        self.fc2 = nn.Linear(fc, fc)
        for m in (self.fc1, self.fc2):
            nn.init.kaiming_uniform_(m.weight, a=1)
            nn.init.zeros_(m.bias)


class Predictor(nn.Module):
    def __init__(self, fc, k):
        super().__init__()
        self.cls_score = nn.Linear(fc, k + 1)
        self.bbox_pred = nn.Linear(fc, 4 * k)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias)
        nn.init.zeros_(self.bbox_pred.bias)


class ROIHeads(nn.Module):
    def __init__(self, c, fc, k):
        super().__init__()
        self.box_head = BoxHead(c, fc)
        self.box_predictor = Predictor(fc, k)


def cell_anchors():
    out = []
    for size in ANCHOR_SIZES:
        a = []
        for r in ASPECT_RATIOS:
            w = math.sqrt(size * size / r)
            h = r * w
            a.append([-w / 2, -h / 2, w / 2, h / 2])
        out.append(torch.tensor(a, dtype=torch.float64).float())
    return out


def grid_anchors(shapes, device='cpu'):
    res = []
    for (h, w), stride, cell in zip(shapes, STRIDES, cell_anchors()):
        sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=device) * stride, torch.arange(w, dtype=torch.float32, device=device) * stride, indexing='ij')
        shifts = torch.stack([sx.reshape(-1), sy.reshape(-1), sx.reshape(-1), sy.reshape(-1)], 1)
        res.append((shifts[:, None, :] + cell.to(device)[None]).reshape(-1, 4))
    return res


def apply_deltas(deltas, boxes, weights):
    wx, wy, ww, wh = weights
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    cx = boxes[:, 0] + 0.5 * widths
    cy = boxes[:, 1] + 0.5 * heights
    d = deltas.reshape(deltas.shape[0], -1, 4)
    dx, dy = d[..., 0] / wx, d[..., 1] / wy
    dw, dh = (d[..., 2] / ww).clamp(max=CLAMP), (d[..., 3] / wh).clamp(max=CLAMP)
    pcx, pcy = dx * widths[:, None] + cx[:, None], dy * heights[:, None] + cy[:, None]
    pw, ph = torch.exp(dw) * widths[:, None], torch.exp(dh) * heights[:, None]
    out = torch.stack([pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph], -1)
    return out.reshape(deltas.shape)


def get_deltas(src, tgt, weights):
    wx, wy, ww, wh = weights
    sw, sh = src[:, 2] - src[:, 0], src[:, 3] - src[:, 1]
    sx, sy = src[:, 0] + 0.5 * sw, src[:, 1] + 0.5 * sh
    tw, th = tgt[:, 2] - tgt[:, 0], tgt[:, 3] - tgt[:, 1]
    tx, ty = tgt[:, 0] + 0.5 * tw, tgt[:, 1] + 0.5 * th
    return torch.stack([wx * (tx - sx) / sw, wy * (ty - sy) / sh, ww * torch.log(tw / sw), wh * torch.log(th / sh)], 1)


def match(iou, lo, hi, allow_low_quality):
    """Detectron2 Matcher: labels 1 (>= hi), 0 (< lo), -1 (between); low-quality matches set to 1."""
    vals, idx = iou.max(0)
    labels = torch.ones_like(idx, dtype=torch.int8)
    labels[vals < hi] = -1
    labels[vals < lo] = 0
    if allow_low_quality:
        best = iou.max(1).values
        _, pred = torch.nonzero((iou == best[:, None]) & (best[:, None] > 0), as_tuple=True)
        labels[pred] = 1
    return idx, labels


def sample(labels, num, frac, bg_label):
    pos = torch.nonzero((labels != -1) & (labels != bg_label)).squeeze(1)
    neg = torch.nonzero(labels == bg_label).squeeze(1)
    npos = min(int(num * frac), pos.numel())
    nneg = min(num - npos, neg.numel())
    return pos[torch.randperm(pos.numel(), device=pos.device)[:npos]], neg[torch.randperm(neg.numel(), device=neg.device)[:nneg]]


class GeneralizedRCNN(nn.Module):
    def __init__(self, widths=((16, 64), (32, 128), (64, 256), (128, 512)), blocks=(3, 4, 6, 3), fpn=64, fc=256, num_classes=8):
        super().__init__()
        self.cfg = dict(widths=[list(w) for w in widths], blocks=list(blocks), fpn=fpn, fc=fc, num_classes=num_classes)
        self.num_classes = num_classes
        self.backbone = Backbone(widths, blocks, fpn)
        self.proposal_generator = RPN(fpn)
        self.roi_heads = ROIHeads(fpn, fc, num_classes)

    # ---- shared pieces ----
    def features(self, x, stem=None):
        if stem is None:
            stem = self.backbone.bottom_up.stem(x)
        return self.backbone.fpn(self.backbone.bottom_up.forward_from_stem(stem))

    def rpn_outputs(self, feats):
        h = self.proposal_generator.rpn_head
        logits, deltas = [], []
        for f in feats:
            t = F.relu(h.conv(f))
            n = f.shape[0]
            logits.append(h.objectness_logits(t).permute(0, 2, 3, 1).reshape(n, -1))
            deltas.append(h.anchor_deltas(t).reshape(n, 3, 4, f.shape[2], f.shape[3]).permute(0, 3, 4, 1, 2).reshape(n, -1, 4))
        return logits, deltas

    def proposals(self, anchors, logits, deltas, sizes, pre, post):
        out = []
        for i, (h, w) in enumerate(sizes):
            boxes, scores, lvl = [], [], []
            for l, (a, lg, dl) in enumerate(zip(anchors, logits, deltas)):
                k = min(pre, lg.shape[1])
                s, idx = lg[i].topk(k)
                boxes.append(apply_deltas(dl[i][idx], a[idx], (1.0, 1.0, 1.0, 1.0)))
                scores.append(s)
                lvl.append(torch.full((k,), l, dtype=torch.int64, device=s.device))
            boxes, scores, lvl = torch.cat(boxes), torch.cat(scores), torch.cat(lvl)
            ok = torch.isfinite(boxes).all(1) & torch.isfinite(scores)
            boxes, scores, lvl = boxes[ok], scores[ok], lvl[ok]
            boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h), boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], 1)
            keep = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
            boxes, scores, lvl = boxes[keep], scores[keep], lvl[keep]
            keep = batched_nms(boxes, scores, lvl, 0.7)[:post]
            out.append(boxes[keep])
        return out

    def pool(self, feats, boxes_per_image):
        boxes = torch.cat(boxes_per_image)
        bidx = torch.cat([torch.full((len(b),), i, dtype=torch.float32, device=boxes.device) for i, b in enumerate(boxes_per_image)])
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        lvl = torch.floor(4 + torch.log2(torch.sqrt(area) / 224 + 1e-8)).clamp(2, 5).long()
        out = feats[0].new_zeros((boxes.shape[0], feats[0].shape[1], 7, 7))
        rois = torch.cat([bidx[:, None], boxes], 1)
        for l in range(2, 6):
            m = torch.nonzero(lvl == l).squeeze(1)
            if m.numel():
                out[m] = roi_align(feats[l - 2], rois[m], (7, 7), 1.0 / (2 ** l), 0, True)
        return out

    def box_outputs(self, pooled):
        h = self.roi_heads.box_head
        x = F.relu(h.fc2(F.relu(h.fc1(pooled.flatten(1)))))
        p = self.roi_heads.box_predictor
        return p.cls_score(x), p.bbox_pred(x)

    # ---- training ----
    def losses(self, x, sizes, targets, stem=None):
        feats = self.features(x, stem)
        anchors = grid_anchors([f.shape[2:] for f in feats], x.device)
        logits, deltas = self.rpn_outputs(feats)
        all_anchors = torch.cat(anchors)
        dev = x.device
        lg, dl = torch.cat(logits, 1), torch.cat(deltas, 1)
        rpn_cls, rpn_reg, nsamp = 0.0, 0.0, 0
        for i, t in enumerate(targets):
            gt = t['boxes']
            if gt.numel() == 0:
                labels = torch.zeros(all_anchors.shape[0], dtype=torch.int8, device=dev)
                idx = torch.zeros(all_anchors.shape[0], dtype=torch.int64, device=dev)
            else:
                idx, labels = match(box_iou(gt, all_anchors), 0.3, 0.7, True)
            pos, neg = sample(labels, 256, 0.5, 0)
            sel = torch.cat([pos, neg])
            tgt = torch.cat([torch.ones(len(pos), device=dev), torch.zeros(len(neg), device=dev)])
            rpn_cls = rpn_cls + F.binary_cross_entropy_with_logits(lg[i][sel], tgt, reduction='sum')
            if len(pos):
                rpn_reg = rpn_reg + F.l1_loss(dl[i][pos], get_deltas(all_anchors[pos], gt[idx[pos]], (1.0, 1.0, 1.0, 1.0)), reduction='sum')
            nsamp += 256
        with torch.no_grad():
            props = self.proposals(anchors, [l.detach() for l in logits], [d.detach() for d in deltas], sizes, 2000, 1000)
        rois, cls_t, reg_t, fgmask = [], [], [], []
        for i, t in enumerate(targets):
            gt, gl = t['boxes'], t['labels']
            p = torch.cat([props[i], gt])
            if gt.numel():
                idx, lab = match(box_iou(gt, p), 0.5, 0.5, False)
                cls = gl[idx].clone()
                cls[lab == 0] = self.num_classes
            else:
                idx = torch.zeros(len(p), dtype=torch.int64, device=dev)
                cls = torch.full((len(p),), self.num_classes, dtype=torch.int64, device=dev)
            pos, neg = sample(cls, 128, 0.25, self.num_classes)
            sel = torch.cat([pos, neg])
            rois.append(p[sel])
            cls_t.append(cls[sel])
            reg = torch.zeros(len(sel), 4, device=dev)
            if len(pos):
                reg[:len(pos)] = get_deltas(p[pos], gt[idx[pos]], (10.0, 10.0, 5.0, 5.0))
            reg_t.append(reg)
            fgmask.append(torch.arange(len(sel), device=dev) < len(pos))
        pooled = self.pool(feats, rois)
        scores, bdel = self.box_outputs(pooled)
        cls_t, reg_t, fgmask = torch.cat(cls_t), torch.cat(reg_t), torch.cat(fgmask)
        loss_cls = F.cross_entropy(scores, cls_t)
        fg = torch.nonzero(fgmask).squeeze(1)
        if fg.numel():
            d = bdel.reshape(-1, self.num_classes, 4)[fg, cls_t[fg]]
            loss_box = F.l1_loss(d, reg_t[fg], reduction='sum') / max(1, cls_t.numel())
        else:
            loss_box = bdel.sum() * 0
        return {
            'rpn_cls': rpn_cls / nsamp, 'rpn_reg': rpn_reg / nsamp, 'cls': loss_cls, 'box': loss_box,
        }

    # ---- inference (batch 1) ----
    @torch.no_grad()
    def infer(self, x, size, stem=None):
        feats = self.features(x, stem)
        anchors = grid_anchors([f.shape[2:] for f in feats], x.device)
        logits, deltas = self.rpn_outputs(feats)
        props = self.proposals(anchors, logits, deltas, [size], 1000, 1000)[0]
        scores, bdel = self.box_outputs(self.pool(feats, [props]))
        probs = F.softmax(scores, -1)[:, :-1]
        boxes = apply_deltas(bdel, props, (10.0, 10.0, 5.0, 5.0)).reshape(-1, self.num_classes, 4)
        h, w = size
        boxes = torch.stack([boxes[..., 0].clamp(0, w), boxes[..., 1].clamp(0, h), boxes[..., 2].clamp(0, w), boxes[..., 3].clamp(0, h)], -1)
        m = probs > 0.05
        r, c = torch.nonzero(m, as_tuple=True)
        b, s = boxes[r, c], probs[r, c]
        keep = batched_nms(b, s, c, 0.5)[:100]
        return b[keep], s[keep], c[keep]


def quantize8(f):
    """webvcm's 8-bit feature quantization (src/model/codec/features.ts): range = f32(max − min), scale = f32(range/255),
    q = clamp(round_half_even((F − min)/scale), 0, 255); a constant map gives q = 0. Returns (q as float 0..255, min, max)."""
    mn, mx = f.min(), f.max()
    scale = (mx - mn) / 255
    return torch.round((f - mn) / (scale if scale > 0 else torch.ones_like(scale))).clamp(0, 255), mn, mx


def preprocess(bgr_u8_hwc):
    """uint8 HxWx3 BGR tensor -> float CHW minus mean, padded to 32; returns (tensor [3,Hp,Wp], (h, w))."""
    x = bgr_u8_hwc.permute(2, 0, 1).float() - torch.tensor(PIXEL_MEAN_BGR).view(3, 1, 1)
    h, w = x.shape[1:]
    hp, wp = (h + 31) // 32 * 32, (w + 31) // 32 * 32
    return F.pad(x, (0, wp - w, 0, hp - h)), (h, w)
