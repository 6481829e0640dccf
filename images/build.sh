#!/usr/bin/env bash
# The one definition of the images this project ships, built without a container engine:
#
#   sidecar  ghcr.io/sidecar-destruct/sidecar:VERSION   bun --no-install /app/sidecar.cjs
#   webhook  ghcr.io/sidecar-destruct/webhook:VERSION   node /app/sidecar-destruct.mjs webhook   (deploy/ runs
#                                                        `webhook` and `certs` with it)
#
# Each image is three layers per platform (linux/amd64, linux/arm64): Debian's shared libraries the runtime needs,
# unpacked with dpkg-deb, plus an /etc/passwd naming uid 65532; the runtime; the project's esbuild bundle. The
# sidecar's runtime is Bun (scripts/bun.sh: the npm package @oven/bun-linux-<arch> at the version in .bun-version;
# it links only libc6's libraries, and glibc loads libgcc_s for pthread_exit and backtrace); the webhook's is the `node` binary of the npm package node-linux-<arch> at the version in
# .node-version, stripped (Debian's cross binutils, pinned), with libc6, libgcc-s1 and libstdc++6. No shell, no
# package manager,
# user 65532:65532. Layer tarballs are written with fixed owners, modes order and times; go-containerregistry
# (images/ocibuild) makes the config, manifests and index, so the same inputs give the same digest. Inputs (the
# node packages and the .deb files) are downloaded once into the cache and reused.
#
#   bash images/build.sh                                # both images, both platforms, into the cache
#   IMAGES=sidecar PLATFORMS=linux/amd64 bash images/build.sh
#   REGISTRY=ghcr.io/you PUSH=1 bash images/build.sh    # also push (credentials from ~/.docker/config.json)
#   bash images/build.sh --tool                         # only build the OCI tool; print its path
#   SIDECAR_BUNDLE=FILE, WEBHOOK_BUNDLE=FILE            # bundles other than sidecar/dist, cli/dist (tests)
#
# Output: $CACHE/images/VERSION/<image>.oci.tar (an OCI image archive: `ctr images import`, `skopeo copy
# oci-archive:…`, k3s's agent/images) and <image>.digest. Prints one line per image: name, digest, archive path.
# Needs: Node 24 + npm (run through scripts/with-node.sh), Go, dpkg-deb, apt-get (Debian or Ubuntu).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

REGISTRY="${REGISTRY:-ghcr.io/sidecar-destruct}"
VERSION="${VERSION:-$(node -p 'require("./package.json").version')}"
NODE_VERSION="$(tr -d '[:space:]' < .node-version)"
PLATFORMS="${PLATFORMS:-linux/amd64,linux/arm64}"
IMAGES="${IMAGES:-sidecar webhook}"
# Every timestamp in the images (layers, config, history): 2000-01-01, a fixed instant rather than the build time.
EPOCH=946684800
source scripts/cache.sh
OUT="${OUT:-$CACHE_ROOT/images/$VERSION}"
INPUTS="$CACHE_ROOT/images/inputs"

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- the OCI tool ------------------------------------------------------------------------------------------
tool_key="$(cat images/ocibuild/go.mod images/ocibuild/go.sum images/ocibuild/main.go | sha256sum | cut -c1-16)"
ocibuild="$CACHE_ROOT/images/ocibuild-$tool_key/ocibuild"
if [ ! -x "$ocibuild" ]; then
  command -v go >/dev/null || { log "error: Go is needed to build images/ocibuild"; exit 1; }
  log "building images/ocibuild (go-containerregistry)"
  (cd images/ocibuild && CGO_ENABLED=0 go build -trimpath -o "$ocibuild" .) >&2
fi

# `--tool` prints the OCI tool's path and stops (infra/node/images.sh makes the node's own images with it).
if [ "${1:-}" = --tool ]; then echo "$ocibuild"; exit 0; fi

# --- inputs, downloaded once -------------------------------------------------------------------------------
deb_arch() { case "$1" in amd64) echo amd64 ;; arm64) echo arm64 ;; *) log "error: unsupported platform linux/$1"; exit 1 ;; esac; }
npm_arch() { case "$1" in amd64) echo x64 ;; arm64) echo arm64 ;; esac; }

