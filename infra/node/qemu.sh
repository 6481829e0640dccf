#!/usr/bin/env bash
# Brings Debian's qemu-user-static into the cache and prints the path of qemu-aarch64-static: the arm64 images are
# run under it directly (`qemu-aarch64-static -L ROOTFS BINARY`). The package is downloaded and unpacked with
# dpkg-deb, never installed: nothing registers a binfmt handler, which would change how the whole host's kernel
# runs foreign binaries.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
OUT="$CACHE_ROOT/qemu"
BIN="$OUT/usr/bin/qemu-aarch64-static"

log() { printf '[qemu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ ! -x "$BIN" ]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    log "error: apt-get and dpkg-deb (Debian or Ubuntu) are needed to fetch qemu-user-static"; exit 1; }
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp" # apt-get downloads as its own user when it can
  log "downloading Debian's qemu-user-static (unpacked into the cache, not installed)"
  (cd "$tmp" && { apt-get download -qq qemu-user-static || { apt-get update -qq && apt-get download -qq qemu-user-static; }; }) >&2
  mkdir -p "$OUT"
  dpkg-deb -x "$tmp"/qemu-user-static_*.deb "$OUT"
  [ -x "$BIN" ] || { log "error: the package has no usr/bin/qemu-aarch64-static"; exit 1; }
fi
echo "$BIN"
