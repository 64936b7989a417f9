#!/usr/bin/env bash
# Reproduce the bundled trained weights from scratch on this kind of machine (2 cores, no GPU), ~2 h wall time.
#   COMPRESSAI_SRC=/path/to/CompressAI bash tools/train/reproduce.sh
# Needs Debian's python3-torch, python3-torchvision, python3-pil, python3-pybind11, python3-tqdm, g++ and a CompressAI
# source checkout (commit 869a9f5, the one the golden data was generated with) — its C++ extensions are built in
# place. Writes .cache/train/{det,codec}/ (logs, checkpoints; rerunning resumes) and then weights/world/ and
# weights/default/. Seeds: world train 1000 / val 2000 (src/world/generate.ts), detector 1, codecs 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
: "${COMPRESSAI_SRC:?set COMPRESSAI_SRC to a CompressAI source checkout}"
export COMPRESSAI_SRC
DET_MIN=${DET_MIN:-72} COD_MIN=${COD_MIN:-50}
if ! ls "$COMPRESSAI_SRC"/compressai/_CXX*.so >/dev/null 2>&1; then (cd "$COMPRESSAI_SRC" && $PY setup.py build_ext --inplace); fi
[ -f .cache/world-train/instances.json ] || npx tsx tools/make-world.ts --split train --count 1500 --out .cache/world-train &
[ -f .cache/world-train-b/instances.json ] || npx tsx tools/make-world.ts --split train --start 1500 --count 1500 --out .cache/world-train-b &
wait
[ -f artifacts/world-val/instances.json ] || npx tsx tools/make-world.ts --split val --out artifacts/world-val
mkdir -p .cache/train/det .cache/train/codec
(cd tools/train && $PY train_detector.py --data ../../.cache/world-train --data ../../.cache/world-train-b \
   --out ../../.cache/train/det --minutes "$DET_MIN" --freeze-stem-at 0.3) > .cache/train/det/stdout.txt 2>&1 &
det=$!
while [ ! -f .cache/train/det/stem.pt ]; do sleep 30; kill -0 $det 2>/dev/null || { echo "detector training died" >&2; exit 1; }; done
(cd tools/train && $PY train_codec.py --stem ../../.cache/train/det/stem.pt --data ../../.cache/world-train \
   --out ../../.cache/train/codec --minutes "$COD_MIN" --batch 4 --lambdas 0.001,0.006,0.04,0.25) > .cache/train/codec/stdout.txt 2>&1
wait $det
# codec-aware fine-tuning of the detector after the stem (60 % of batches see codec-decoded stem features F̂ from one
# of the four codecs), on the frozen stem, resumed from the detector's checkpoint
C=.cache/train/codec
(cd tools/train && $PY train_detector.py --data ../../.cache/world-train --data ../../.cache/world-train-b \
   --out ../../.cache/train/det --minutes "${DET_FT_MIN:-90.5}" --threads 1 --lr 2e-3 --coded-frac 0.6 \
   --codecs ../../$C/codec-l0.001.pth.tar,../../$C/codec-l0.006.pth.tar,../../$C/codec-l0.04.pth.tar,../../$C/codec-l0.25.pth.tar) \
   >> .cache/train/det/stdout.txt 2>&1
bash tools/train/export.sh