node_input() { # arch -> directory holding bin/node
  local arch="$1" dir="$INPUTS/node-v$NODE_VERSION-$arch"
  if [ ! -x "$dir/bin/node" ]; then
    log "fetching node-linux-$(npm_arch "$arch")@$NODE_VERSION from the npm registry"
    local tmp; tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$(npm_arch "$arch")@$NODE_VERSION" >/dev/null)
    tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp"
    rm -rf "$dir" && mkdir -p "$dir" && mv "$tmp/package/bin" "$dir/bin"
    rm -rf "$tmp"
  fi
  echo "$dir"
}

# The node binary ships without its debug info and symbol table (126.6 → 108.5 MB for amd64, 122.9 → 103.0 MB for
# arm64): stripped by Debian's cross binutils, pinned, for each architecture, downloaded and unpacked into the
# cache (not installed), so that the same inputs still give the same digest on any machine.
BINUTILS_VERSION=2.40-2
strip_tool() { # arch -> path of a strip for that architecture
  local dir="$INPUTS/binutils-$BINUTILS_VERSION"
  if [ ! -f "$dir/.complete" ]; then
    local tmp; tmp="$(mktemp -d)"
    chmod 755 "$tmp" # apt-get downloads as its own user when it can
    log "fetching Debian's cross binutils $BINUTILS_VERSION (strip for amd64 and arm64)"
    # The tools, and the host's libbfd and libsframe they load, all at the pinned version.
    local pkgs=("binutils-x86-64-linux-gnu=$BINUTILS_VERSION" "binutils-aarch64-linux-gnu=$BINUTILS_VERSION"
      "libbinutils=$BINUTILS_VERSION")
    (cd "$tmp" && { apt-get download -qq "${pkgs[@]}" || { apt-get update -qq && apt-get download -qq "${pkgs[@]}"; }; }) >&2 || {
      log "error: cannot download Debian's binutils $BINUTILS_VERSION (Debian 12's; another distribution needs its own pin)"
      exit 1
    }
    rm -rf "$dir" && mkdir -p "$dir"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
    rm -rf "$tmp"
    touch "$dir/.complete"
  fi
  local prefix; case "$1" in amd64) prefix=x86_64 ;; arm64) prefix=aarch64 ;; esac
  echo "$dir/usr/bin/$prefix-linux-gnu-strip"
}

# Runs a strip_tool with the libraries downloaded beside it (the host's own binutils are not used).
strip_binary() { # arch in out
  local tool; tool="$(strip_tool "$1")"
  local multiarch; multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")"
  LD_LIBRARY_PATH="$(dirname "$(dirname "$tool")")/lib/$multiarch" "$tool" -o "$3" "$2"
}

