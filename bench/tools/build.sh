#!/usr/bin/env bash
# Builds the tools the benchmarks measure us against or with, from the Go module proxy, into a cache outside the
# work tree (keyed by version, so a fresh clone reuses them):
#   descheduler  sigs.k8s.io/descheduler (the peer users would pick instead; RemovePodsViolatingNodeAffinity)
#   vegeta       github.com/tsenart/vegeta (open-loop HTTP load at a fixed rate; latencies in nanoseconds)
# Prints the directory holding both as its last line of stdout; progress goes to stderr.
set -euo pipefail

DESCHEDULER_VERSION="${DESCHEDULER_VERSION:-0.36.0}"
VEGETA_VERSION="${VEGETA_VERSION:-12.13.0}"
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
OUT="$CACHE_ROOT/bench-tools/descheduler-v${DESCHEDULER_VERSION}-vegeta-v${VEGETA_VERSION}"

log() { printf '[bench-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$OUT/bin/descheduler" ] && [ -x "$OUT/bin/vegeta" ]; then
  echo "$OUT/bin"
  exit 0
fi
command -v go >/dev/null || { log "error: the Go toolchain is needed to build the benchmark tools"; exit 1; }
mkdir -p "$OUT/bin"
export CGO_ENABLED=0

if [ ! -x "$OUT/bin/vegeta" ]; then
  log "building vegeta v${VEGETA_VERSION}"
  GOBIN="$OUT/bin" go install "github.com/tsenart/vegeta/v12@v${VEGETA_VERSION}" >&2
fi

if [ ! -x "$OUT/bin/descheduler" ]; then
  # `go install module@version` refuses a module whose go.mod has replace directives, and the descheduler needs its
  # own (the proxy refuses the k8s.io/kube-openapi version it requires; its go.mod replaces it). So: build inside a
  # copy of the module's source, where its go.mod — replaces included — is the main module.
  log "building descheduler v${DESCHEDULER_VERSION} (a few minutes on 2 cores)"
  src=$(go mod download -json "sigs.k8s.io/descheduler@v${DESCHEDULER_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -d "$src" ] || { log "error: could not download sigs.k8s.io/descheduler@v${DESCHEDULER_VERSION}"; exit 1; }
  rm -rf "$OUT/src" && mkdir -p "$OUT/src" && cp -r "$src/." "$OUT/src/" && chmod -R u+w "$OUT/src"
  (cd "$OUT/src" && GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$OUT/bin/descheduler" ./cmd/descheduler) >&2
  rm -rf "$OUT/src"
fi
log "built in $OUT/bin"
echo "$OUT/bin"
