#!/usr/bin/env bash
# The second-generation training (docs/models.md, "Second generation"), from the bundled first-generation weights
# (which tools/train/reproduce.sh makes from scratch), on this kind of machine (2 cores, no GPU):
#   COMPRESSAI_SRC=/path/to/CompressAI bash tools/train/reproduce-v2.sh
# Stages (each resumes when rerun; logs in .cache/train/<stage>/log.txt):
#   A   backbone pre-training on object crops (frozen stem)                     .cache/train/pre     40 min
#   B   detector from the bundled weights + that backbone, FrozenBN            .cache/train/det2    95 min  } side by side
#   C1  codec stage 1: ScaleHyperprior N=128 M=192 at λ 0.32 (frozen stem)      .cache/train/codec3  57 min  } (1 thread each)
#   C2  codec stage 2: one bmshj2018-hyperprior-vbr model, six levels           .cache/train/vbr     75 min  }
# then the f16 snapshot in weights/snapshot/ (tools/train/snapshot.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
: "${COMPRESSAI_SRC:?set COMPRESSAI_SRC to a CompressAI source checkout (commit 869a9f5)}"
export COMPRESSAI_SRC
if ! ls "$COMPRESSAI_SRC"/compressai/_CXX*.so >/dev/null 2>&1; then (cd "$COMPRESSAI_SRC" && $PY setup.py build_ext --inplace); fi
[ -f .cache/world-train/instances.json ] || npx tsx tools/make-world.ts --split train --count 3000 --out .cache/world-train &
[ -f .cache/world-train-b/instances.json ] || npx tsx tools/make-world.ts --split train --start 3000 --count 3000 --out .cache/world-train-b &
wait
[ -f artifacts/world-val/instances.json ] || npx tsx tools/make-world.ts --split val --out artifacts/world-val
DATA=(--data ../../.cache/world-train --data ../../.cache/world-train-b)
INIT=../../weights/default/detector.safetensors
mkdir -p .cache/train/pre .cache/train/det2 .cache/train/codec3 .cache/train/vbr
cd tools/train
C1=(train_codec.py --stem-from "$INIT" --N 128 --M 192 "${DATA[@]}" --images 2000 --out ../../.cache/train/codec3
    --lambdas 0.005,0.02,0.08,0.32,1.28,5.12 --base-lambda 0.32 --base-frac 0.4 --minutes 150)
# C1 runs beside A and then B; it is stopped before its split (57 of its 150 minutes), as in the recorded run
( timeout $((57 * 60)) $PY "${C1[@]}" >> ../../.cache/train/codec3/stdout.txt 2>&1 || true
  $PY train_codec_vbr.py --stem-from "$INIT" --base ../../.cache/train/codec3/last.pt "${DATA[@]}" --images 2000 \
    --out ../../.cache/train/vbr --lambdas 0.005,0.02,0.08,0.32,1.28,5.12 --base-level 3 --minutes 75 --lr 5e-4 \
    >> ../../.cache/train/vbr/stdout.txt 2>&1 ) &
codec=$!
$PY pretrain_backbone.py "${DATA[@]}" --val ../../artifacts/world-val --init "$INIT" --out ../../.cache/train/pre --minutes 40 \
  >> ../../.cache/train/pre/stdout.txt 2>&1
$PY train_detector.py "${DATA[@]}" --out ../../.cache/train/det2 --init "$INIT" --backbone ../../.cache/train/pre/backbone.pt \
  --frozen-bn --minutes 95 --lr 6e-4 --warmup 200 --threads 1 --ckpt-minutes 5 >> ../../.cache/train/det2/stdout.txt 2>&1
wait $codec
$PY snapshot.py --det ../../.cache/train/det2/final.pt --codec ../../.cache/train/vbr/last.pt --note "reproduce-v2.sh"
