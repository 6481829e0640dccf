#!/usr/bin/env bash
# Builds the kubectl plugin, `kubectl-sidecar_destruct`, as one executable per platform that needs no Node on the
# user's machine: `bun build --compile` of cli/src/kubectl/main.ts on the Bun of .bun-version (scripts/bun.sh),
# which fetches each platform's runtime from the npm registry. Prints one line per platform: os/arch and the
# executable; with --all also its krew archive (a .tar.gz holding the executable) and the archive's sha256, which
# plugins/sidecar-destruct.yaml names. Run through with-node.sh after setup.sh.
#
#   bash scripts/build-plugin.sh                 # this machine's platform only (what the e2e suites run)
#   bash scripts/build-plugin.sh --all           # linux and darwin, amd64 and arm64, archived (the release workflow)
#   OUT=dir bash scripts/build-plugin.sh --all   # somewhere else than cli/dist/plugin
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun="$(bash scripts/bun.sh)"
OUT="${OUT:-$root/cli/dist/plugin}"
mkdir -p "$OUT"

host="linux/$(uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')"
platforms="$host" archive=""
[ "${1:-}" = "--all" ] && platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64" archive=1

for platform in $platforms; do
  os="${platform%/*}" arch="${platform#*/}"
  # Bun's names: x64 (the baseline build: no AVX2 needed, as the sidecar image), arm64 (Apple silicon, Pi 4/5).
  case "$platform" in
    linux/amd64) target=bun-linux-x64-baseline ;;
    darwin/amd64) target=bun-darwin-x64 ;;
    */arm64) target="bun-$os-arm64" ;;
    *) echo "build-plugin: unknown platform $platform" >&2; exit 2 ;;
  esac
  dir="$OUT/$os-$arch"
  mkdir -p "$dir"
  (cd cli && "$bun" build --compile --minify --conditions=source --target="$target" \
    src/kubectl/main.ts --outfile "$dir/kubectl-sidecar_destruct" >/dev/null)
  if [ -z "$archive" ]; then
    echo "$platform $dir/kubectl-sidecar_destruct"
    continue
  fi
  tarball="$OUT/kubectl-sidecar_destruct-$os-$arch.tar.gz"
  tar -C "$dir" --owner=0 --group=0 --mtime=@946684800 -czf "$tarball" kubectl-sidecar_destruct
  echo "$platform $dir/kubectl-sidecar_destruct $tarball $(sha256sum "$tarball" | cut -d' ' -f1)"
done
