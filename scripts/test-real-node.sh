#!/usr/bin/env bash
# The real-node suite: kubelet, containerd and runc on this machine run the injected sidecar from the image
# images/build.sh makes. Linux and root; elsewhere it fails with the reason (SIDECAR_DESTRUCT_REAL_NODE=0 skips
# it). Everything it changes on the host is restored at the end, and at the next start after a killed run
# (or by hand: bash infra/node/host.sh down). Run through with-node.sh: npm run test:real-node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash testkit/controlplane/build.sh kubelet >/dev/null
npx vitest run --config vitest.real-node.config.ts "$@"
