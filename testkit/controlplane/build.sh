#!/usr/bin/env bash
# Builds the control-plane binaries the end-to-end tests and the demo run: kube-apiserver, kubectl,
# kube-scheduler, kube-controller-manager (from k8s.io/kubernetes on the Go module proxy) and etcd.
# They land in a cache outside the work tree, keyed by version, so a fresh clone reuses them.
# A user who already has envtest binaries sets KUBEBUILDER_ASSETS and nothing is built.
#
# Prints the directory holding the binaries as its last line of stdout; progress goes to stderr.
# Arguments name more commands of k8s.io/kubernetes to build into the same directory (infra/node/build.sh asks
# for `kubelet`); they reuse the module and the Go build cache of the control plane.
set -euo pipefail

# The default is the newest version the project is tested on (the last line of controlplane/versions).
K8S_VERSION="${K8S_VERSION:-$(grep -v '^#' "$(dirname "${BASH_SOURCE[0]}")/versions" | tail -n 1)}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
OUT="$CACHE_ROOT/control-plane/k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"
K8S_BINARIES=(kube-apiserver kubectl kube-scheduler kube-controller-manager "$@")

log() { printf '[control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

has_all() {
  local dir="$1"; shift
  for b in "$@"; do [ -x "$dir/$b" ] || return 1; done
}

# The demo and the suites start the scheduler and the controller-manager from the same directory, and envtest's
# assets ship only kube-apiserver, etcd and kubectl: such a directory is used only if it holds all of them.
if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if has_all "$KUBEBUILDER_ASSETS" "${K8S_BINARIES[@]}" etcd; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of ${K8S_BINARIES[*]} etcd; building into $OUT instead"
fi

if has_all "$OUT/bin" "${K8S_BINARIES[@]}" etcd; then
  echo "$OUT/bin"
  exit 0
fi

command -v go >/dev/null || { log "error: the Go toolchain is needed to build the control plane (or set KUBEBUILDER_ASSETS)"; exit 1; }
mkdir -p "$OUT/bin" "$OUT/src/kubernetes" "$OUT/src/etcd"
export GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0
start=$(date +%s)

# --- kubernetes ------------------------------------------------------------
if ! has_all "$OUT/bin" "${K8S_BINARIES[@]}"; then
  cd "$OUT/src/kubernetes"
  # An existing go.mod already holds the staging replaces (a second run only adds commands).
  if [ ! -f go.mod ] || ! grep -q '^require k8s.io/kubernetes' go.mod; then
  log "fetching k8s.io/kubernetes@v${K8S_VERSION} module metadata"
  upstream_mod=$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$upstream_mod" ] || { log "error: could not download k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and points them at ./staging; replaces in a
  # dependency are ignored, so every staging module is replaced here by its published v0.x twin.
  staging_version="v0.${K8S_VERSION#1.}"
  {
    echo "module sidecar-destruct.local/control-plane"
    echo
    grep -E '^go [0-9]' "$upstream_mod"
    grep -E '^godebug ' "$upstream_mod" || true
    echo
    echo "require k8s.io/kubernetes v${K8S_VERSION}"
    echo
    echo "replace ("
    grep -oE '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$upstream_mod" \
      | awk -v v="$staging_version" '{ printf "\t%s => %s %s\n", $1, $1, v }'
    echo ")"
  } > go.mod
  log "go.mod: $(grep -c '=>' go.mod) staging replaces to ${staging_version}"
  fi
  for b in "${K8S_BINARIES[@]}"; do
    has_all "$OUT/bin" "$b" || go get -tool "k8s.io/kubernetes/cmd/$b@v${K8S_VERSION}" >&2
  done
  ver="k8s.io/component-base/version"
  ldflags="-s -w -X ${ver}.gitVersion=v${K8S_VERSION} -X ${ver}.gitMajor=${K8S_VERSION%%.*}"
  minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  ldflags="$ldflags -X ${ver}.gitMinor=${minor} -X ${ver}.gitTreeState=clean"
  ldflags="$ldflags -X ${ver}.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for b in "${K8S_BINARIES[@]}"; do
    has_all "$OUT/bin" "$b" && continue
    log "building $b (first build on 2 cores takes a while; later runs reuse the Go build cache)"
    t0=$(date +%s)
    go build -trimpath -ldflags "$ldflags" -o "$OUT/bin/$b" "k8s.io/kubernetes/cmd/$b" >&2
    log "built $b in $(( $(date +%s) - t0 ))s"
  done
fi

# --- etcd ------------------------------------------------------------------
if ! has_all "$OUT/bin" etcd; then
  cd "$OUT/src/etcd"
  [ -f go.mod ] || go mod init sidecar-destruct.local/etcd >&2
  go get -tool "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
  log "building etcd v${ETCD_VERSION}"
  t0=$(date +%s)
  go build -trimpath -ldflags "-s -w" -o "$OUT/bin/etcd" go.etcd.io/etcd/server/v3 >&2
  log "built etcd in $(( $(date +%s) - t0 ))s"
fi

log "control plane ready in $OUT/bin ($(( $(date +%s) - start ))s)"
echo "$OUT/bin"
