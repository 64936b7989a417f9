#!/usr/bin/env bash
# Export the trained models: detector → Detectron2 .pkl (+ PyTorch val results), codecs → CompressAI .pth.tar (as
# written by train_codec.py); all → .safetensors with `webvcm convert`; copy into weights/world and weights/default.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
CK=${1:-.cache/train/det/final.pt}
mkdir -p weights/world
$PY tools/train/export_detector.py --ckpt "$CK" --out .cache/train/det/detector.pkl \
  --val artifacts/world-val --results .cache/train/det/val-results-torch.json
node bin/webvcm.js convert .cache/train/det/detector.pkl -o weights/world/detector.safetensors
for f in .cache/train/codec/codec-l*.pth.tar; do
  b=$(basename "$f" .pth.tar)
  node bin/webvcm.js convert "$f" -o "weights/world/$b.safetensors"
done
ls -la weights/world
