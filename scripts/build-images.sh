#!/usr/bin/env bash
# Builds the webhook and sidecar images for linux/amd64 and linux/arm64 from their one definition,
# images/build.sh: no container engine needed (go-containerregistry assembles them), same inputs, same digest.
#
#   scripts/build-images.sh                                       # OCI archives under ~/.cache/sidecar-destruct/images/
#   REGISTRY=ghcr.io/you PUSH=1 scripts/build-images.sh           # and push them (credentials: ~/.docker/config.json)
#   REGISTRY=docker.io/sidecar-destruct VERSION=dev scripts/build-images.sh   # the names docker-compose.yml loads
#
# Needs Go and a Debian or Ubuntu apt (for libc6, libgcc-s1, libstdc++6); Node 24 is brought by with-node.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec bash scripts/with-node.sh bash -c 'bash scripts/setup.sh && bash images/build.sh "$@"' build-images "$@"
