#!/usr/bin/env bash
# node-feature-discovery for the real node, as its users run it: nfd-master, nfd-worker and nfd-gc built from the
# Go module proxy (sigs.k8s.io/node-feature-discovery, with NFD's own k8s.io replace block and its api/nfd module
# at the same version), the image registry.k8s.io/nfd/node-feature-discovery:VERSION assembled from them with the
# project's OCI tool (images/ocibuild; NFD's "minimal" image: the binaries, its example worker config, user
# 65534), and NFD's own kustomize deployment/ folder, copied out of the module. Cached by version.
# Usage: nfd.sh [VERSION]. Prints two lines on stdout: the image archive, then the deployment/ folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${1:-${NFD_VERSION:-v0.19.0}}"
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/cache.sh"
OUT="$CACHE_ROOT/nfd/$VERSION"
MODULE=sigs.k8s.io/node-feature-discovery
BINARIES=(nfd-master nfd-worker nfd-gc)
# v0.20 needs Go 1.27, newer than this machine's: the go command fetches that toolchain from the module proxy.
case "$VERSION" in
  v0.17.* | v0.18.* | v0.19.*) ;;
  *) export GOTOOLCHAIN="${GOTOOLCHAIN_NFD:-go1.27.3}" ;;
esac
arch="$(go env GOARCH)"

log() { printf '[nfd %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

build_binaries() {
  local src="$OUT/build" start
  start=$(date +%s)
  rm -rf "$src" && mkdir -p "$src"
  log "building nfd-master, nfd-worker and nfd-gc $VERSION from the Go module proxy (a few minutes the first time)"
  local gomod
  gomod="$(cd "$src" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [ -f "$gomod" ] || { log "error: no go.mod for $MODULE@$VERSION from the module proxy"; exit 1; }
  {
    echo "module sidecar-destruct.test/nfd-build"
    grep -m1 '^go ' "$gomod"
    echo "require $MODULE $VERSION"
    echo "require $MODULE/api/nfd $VERSION"
    # NFD's own pins of the k8s.io staging modules; its ./api/nfd replace is the required module instead.
    sed -n '/^replace (/,/^)/p' "$gomod" | grep -v '=> \./'
  } >"$src/go.mod"
  (
    cd "$src"
    export CGO_ENABLED=0 GOFLAGS=-mod=mod
    # arm64 reads its CPU features through cgo (NFD's own image build enables it); amd64 needs none.
    [ "$arch" = amd64 ] || export CGO_ENABLED=1
    for b in "${BINARIES[@]}"; do
      go build -trimpath -tags osusergo,netgo -o "$OUT/bin/$b" \
        -ldflags "-s -w -X $MODULE/pkg/version.version=$VERSION -X $MODULE/pkg/utils/hostpath.pathPrefix=/host-" \
        "$MODULE/cmd/$b" >&2
    done
    cp -r "$(go list -m -f '{{.Dir}}' "$MODULE")/deployment" "$OUT/deployment.part"
  )
  chmod -R u+w "$OUT/deployment.part"
  rm -rf "$OUT/deployment" && mv "$OUT/deployment.part" "$OUT/deployment"
  log "built in $(($(date +%s) - start)) s"
}

image() {
  local file="$OUT/node-feature-discovery.oci.tar" tmp ocibuild
  [ -f "$file" ] && return
  ocibuild="$(bash "$root/images/build.sh" --tool)"
  tmp="$(mktemp -d)"
  install -D -m 0755 -t "$tmp/rootfs/usr/bin" "${BINARIES[@]/#/$OUT/bin/}"
  install -D -m 0644 "$OUT/deployment/components/worker-config/nfd-worker.conf.example" \
    "$tmp/rootfs/etc/kubernetes/node-feature-discovery/nfd-worker.conf"
  (cd "$tmp/rootfs" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | tar --no-recursion --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@946684800 -cf "$tmp/layer.tar" -T -)
  printf '{"name":"%s","layout":"%s","created":946684800,"entrypoint":[],"user":"65534:65534","env":["GRPC_GO_LOG_SEVERITY_LEVEL=INFO"],"platforms":[{"os":"linux","arch":"%s","layers":["%s"]}]}' \
    "registry.k8s.io/nfd/node-feature-discovery:$VERSION" "$tmp/layout" "$arch" "$tmp/layer.tar" | "$ocibuild" >/dev/null
  (cd "$tmp/layout" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | tar --no-recursion --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@946684800 -cf "$file.part" -T -)
  mv "$file.part" "$file"
  rm -rf "$tmp"
}

missing=0
for b in "${BINARIES[@]}"; do [ -x "$OUT/bin/$b" ] || missing=1; done
[ -d "$OUT/deployment" ] || missing=1
if [ "$missing" = 1 ]; then
  command -v go >/dev/null || { log "error: the Go toolchain is needed to build node-feature-discovery"; exit 1; }
  build_binaries
fi
image
echo "$OUT/node-feature-discovery.oci.tar"
echo "$OUT/deployment"
