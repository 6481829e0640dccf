#!/usr/bin/env bash
# Builds what a real node needs besides the kubelet: containerd (daemon, runc shim, ctr), runc (with seccomp),
# the CNI plugins bridge, host-local and loopback, and the pause binary; all from the Go module proxy (pause from
# the pause.c that k8s.io/kubernetes ships), into a cache outside the work tree keyed by version. The kubelet is
# built by testkit/controlplane/build.sh beside the control plane (same module, same Go build cache).
#
# Prints two lines on stdout: the directory of the node binaries, then the control-plane directory (which holds
# kubelet). Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

CONTAINERD_VERSION="${CONTAINERD_VERSION:-2.4.2}"
RUNC_VERSION="${RUNC_VERSION:-1.5.2}"
CNI_VERSION="${CNI_VERSION:-1.10.0}"
# The kubelet's version, and the pause.c it takes: the control plane's default (controlplane/versions).
K8S_VERSION="${K8S_VERSION:-$(grep -v '^#' "$here/../../testkit/controlplane/versions" | tail -n 1)}"
export K8S_VERSION
PAUSE_VERSION="${PAUSE_VERSION:-3.10.2}"
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
OUT="$CACHE_ROOT/real-node/containerd-v${CONTAINERD_VERSION}-runc-v${RUNC_VERSION}-cni-v${CNI_VERSION}-pause-${PAUSE_VERSION}"
BINARIES=(containerd containerd-shim-runc-v2 ctr runc bridge host-local loopback pause)

log() { printf '[real-node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
has() { [ -x "$OUT/bin/$1" ]; }

# The kubelet first: it shares the control plane's module and Go build cache.
cp_dir="$(bash "$here/../../testkit/controlplane/build.sh" kubelet | tail -n 1)"

missing=0
for b in "${BINARIES[@]}"; do has "$b" || missing=1; done
if [ "$missing" = 1 ]; then
  command -v go >/dev/null || { log "error: the Go toolchain is needed to build the node"; exit 1; }
  mkdir -p "$OUT/bin"
  start=$(date +%s)
  export GOBIN="$OUT/bin" GOFLAGS="${GOFLAGS:-} -trimpath"
  if ! has containerd || ! has containerd-shim-runc-v2 || ! has ctr; then
    log "building containerd v${CONTAINERD_VERSION}"
    for c in containerd containerd-shim-runc-v2 ctr; do
      CGO_ENABLED=0 go install -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=v${CONTAINERD_VERSION}" \
        "github.com/containerd/containerd/v2/cmd/$c@v${CONTAINERD_VERSION}" >&2
    done
  fi
  if ! has runc; then
    # seccomp needs cgo and libseccomp: RuntimeDefault is the profile every restricted pod asks for.
    if ! pkg-config --exists libseccomp 2>/dev/null; then
      log "installing libseccomp-dev and pkg-config (runc's seccomp support)"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev pkg-config; } >&2
    fi
    log "building runc v${RUNC_VERSION} (seccomp)"
    CGO_ENABLED=1 go install -tags seccomp -ldflags "-s -w -X main.version=${RUNC_VERSION}" \
      "github.com/opencontainers/runc@v${RUNC_VERSION}" >&2
  fi
  for p in bridge host-local loopback; do
    if ! has "$p"; then
      log "building CNI plugin $p v${CNI_VERSION}"
      kind=main; [ "$p" = host-local ] && kind=ipam
      CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/containernetworking/plugins/plugins/$kind/$p@v${CNI_VERSION}" >&2
    fi
  done
  if ! has pause; then
    src="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')/build/pause/linux/pause.c"
    [ -f "$src" ] || { log "error: no pause.c in k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
    log "building pause ${PAUSE_VERSION} (static, from $src)"
    gcc -Os -static -Wall -Werror -DVERSION="v${PAUSE_VERSION}" -o "$OUT/bin/pause" "$src" >&2
    strip "$OUT/bin/pause"
  fi
  log "node binaries ready in $OUT/bin ($(( $(date +%s) - start ))s)"
fi

echo "$OUT/bin"
echo "$cp_dir"
