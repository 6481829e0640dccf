#!/usr/bin/env bash
# Runs a command with Node.js 24 LTS first on PATH.
#
# The project targets Node 24 (@kubernetes/client-node 2.x needs >= 22.19; older Nodes are end-of-life).
# When the Node on PATH is older, the pinned release in .node-version is brought from the npm registry
# (package node-<os>-<arch>, which ships the node binary) into a cache outside the work tree, once.
#
#   scripts/with-node.sh npm ci
#   SIDECAR_DESTRUCT_CACHE=/somewhere scripts/with-node.sh node --version
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want="$(tr -d '[:space:]' < "$root/.node-version")"
want_major="${want%%.*}"
source "$(dirname "${BASH_SOURCE[0]}")/cache.sh"
cache="$CACHE_ROOT"

log() { printf '[node] %s\n' "$*" >&2; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

path_node="$(command -v node || true)"
if [ -n "$path_node" ] && [ "$(major_of "$path_node")" -ge "$want_major" ]; then
  exec "$@"
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) log "error: no Node >= $want_major on PATH and no prebuilt package for $(uname -s); install Node $want_major"; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) log "error: no Node >= $want_major on PATH and no prebuilt package for $(uname -m); install Node $want_major"; exit 1 ;;
esac

dir="$cache/node/v$want-$os-$arch"
if [ ! -x "$dir/bin/node" ]; then
  command -v npm >/dev/null || { log "error: npm is needed to fetch Node $want (or put Node >= $want_major on PATH)"; exit 1; }
  have="missing"
  [ -n "$path_node" ] && have="$("$path_node" --version)"
  log "Node on PATH is $have; fetching node-$os-$arch@$want from the npm registry into $dir"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$want" >/dev/null)
  tar -xzf "$tmp"/node-"$os"-"$arch"-*.tgz -C "$tmp"
  mkdir -p "$dir"
  rm -rf "$dir/bin" && mv "$tmp/package/bin" "$dir/bin"
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null || { log "error: the fetched node does not run on this machine"; exit 1; }
fi
export PATH="$dir/bin:$PATH"
exec "$@"
