#!/usr/bin/env bash
# Prepare the folder bench/device.sh carries to a GPU machine that has no Node and no network:
#   .device/debs/*.deb          Debian bookworm's nodejs 18 + libnode108 and their shared libraries, libvulkan1
#   .device/webgpu/             the `webgpu` package's index.js + package.json and ONLY its linux-x64 Dawn binary (gzip)
#   .device/device.mjs          bench/device.ts bundled by esbuild (everything but `webgpu`)
#   .device/make-world.mjs      tools/make-world.ts bundled (the training data for tools/train/device.sh)
# and ignore it in git (info/exclude), so it travels only when a device run names it in `carry`.
#   bash tools/prepare-device.sh [--no-debs]        (run from the checkout the device runs use; ~35 MiB)
set -euo pipefail
ROOT=$(git rev-parse --show-toplevel)
cd "$ROOT"
D=.device
EXCLUDE="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$EXCLUDE")" && touch "$EXCLUDE"
grep -qxF '/.device/' "$EXCLUDE" || echo '/.device/' >> "$EXCLUDE"
mkdir -p "$D/debs" "$D/webgpu/dist/linux-x64"

if [[ "${1:-}" != "--no-debs" ]]; then
  # Architecture and package lists pinned to amd64 (the device is x86-64 whatever this machine is).
  APT=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/webvcm-amd64-lists)
  mkdir -p /tmp/webvcm-amd64-lists/partial
  if ! apt-cache "${APT[@]}" policy libnode108 2>/dev/null | grep -q Candidate; then apt-get "${APT[@]}" update -qq; fi
  rm -f "$D"/debs/*.deb
  # nodejs 18 from bookworm (nodejs itself is a 300 kB launcher; libnode108 is the runtime), its Depends: that a bare
  # machine may lack, the JS builtins Debian keeps outside libnode (cjs-module-lexer, undici, acorn: loaded at start from
  # /usr/share/nodejs, a path bench/device.sh redirects into /tmp), and the Vulkan loader Dawn dlopens. libc6/libstdc++6/libgcc-s1 are taken from the system.
  PKGS="nodejs libnode108 libuv1 libicu72 libbrotli1 libc-ares2 libnghttp2-14 libssl3 zlib1g libvulkan1 node-cjs-module-lexer node-undici node-acorn"
  VER=$(apt-cache "${APT[@]}" madison nodejs | awk '$3 ~ /^18\./ {print $3; exit}')
  [[ -n "$VER" ]] || { echo "no Debian nodejs 18 in the package lists" >&2; exit 1; }
  (cd "$D/debs" && for p in $PKGS; do if [[ $p == nodejs ]]; then apt-get "${APT[@]}" download -qq "nodejs=$VER"; else apt-get "${APT[@]}" download -qq "$p"; fi; done) 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
fi

WG=node_modules/webgpu
cp "$WG/package.json" "$WG/index.js" "$D/webgpu/"
gzip -9 -c "$WG/dist/linux-x64/dawn.node" > "$D/webgpu/dist/linux-x64/dawn.node.gz"
node tools/gen-shaders.mjs
npx esbuild bench/device.ts --bundle --platform=node --format=esm --target=node18 --external:webgpu \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --log-level=warning --outfile="$D/device.mjs"
# the shapes-world generator for tools/train/device.sh (the device has no Node modules either)
npx esbuild tools/make-world.ts --bundle --platform=node --format=esm --target=node18 \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --log-level=warning --outfile="$D/make-world.mjs"
du -sh "$D" "$D"/* | sed 's/^/  /'
echo "tracked working tree: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes (+ $D must stay under the 64 MiB a device run carries)"
