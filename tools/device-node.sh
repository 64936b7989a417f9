# Sourced by bench/device.sh and tools/train/device.sh on a GPU machine that has no Node: unpacks the carried Debian
# nodejs .debs ($CARRY/debs, made by tools/prepare-device.sh) into $T/root (never into /) and sets NODE and
# LD_LIBRARY_PATH. Needs CARRY and T (a temp dir the caller removes, with /tmp/wvcm-nodejs_, on exit).
for f in "$CARRY"/debs/*.deb; do
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$T/root"
  else (mkdir -p "$T/root" && cd "$T/root" && ar p "$f" "$(ar t "$f" | grep '^data.tar')" | tar -x --xz 2>/dev/null || ar p "$f" "$(ar t "$f" | grep '^data.tar')" | tar -x --zstd); fi
done
NODE="$T/root/usr/bin/node"
# Debian's libnode loads some JS builtins from the absolute path /usr/share/nodejs at start-up. Rather than writing
# to /, rewrite that path in the temp copy of libnode to a same-length /tmp path linked to the unpacked files.
NJS=/tmp/wvcm-nodejs_   # same length as /usr/share/nodejs
LIBNODE=$(ls "$T"/root/usr/lib/x86_64-linux-gnu/libnode.so.* | head -1)
rm -f "$NJS" && ln -s "$T/root/usr/share/nodejs" "$NJS"
perl -pi -e 's#/usr/share/nodejs/#/tmp/wvcm-nodejs_/#g' "$LIBNODE"
export LD_LIBRARY_PATH="$T/root/usr/lib/x86_64-linux-gnu:$T/root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$NODE" -e 'require("node:assert")' || { echo "the carried node does not start" >&2; exit 3; }
