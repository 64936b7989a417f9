#!/usr/bin/env bash
# One-command set-up on a fresh Debian 12 machine (idempotent; fast when already done):
#   - apt: chromium (brings SwiftShader + a Vulkan loader), libvulkan1, libllvm15, ffmpeg (x265: the HEVC anchor),
#     clang + lld (the wasm kernels)
#   - lavapipe (Mesa 25) from bookworm-backports, unpacked into .cache/lavapipe without touching system Mesa
#   - npm ci
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
log() { printf '[setup] %s\n' "$*"; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s libvulkan1 >/dev/null 2>&1 || need_apt+=(libvulkan1)
dpkg -s libllvm15 >/dev/null 2>&1 || need_apt+=(libllvm15)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)   # the HEVC-intra anchor of `webvcm eval` (x265)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)   # the wasm kernels (tools/build-wasm.mjs)
command -v wasm-ld >/dev/null 2>&1 || need_apt+=(lld)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
else
  log "apt packages present"
fi

LVP="$ROOT/.cache/lavapipe"
if [ -f "$LVP/lvp_icd.json" ] && [ -f "$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$LVP/lvp_icd.json")" ]; then
  log "lavapipe present in $LVP"
else
  log "fetching lavapipe (Mesa 25) from bookworm-backports"
  SRC=/etc/apt/sources.list.d/webvcm-backports.list
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\/*\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
    echo "deb $mirror bookworm-backports main" | $SUDO tee "$SRC" >/dev/null
    $SUDO apt-get update -qq
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq -t bookworm-backports mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 2>/dev/null || \
     (cd "$tmp" && apt-get download -qq mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports))
  rm -rf "$LVP"; mkdir -p "$LVP/root"
  for f in "$tmp"/*.deb; do dpkg -x "$f" "$LVP/root"; done
  rm -rf "$tmp"
  lib=$(find "$LVP/root" -name 'libvulkan_lvp.so' | head -1)
  [ -n "$lib" ] || { echo "[setup] libvulkan_lvp.so not found in the backports package" >&2; exit 1; }
  cat > "$LVP/lvp_icd.json" <<JSON
{ "file_format_version": "1.0.0", "ICD": { "library_path": "$lib", "api_version": "1.3.0" } }
JSON
  log "lavapipe installed: $lib"
fi

if [ -d node_modules/webgpu ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  log "node_modules up to date"
else
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "done. Try: npx webvcm doctor"
