#!/usr/bin/env bash
# Builds the webhook and sidecar images for linux/amd64, linux/arm64 and linux/arm/v7 with docker buildx.
#
#   scripts/build-images.sh                      # build only (into the buildx cache)
#   REGISTRY=ghcr.io/you PUSH=1 scripts/build-images.sh
#
# Needs a Docker engine with buildx (and QEMU for the foreign platforms, or remote builders).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
registry="${REGISTRY:-ghcr.io/sidecar-destruct}"
version="${VERSION:-$(node -p 'require("./package.json").version')}"
platforms="${PLATFORMS:-linux/amd64,linux/arm64,linux/arm/v7}"
output="--output=type=image,push=false"
[ "${PUSH:-0}" = 1 ] && output="--push"

for image in webhook sidecar; do
  echo "building ${registry}/${image}:${version} for ${platforms}" >&2
  docker buildx build \
    --platform "${platforms}" \
    --file "${image}/Containerfile" \
    --tag "${registry}/${image}:${version}" \
    ${output} \
    .
done
