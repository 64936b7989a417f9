#!/usr/bin/env bash
# Export the trained models: detector → Detectron2 .pkl (+ PyTorch val results), codecs → CompressAI .pth.tar (as
# written by train_codec.py); all → .safetensors with `webvcm convert`; copy into weights/world and weights/default.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
CK=${1:-.cache/train/det/final.pt}
mkdir -p weights/world weights/default
$PY tools/train/export_detector.py --ckpt "$CK" --out .cache/train/det/detector.pkl \
  --val artifacts/world-val --results .cache/train/det/val-results-torch.json
npm run build --silent
node bin/webvcm.js convert .cache/train/det/detector.pkl -o weights/default/detector.safetensors
for l in 0.001 0.006 0.25; do
  node bin/webvcm.js convert ".cache/train/codec/codec-l$l.pth.tar" -o "weights/world/codec-l$l.safetensors"
done
# the bundled (middle) rate point: λ = 0.04
cp .cache/train/codec/codec-l0.04.pth.tar weights/world/codec-l0.04.pth.tar
node bin/webvcm.js convert .cache/train/codec/codec-l0.04.pth.tar -o weights/default/codec.safetensors
ls -la weights/default weights/world
