#!/usr/bin/env bash
# The version matrix: the suites whose outcome depends on the API server (every attack of the security suite,
# upgrade and uninstall, the webhook, the story, the install, the off-peak story, the kubectl plugin) on each
# Kubernetes version of testkit/controlplane/versions, and the real-node
# suite (the kubelet's native sidecars, which the webhook's `auto` mode chooses by kubelet version) on the oldest.
# `npm test` runs it after the full run on the newest version; with versions as arguments it runs only those.
# Run through with-node.sh, after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t tested < <(grep -v '^#' testkit/controlplane/versions)
oldest="${tested[0]}"
newest="${tested[-1]}"
if [ "$#" -gt 0 ]; then versions=("$@"); else versions=("${tested[@]:0:${#tested[@]}-1}"); fi

# Each version is built from source like the default one; binaries named by KUBEBUILDER_ASSETS are one version only.
unset KUBEBUILDER_ASSETS
for v in "${versions[@]}"; do
  start=$(date +%s)
  echo "[test] Kubernetes $v: control plane (built once into the cache)" >&2
  K8S_VERSION="$v" bash testkit/controlplane/build.sh >/dev/null
  echo "[test] Kubernetes $v: security, upgrade, uninstall, webhook, story, install, off-peak and plugin suites" >&2
  K8S_VERSION="$v" npx vitest run --project e2e \
    test/e2e/security.e2e.test.ts test/e2e/upgrade.e2e.test.ts test/e2e/uninstall.e2e.test.ts \
    test/e2e/webhook.e2e.test.ts test/e2e/story.e2e.test.ts test/e2e/install.e2e.test.ts \
    test/e2e/off-peak.e2e.test.ts test/e2e/kubectl-plugin.e2e.test.ts
  if [ "$v" = "$oldest" ] && [ "$v" != "$newest" ]; then
    echo "[test] Kubernetes $v: real node (kubelet $v)" >&2
    K8S_VERSION="$v" bash testkit/controlplane/build.sh kubelet >/dev/null
    # The real-node suite only: the NFD suite (same config) runs on the newest version alone.
    K8S_VERSION="$v" npx vitest run --config vitest.real-node.config.ts test/e2e/real-node.e2e.test.ts
  fi
  echo "[test] Kubernetes $v: done in $(( $(date +%s) - start )) s" >&2
done
