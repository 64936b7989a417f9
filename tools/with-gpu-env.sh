#!/usr/bin/env bash
# Runs a command with the Vulkan ICD for Dawn chosen before Node starts (Dawn reads it at start-up).
# Order: $WEBVCM_VK_ICD if set; lavapipe from .cache/lavapipe (tools/setup.sh); SwiftShader from Debian's chromium.
cd "$(dirname "$0")/.." || exit 1
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  if [ -n "${WEBVCM_VK_ICD:-}" ]; then export VK_ICD_FILENAMES="$WEBVCM_VK_ICD"
  elif [ -f .cache/lavapipe/lvp_icd.json ]; then export VK_ICD_FILENAMES="$PWD/.cache/lavapipe/lvp_icd.json"
  elif [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  fi
fi
exec npx --no-install "$@"
