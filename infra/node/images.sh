#!/usr/bin/env bash
# The two images a node needs that this project does not ship, made from the static pause binary that
# infra/node/build.sh compiles, with the same OCI tool as the shipped images (images/ocibuild):
#   registry.k8s.io/pause:PAUSE_VERSION   the sandbox image containerd is pinned to
#   koenkk/zigbee2mqtt:2.1.1              a stand-in for deploy/examples/zigbee2mqtt.yaml's app (no registry is
#                                         reachable here): it only sleeps, which is all the test needs of it,
#                                         and lets the example run unmodified
# Usage: images.sh PAUSE_BINARY. Prints one archive path per line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pause_bin="$1"
PAUSE_VERSION="${PAUSE_VERSION:-3.10.2}"
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
arch="$(dpkg --print-architecture 2>/dev/null || go env GOARCH)"
key="$(sha256sum "$pause_bin" | cut -c1-12)"
out="$CACHE_ROOT/real-node/images-$key"
ocibuild="$(bash "$root/images/build.sh" --tool)"

image() { # name file uid
  local name="$1" file="$out/$2.oci.tar"
  if [ ! -f "$file" ]; then
    mkdir -p "$out"
    local tmp; tmp="$(mktemp -d)"
    install -D -m 0755 "$pause_bin" "$tmp/rootfs/pause"
    (cd "$tmp/rootfs" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
      | tar --no-recursion --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@946684800 -cf "$tmp/layer.tar" -T -)
    printf '{"name":"%s","layout":"%s","created":946684800,"entrypoint":["/pause"],"user":"%s","env":[],"platforms":[{"os":"linux","arch":"%s","layers":["%s"]}]}' \
      "$name" "$tmp/layout" "$3" "$arch" "$tmp/layer.tar" | "$ocibuild" >/dev/null
    (cd "$tmp/layout" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
      | tar --no-recursion --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@946684800 -cf "$file.part" -T -)
    mv "$file.part" "$file"
    rm -rf "$tmp"
  fi
  echo "$file"
}

image "registry.k8s.io/pause:$PAUSE_VERSION" pause 65535
image docker.io/koenkk/zigbee2mqtt:2.1.1 zigbee2mqtt-standin 1000
