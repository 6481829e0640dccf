#!/usr/bin/env bash
# Brings the sidecar's runtime, Bun at the version in .bun-version, from the npm registry into the cache (once) and
# prints the path of its `bun` binary. The one place it comes from: the images (images/build.sh), the harness, the
# benchmarks and the demo all run the sidecar's bundle on this binary (README, "The sidecar's footprint").
#
#   bash scripts/bun.sh          # this machine's architecture
#   bash scripts/bun.sh arm64    # amd64 | arm64: for an image of that platform
#
# amd64 takes @oven/bun-linux-x64-baseline, the build that needs no AVX2 (many home-lab Celerons lack it);
# arm64 takes @oven/bun-linux-aarch64. npm checks each package against the registry's integrity hash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(tr -d '[:space:]' < "$root/.bun-version")"
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"
cache="$CACHE_ROOT"

log() { printf '[bun] %s\n' "$*" >&2; }

arch="${1:-$(uname -m)}"
case "$arch" in
  x86_64 | amd64) arch=amd64 package=bun-linux-x64-baseline ;;
  aarch64 | arm64) arch=arm64 package=bun-linux-aarch64 ;;
  *) log "error: no Bun package for $arch (amd64, arm64)"; exit 1 ;;
esac

dir="$cache/bun/$version-$arch"
if [ ! -x "$dir/bin/bun" ]; then
  command -v npm >/dev/null || { log "error: npm is needed to fetch Bun $version (run through scripts/with-node.sh)"; exit 1; }
  log "fetching @oven/$package@$version from the npm registry into $dir"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@oven/$package@$version" >/dev/null)
  tar -xzf "$tmp"/oven-"$package"-*.tgz -C "$tmp"
  chmod 0755 "$tmp/package/bin/bun"
  mkdir -p "$dir" && rm -rf "$dir/bin" && mv "$tmp/package/bin" "$dir/bin"
fi
echo "$dir/bin/bun"
