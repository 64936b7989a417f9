#!/usr/bin/env bash
# Export the second generation into the bundled weights (docs/models.md):
#   bash tools/train/export-v2.sh DETECTOR_CKPT CODEC_CKPT
# DETECTOR_CKPT: train_detector.py's final.pt / last.pt; CODEC_CKPT: train_codec_vbr.py's last.pt (or an f16 snapshot).
#   detector -> Detectron2 .pkl (.cache/train/export/detector.pkl) -> weights/default/detector.safetensors (BatchNorm
#               folded, then every tensor rounded to float16: webvcm convert --round-f16, 5.2 MB)
#   codec    -> parameters rounded to f16, update(force=True) -> weights/world/codec-vbr.pth.tar (CompressAI's format,
#               for the reference runner) -> weights/default/codec.safetensors (F16 tensors where lossless)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
DET=${1:?usage: export-v2.sh DETECTOR_CKPT CODEC_CKPT}
CODEC=${2:?usage: export-v2.sh DETECTOR_CKPT CODEC_CKPT}
: "${COMPRESSAI_SRC:?set COMPRESSAI_SRC to a CompressAI source checkout (commit 869a9f5)}"
export COMPRESSAI_SRC
mkdir -p .cache/train/export weights/default weights/world
$PY tools/train/export_detector.py --ckpt "$DET" --out .cache/train/export/detector.pkl
$PY tools/train/export_vbr.py "$CODEC" -o .cache/train/export/codec-vbr.pth.tar --f16
npm run build --silent
node bin/webvcm.js convert .cache/train/export/detector.pkl --round-f16 -o weights/default/detector.safetensors
node bin/webvcm.js convert .cache/train/export/codec-vbr.pth.tar -o weights/default/codec.safetensors
ls -la weights/default
