#!/usr/bin/env bash
# One prepared run for a real GPU machine (NVIDIA H200, x86-64, no Node, no network): doctor, end-to-end first vs
# warm runs on cold shader caches, correctness against the CPU reference with the variants the adapter selects,
# conv vs the strongest plain GEMM, codec and detector per-layer GFLOP/s at the paper's and small sizes → JSON.
# It brings its own runtime from the carried folder made by tools/prepare-device.sh:
#   Debian's nodejs 18 .debs unpacked into a temp prefix (dpkg -x, nothing touches /), the linux-x64 Dawn binary of
#   `webgpu`, and one esbuild bundle (.device/device.mjs). Budget: 420 s of benches inside an 470 s hard limit.
#   device run:  carry [".device"], command  bash bench/device.sh            (results in $OUT, else ./device-out)
#   local proof: env -i PATH=/usr/bin:/bin HOME=$HOME bash bench/device.sh --quick --adapter lavapipe
# Extra arguments go to device.mjs (--quick, --budget-s N, --adapter auto|system|lavapipe).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARRY=${WEBVCM_DEVICE_DIR:-$ROOT/.device}
RES=${OUT:-$ROOT/device-out}
mkdir -p "$RES"
[[ -f "$CARRY/device.mjs" ]] || { echo "no $CARRY/device.mjs: run tools/prepare-device.sh first (and carry .device)" >&2; exit 2; }
T=$(mktemp -d /tmp/webvcm-device.XXXXXX)
trap 'rm -rf "$T"; rm -f /tmp/wvcm-nodejs_' EXIT
t0=$(date +%s)

# 1. the runtime: unpack the .debs into $T/root (never into /)
source "$ROOT/tools/device-node.sh"
mkdir -p "$T/app/node_modules/webgpu/dist/linux-x64"
cp "$CARRY/webgpu/package.json" "$CARRY/webgpu/index.js" "$T/app/node_modules/webgpu/"
gzip -dc "$CARRY/webgpu/dist/linux-x64/dawn.node.gz" > "$T/app/node_modules/webgpu/dist/linux-x64/dawn.node"
cp "$CARRY/device.mjs" "$T/app/device.mjs"

# 2. the Vulkan driver: the system's NVIDIA ICD when the loader does not find one by itself
ADAPTER=system
for a in "$@"; do [[ "$a" == lavapipe ]] && ADAPTER=lavapipe; done
if [[ $ADAPTER == system && -z "${WEBVCM_VK_ICD:-}${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]]; then
  for j in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [[ -f $j ]] && { export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j; break; }
  done
fi
if [[ $ADAPTER == lavapipe && -z "${WEBVCM_VK_ICD:-}" && -f "$ROOT/.cache/lavapipe/lvp_icd.json" ]]; then export WEBVCM_VK_ICD="$ROOT/.cache/lavapipe/lvp_icd.json"; fi

# 3. cold shader caches for the first-run figures (Mesa and the NVIDIA driver), in the temp dir
# (WEBVCM_DEVICE_KEEP_CACHE=1 keeps the caller's caches: quicker local re-runs on software adapters, warm figures)
if [[ "${WEBVCM_DEVICE_KEEP_CACHE:-}" != 1 ]]; then
  export MESA_SHADER_CACHE_DIR="$T/mesa-cache" __GL_SHADER_DISK_CACHE_PATH="$T/nv-cache" __GL_SHADER_DISK_CACHE=1
  mkdir -p "$MESA_SHADER_CACHE_DIR" "$__GL_SHADER_DISK_CACHE_PATH"
fi

echo "runtime ready in $(( $(date +%s) - t0 )) s: node $("$NODE" --version) from $CARRY/debs; ICD ${VK_DRIVER_FILES:-${WEBVCM_VK_ICD:-loader default}}"
cd "$ROOT"
timeout -k 10 "${WEBVCM_DEVICE_TIMEOUT_S:-470}" "$NODE" "$T/app/device.mjs" --root "$ROOT" --out "$RES/device-result.json" --adapter "$ADAPTER" --budget-s 420 "$@" 2>&1 \
  | grep --line-buffered -v 'artificially reduced' | tee "$RES/device-log.txt"
rc=${PIPESTATUS[0]}
echo "device.sh: exit $rc after $(( $(date +%s) - t0 )) s; $RES/device-result.json"
exit "$rc"
