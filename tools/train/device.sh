#!/usr/bin/env bash
# One call of at most 9 minutes on a GPU machine (NVIDIA, PyTorch, no network, no Node): generate the shapes world,
# build CompressAI's C++ helpers, then train on the GPU — backbone pre-training on object crops → detector (from the
# bundled weights + that backbone, frozen stem) and, beside it on the same GPU, the feature-codec base model — and
# write compact weights-only checkpoints (float16, each file < 16 MiB) to the folder named as the first argument.
#
#   prepare here:  bash tools/prepare-device.sh              (.device: Debian's Node + the world generator, ~35 MiB)
#                  CompressAI's source at .cache/compressai-src (tools/train/reproduce.sh says how; ~1.3 MiB)
#   device run:    carry [".device", ".cache/compressai-src"], command  bash tools/train/device.sh "$OUT"
#   local proof:   WEBVCM_TRAIN_DEVICE=cpu WEBVCM_TRAIN_BUDGET_S=120 bash tools/train/device.sh /tmp/dev-out
#   afterwards:    /usr/bin/python3 tools/train/import_device.py DIR   (f16 → the training checkpoints here, resumable)
#
# Outputs: detector.pt (train_detector.py's final.pt layout, f16), backbone.pt (f16), codec-base.pt (CompressAI state
# dict of the base model, f16), log.txt, and each stage's log.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTDIR=${1:-${OUT:-$ROOT/device-out}}
CARRY=${WEBVCM_DEVICE_DIR:-$ROOT/.device}
BUDGET=${WEBVCM_TRAIN_BUDGET_S:-540}
DEV=${WEBVCM_TRAIN_DEVICE:-cuda}
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
LOG="$OUTDIR/log.txt"
say() { echo "[train/device $(( $(date +%s) - t0 ))s] $*" | tee -a "$LOG"; }
T=$(mktemp -d /tmp/webvcm-train.XXXXXX)
trap 'rm -rf "$T"; rm -f /tmp/wvcm-nodejs_' EXIT
t0=$(date +%s)
W="$T/work"
mkdir -p "$W"

# 1. Node: the carried Debian runtime, or the system's (local proof)
if [[ -d "$CARRY/debs" ]]; then source "$ROOT/tools/device-node.sh"; else NODE=$(command -v node) || { echo "no Node: run tools/prepare-device.sh and carry .device" >&2; exit 2; }; fi
GEN="$CARRY/make-world.mjs"
[[ -f "$GEN" ]] || { echo "no $GEN: run tools/prepare-device.sh (and carry .device)" >&2; exit 2; }
"$PY" -c "import torch; assert '$DEV' == 'cpu' or torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, '$DEV')" | tee -a "$LOG" || exit 3

# 2. data: 6000 training images in parallel (one process per core), the val split for the crop accuracy
NP=$(nproc); N=${WEBVCM_TRAIN_IMAGES:-6000}; per=$(( (N + NP - 1) / NP ))
for i in $(seq 0 $((NP - 1))); do
  s=$((i * per)); [[ $s -ge $N ]] && break
  c=$(( s + per > N ? N - s : per ))
  "$NODE" "$GEN" --split train --start "$s" --count "$c" --out "$W/train-$i" 2>/dev/null &
done
"$NODE" "$GEN" --split val --count 100 --out "$W/val" 2>/dev/null &
wait
DATA=(); for d in "$W"/train-*; do [[ -f $d/instances.json ]] && DATA+=(--data "$d"); done
say "world: ${#DATA[@]} shards of $per images"

# 3. CompressAI's C++ helpers (update(force=True) needs them), built in a copy
CAI="$T/compressai"
cp -r "$ROOT/.cache/compressai-src" "$CAI" && rm -f "$CAI"/compressai/*.so && rm -rf "$CAI/build"
(cd "$CAI" && "$PY" setup.py build_ext --inplace >"$OUTDIR/compressai-build.txt" 2>&1) || { say "CompressAI build failed (see compressai-build.txt)"; exit 4; }
export COMPRESSAI_SRC="$CAI"
say "CompressAI built"

left() { echo $(( BUDGET - ($(date +%s) - t0) )); }
mins() { "$PY" -c "print(max(0.2, $1 / 60))"; }
cd "$ROOT/tools/train"
THREADS=$(( NP > 4 ? 4 : NP ))

# 4. backbone pre-training (a fifth of what is left), then detector and codec side by side on the GPU
PRE_S=$(( $(left) / 5 - 20 ))
"$PY" pretrain_backbone.py "${DATA[@]}" --val "$W/val" --init "$ROOT/weights/default/detector.safetensors" --out "$W/pre" \
  --minutes "$(mins $PRE_S)" --batch 512 --lr 4e-3 --threads "$THREADS" --device "$DEV" > "$OUTDIR/pretrain.txt" 2>&1 || { say "pre-training failed"; tail -5 "$OUTDIR/pretrain.txt"; exit 5; }
say "pre-training: $(tail -1 "$OUTDIR/pretrain.txt")"
REST=$(( $(left) - 45 ))
"$PY" train_codec.py --stem-from "$ROOT/weights/default/detector.safetensors" --N 128 --M 192 "${DATA[@]}" --images 3000 \
  --out "$W/codec" --lambdas 0.32 --minutes "$(mins $REST)" --batch 32 --threads "$THREADS" --device "$DEV" > "$OUTDIR/codec.txt" 2>&1 &
cpid=$!
"$PY" train_detector.py "${DATA[@]}" --out "$W/det" --init "$ROOT/weights/default/detector.safetensors" --backbone "$W/pre/backbone.pt" \
  --frozen-bn --minutes "$(mins $REST)" --batch 8 --lr 2e-3 --warmup 100 --threads "$THREADS" --device "$DEV" > "$OUTDIR/detector.txt" 2>&1
drc=$?
wait $cpid; crc=$?
say "detector (exit $drc): $(tail -1 "$OUTDIR/detector.txt")"
say "codec (exit $crc): $(tail -1 "$OUTDIR/codec.txt")"

# 5. compact weights-only files (f16), each checked < 16 MiB
"$PY" - "$W" "$OUTDIR" <<'PYEOF' 2>&1 | tee -a "$LOG"
import os, sys, torch
w, out = sys.argv[1:3]
def half(sd):
    return {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in sd.items()}
items = []
if os.path.exists(f'{w}/det/final.pt'):
    c = torch.load(f'{w}/det/final.pt', map_location='cpu')
    items.append(('detector.pt', {'model': half(c['model']), 'cfg': c['cfg'], 'state': c['state'], 'f16': True}))
if os.path.exists(f'{w}/pre/backbone.pt'):
    items.append(('backbone.pt', half(torch.load(f'{w}/pre/backbone.pt', map_location='cpu'))))
if os.path.exists(f'{w}/codec/codec-l0.32.pth.tar'):
    items.append(('codec-base.pt', half(torch.load(f'{w}/codec/codec-l0.32.pth.tar', map_location='cpu'))))
for name, obj in items:
    torch.save(obj, f'{out}/{name}')
    size = os.path.getsize(f'{out}/{name}')
    print(f'{name}: {size / 2**20:.1f} MiB')
    assert size < 16 * 2**20, f'{name} is over 16 MiB'
PYEOF
say "done in $(( $(date +%s) - t0 )) s -> $OUTDIR"
