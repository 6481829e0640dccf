#!/usr/bin/env bash
# Builds Helm from the Go module proxy into the cache (once) and prints the path of the `helm` binary: the chart's
# tests render it, lint it and install it with the real thing (test/e2e/helm-chart.e2e.test.ts, the real-node suite).
#
#   bash infra/tools/helm.sh             # Helm v4, the current major
#   HELM_MAJOR=3 bash infra/tools/helm.sh # Helm v3, which the chart supports too
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
case "${HELM_MAJOR:-4}" in
  4) module=helm.sh/helm/v4 version=v4.3.2 ;;
  3) module=helm.sh/helm/v3 version=v3.21.4 ;;
  *) echo "[helm] error: HELM_MAJOR is 3 or 4" >&2; exit 1 ;;
esac
dir="$CACHE_ROOT/tools/helm-$version"
if [ ! -x "$dir/helm" ]; then
  command -v go >/dev/null || { echo "[helm] error: Go is needed to build Helm $version" >&2; exit 1; }
  echo "[helm] building $module/cmd/helm@$version from the Go module proxy (about a minute)" >&2
  mkdir -p "$dir"
  GOBIN="$dir" CGO_ENABLED=0 GOFLAGS=-trimpath go install "$module/cmd/helm@$version" >&2
fi
echo "$dir/helm"
