#!/usr/bin/env bash
# Brings what boots an arm64 virtual machine with a 16K-page kernel, the Raspberry Pi 5's default page size, into
# the cache and prints its directory: Debian's arm64-16k kernel (bookworm-backports, the newest there; checked
# against the archive's SHA256), its virtio-net modules and Debian's static busybox for arm64 (the VM's init).
# qemu-system-aarch64 comes from Debian's qemu-system-arm, installed when missing (it registers no binfmt handler).
# infra/src/arm64-vm.ts boots it under software emulation (TCG) with an image's root filesystem.
#
#   DIR/Image            the kernel (uncompressed arm64 Image, 16K pages)
#   DIR/modules/*.ko     failover, net_failover, virtio_net, in load order
#   DIR/busybox          static arm64 busybox
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
# Over HTTPS: the SHA256 of each package is then the one the mirror serves, in a file nobody could change on the way.
MIRROR="${DEBIAN_MIRROR:-https://deb.debian.org/debian}"
OUT="$CACHE_ROOT/vm16k"

log() { printf '[vm16k %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! command -v qemu-system-aarch64 >/dev/null; then
  command -v apt-get >/dev/null || { log "error: qemu-system-aarch64 is missing and there is no apt-get to install it"; exit 1; }
  log "installing Debian's qemu-system-arm (qemu-system-aarch64)"
  { apt-get install -y -qq --no-install-recommends qemu-system-arm \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-arm; }; } >&2
fi

if [ ! -f "$OUT/.complete" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The stanza of PACKAGE in a Packages index; prints "Filename SHA256".
  stanza() { xzcat "$1" | awk -v want="Package: $2" 'BEGIN { RS = ""; FS = "\n" } $1 == want { print; exit }'; }
  fetch() { # index package -> path of the verified .deb
    local fields file sum
    fields="$(stanza "$1" "$2" | awk '/^Filename: / { f = $2 } /^SHA256: / { s = $2 } END { print f, s }')"
    read -r file sum <<< "$fields"
    [ -n "$file" ] || { log "error: $2 is not in the index"; exit 1; }
    curl -fsSL -o "$tmp/$(basename "$file")" "$MIRROR/$file"
    echo "$sum  $tmp/$(basename "$file")" | sha256sum -c --quiet - >&2 || { log "error: $file does not match its SHA256"; exit 1; }
    echo "$tmp/$(basename "$file")"
  }
  curl -fsSL -o "$tmp/backports.xz" "$MIRROR/dists/bookworm-backports/main/binary-arm64/Packages.xz"
  curl -fsSL -o "$tmp/bookworm.xz" "$MIRROR/dists/bookworm/main/binary-arm64/Packages.xz"
  kernel="$(xzcat "$tmp/backports.xz" | sed -n 's/^Package: \(linux-image-[0-9.+a-z]*-arm64-16k\)$/\1/p' | sort -V | tail -n 1)"
  [ -n "$kernel" ] || { log "error: no linux-image-*-arm64-16k in bookworm-backports"; exit 1; }
  log "downloading $kernel and busybox-static (arm64)"
  kdeb="$(fetch "$tmp/backports.xz" "$kernel")"
  bdeb="$(fetch "$tmp/bookworm.xz" busybox-static)"
  dpkg-deb -x "$kdeb" "$tmp/kernel" && dpkg-deb -x "$bdeb" "$tmp/busybox"
  rm -rf "$OUT" && mkdir -p "$OUT/modules"
  cp "$tmp"/kernel/boot/vmlinuz-* "$OUT/Image"
  file "$OUT/Image" | grep -q '16K pages' || { log "error: $kernel is not a 16K-page kernel"; exit 1; }
  for m in net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
    xz -dc "$tmp"/kernel/lib/modules/*/kernel/"$m".ko.xz > "$OUT/modules/$(basename "$m").ko"
  done
  cp "$tmp/busybox/bin/busybox" "$OUT/busybox"
  echo "$kernel" > "$OUT/kernel-package"
  touch "$OUT/.complete"
fi
echo "$OUT"