debs_input() { # arch package... -> directory holding the .deb files
  local arch; arch="$(deb_arch "$1")"; shift
  local DEBS=("$@")
  local dir="$INPUTS/debs-$arch-$(printf '%s-' "${DEBS[@]}" | tr -c 'a-z0-9.-' '_')"
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$dir"
    local apt_opts=()
    if [ "$arch" != "$(dpkg --print-architecture)" ]; then
      # Package lists of a foreign architecture, kept in the cache: the host's dpkg is not told about it.
      mkdir -p "$INPUTS/apt-$arch/lists/partial" "$INPUTS/apt-$arch/cache/archives/partial"
      apt_opts=(-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
        -o "Dir::State::Lists=$INPUTS/apt-$arch/lists" -o "Dir::Cache=$INPUTS/apt-$arch/cache"
        -o "Dir::State::status=/dev/null")
      log "apt-get update for $arch (package lists into the cache)"
      apt-get "${apt_opts[@]}" update -qq >&2
    fi
    log "downloading ${DEBS[*]} for $arch"
    (cd "$dir" && apt-get "${apt_opts[@]}" download -qq "${DEBS[@]/%/:$arch}") >&2 || {
      log "apt-get download failed; once more after apt-get update"
      apt-get "${apt_opts[@]}" update -qq >&2
      (cd "$dir" && apt-get "${apt_opts[@]}" download -qq "${DEBS[@]/%/:$arch}") >&2
    }
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# --- layers ------------------------------------------------------------------------------------------------
# A tarball of a directory's contents that depends on nothing but the file names, contents and modes given.
layer_tar() { # dir out
  (cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort \
    | tar --no-recursion --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$EPOCH" -cf "$2" -T -)
}

# glibc's libraries that neither runtime loads (both link libc, libm, libdl and libpthread through the loader, and
# getaddrinfo's files and dns sources are built into glibc 2.36's libc, libresolv is kept): vector math, malloc and
# thread debugging, profiling, NIS and Hesiod. The libmvec alone is 1 MB.
UNUSED_LIBS=(libmvec.so.1 libnsl.so.1 libc_malloc_debug.so.0 libnss_compat.so.2 libnss_hesiod.so.2 libthread_db.so.1
  libmemusage.so libpcprofile.so libBrokenLocale.so.1 libanl.so.1)

base_layer() { # arch package... -> tar path
  local arch="$1" debs out; shift
  debs="$(debs_input "$arch" "$@")"
  local key; key="$( (ls "$debs"/*.deb | xargs -n1 basename; echo "${UNUSED_LIBS[*]}") | sha256sum | cut -c1-12)"
  out="$OUT/layers/base-$arch-$key.tar"
  if [ ! -f "$out" ]; then
    local tmp; tmp="$(mktemp -d)"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$tmp/rootfs"; done
    local r="$tmp/rootfs"
    # Only the shared libraries are needed: no documentation, locales, gconv modules or helper programs.
    rm -rf "$r/usr/share" "$r/usr/lib/"*/gconv "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/usr/libexec" "$r/etc/ld.so.conf.d"
    for lib in "${UNUSED_LIBS[@]}"; do rm -f "$r"/lib/*/"$lib" "$r"/usr/lib/*/"$lib"; done
    rm -rf "$r"/lib/*/audit "$r"/usr/lib/*/audit
    # Debian's merged /usr: the packages still ship /lib and /lib64 paths that base-files makes links.
    if [ -d "$r/lib" ] && [ ! -L "$r/lib" ]; then mkdir -p "$r/usr/lib" && cp -a "$r/lib/." "$r/usr/lib/" && rm -rf "$r/lib"; fi
    ln -sfn usr/lib "$r/lib"
    if [ -d "$r/lib64" ] && [ ! -L "$r/lib64" ]; then mkdir -p "$r/usr/lib64" && cp -a "$r/lib64/." "$r/usr/lib64/" && rm -rf "$r/lib64"; fi
    [ -d "$r/usr/lib64" ] && ln -sfn usr/lib64 "$r/lib64"
    mkdir -p "$r/etc" "$r/tmp" "$r/app"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$r/etc/passwd"
    printf 'root:x:0:\nnonroot:x:65532:\n' > "$r/etc/group"
    chmod -R u+rwX,go+rX,go-w "$r" && chmod 1777 "$r/tmp"
    mkdir -p "$OUT/layers" && layer_tar "$r" "$out.part" && mv "$out.part" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

node_layer() { # arch -> tar path
  local arch="$1" out="$OUT/layers/node-v$NODE_VERSION-$arch-stripped-$BINUTILS_VERSION.tar"
  if [ ! -f "$out" ]; then
    local src tmp; src="$(node_input "$arch")"; tmp="$(mktemp -d)"
    mkdir -p "$tmp/usr/local/bin" && strip_binary "$arch" "$src/bin/node" "$tmp/usr/local/bin/node"
    chmod 0755 "$tmp/usr" "$tmp/usr/local" "$tmp/usr/local/bin" "$tmp/usr/local/bin/node"
    mkdir -p "$OUT/layers" && layer_tar "$tmp" "$out.part" && mv "$out.part" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

bun_layer() { # arch -> tar path
  local arch="$1" src tmp; src="$(bash scripts/bun.sh "$arch")"
  local out="$OUT/layers/bun-$(tr -d '[:space:]' < .bun-version)-$arch.tar"
  if [ ! -f "$out" ]; then
    # Not stripped: Bun's release binary carries no debug info (strip takes off 48 kB of symbols).
    tmp="$(mktemp -d)"
    mkdir -p "$tmp/usr/local/bin" && cp "$src" "$tmp/usr/local/bin/bun"
    chmod 0755 "$tmp/usr" "$tmp/usr/local" "$tmp/usr/local/bin" "$tmp/usr/local/bin/bun"
    mkdir -p "$OUT/layers" && layer_tar "$tmp" "$out.part" && mv "$out.part" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

app_layer() { # bundle file-in-image -> tar path
  local src="$1" name="$2" tmp; tmp="$(mktemp -d)"
  [ -f "$src" ] || { log "error: $src is missing: run npm run setup first"; exit 1; }
  mkdir -p "$tmp/app" && cp "$src" "$tmp/app/$name" && chmod 0755 "$tmp/app" && chmod 0644 "$tmp/app/$name"
  local out="$OUT/layers/app-$name.tar"
  mkdir -p "$OUT/layers" && layer_tar "$tmp" "$out"
  rm -rf "$tmp"
  echo "$out"
}

# --- images ------------------------------------------------------------------------------------------------
json_list() { node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"; }

runtime_layers() { # image arch -> the base and runtime layers, one per line
  case "$1" in
    sidecar) base_layer "$2" libc6 libgcc-s1 && bun_layer "$2" ;;
    webhook) base_layer "$2" libc6 libgcc-s1 libstdc++6 && node_layer "$2" ;;
  esac
}

image() { # name app-src app-name entrypoint-json cmd-json ports-json env-json
  local image="$1" app; app="$(app_layer "$2" "$3")"
  local platforms="[" sep=""
  IFS=',' read -ra plats <<< "$PLATFORMS"
  for p in "${plats[@]}"; do
    local arch="${p#linux/}" layers
    mapfile -t layers < <(runtime_layers "$image" "$arch")
    [ "${#layers[@]}" = 2 ] || { log "error: the base and runtime layers of $image for $arch"; exit 1; }
    platforms+="$sep{\"os\":\"linux\",\"arch\":\"$arch\",\"layers\":$(json_list "${layers[@]}" "$app")}"
    sep=","
  done
  platforms+="]"
  local name="$REGISTRY/$image:$VERSION" push=""
  [ "${PUSH:-0}" = 1 ] && push="$name"
  local spec
  spec="{\"name\":\"$name\",\"layout\":\"$OUT/$image.layout\",\"push\":\"$push\",\"created\":$EPOCH,
    \"entrypoint\":$4,\"cmd\":$5,\"user\":\"65532:65532\",\"exposedPorts\":$6,
    \"env\":$7,
    \"labels\":{\"org.opencontainers.image.title\":\"sidecar-destruct-$image\",\"org.opencontainers.image.version\":\"$VERSION\"},
    \"platforms\":$platforms}"
  local digest; digest="$(printf '%s' "$spec" | "$ocibuild")"
  layer_tar "$OUT/$image.layout" "$OUT/$image.oci.tar.part" && mv "$OUT/$image.oci.tar.part" "$OUT/$image.oci.tar"
  rm -rf "$OUT/$image.layout"
  echo "$digest" > "$OUT/$image.digest"
  log "$name $digest ($(du -h "$OUT/$image.oci.tar" | cut -f1))"
  echo "$name $digest $OUT/$image.oci.tar"
}

mkdir -p "$OUT"
# How the sidecar's runtime runs the bundle: SIDECAR_RUNTIME, read from the built sidecar package (the harness and
# the benchmarks run it the same way), not copied here.
runtime="$(node -e "import('./sidecar/dist/main.js').then(m => console.log(JSON.stringify(m.SIDECAR_RUNTIME)))" 2>/dev/null || true)"
[ -n "$runtime" ] || { log "error: cannot read SIDECAR_RUNTIME from sidecar/dist/main.js: run npm run setup first"; exit 1; }
image_json() { # field -> the sidecar image's entrypoint or env, as JSON
  node -e '
    const r = JSON.parse(process.argv[2]);
    const env = ["PATH=/usr/local/bin:/usr/bin:/bin", ...Object.entries(r.env).map(([k, v]) => `${k}=${v}`)];
    console.log(JSON.stringify(process.argv[1] === "entrypoint" ? ["/usr/local/bin/bun", ...r.flags, "/app/sidecar.cjs"] : env));
  ' "$1" "$runtime"
}
for name in $IMAGES; do
  case "$name" in
    sidecar) image sidecar "${SIDECAR_BUNDLE:-sidecar/dist/sidecar.cjs}" sidecar.cjs \
      "$(image_json entrypoint)" '[]' '[]' "$(image_json env)" ;;
    webhook) image webhook "${WEBHOOK_BUNDLE:-cli/dist/sidecar-destruct.mjs}" sidecar-destruct.mjs \
      '["/usr/local/bin/node","/app/sidecar-destruct.mjs"]' '["webhook"]' '["8443/tcp"]' \
      '["PATH=/usr/local/bin:/usr/bin:/bin","NODE_ENV=production"]' ;;
    *) log "error: unknown image $name (sidecar, webhook)"; exit 1 ;;
  esac
done
