#!/usr/bin/env bash
# Every check the project has: format and lint, type-check and build, unit tests, end-to-end tests against a
# real local control plane. Run through with-node.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
echo "[test] lint and format (biome)" >&2
npx biome ci .
echo "[test] control-plane binaries (built once into the cache; about 8 minutes the first time)" >&2
bash testkit/controlplane/build.sh >/dev/null || { echo "[test] cannot build the control plane: the e2e suites cannot run" >&2; exit 1; }
echo "[test] vitest: unit and e2e projects" >&2
# The newest tested version, named, so that the harness refuses binaries of another one (KUBEBUILDER_ASSETS).
K8S_VERSION="$(grep -v '^#' testkit/controlplane/versions | tail -n 1)"
export K8S_VERSION
npx vitest run
echo "[test] real node: kubelet, containerd and runc run the shipped images (root, Linux; the first run builds them)" >&2
npx vitest run --config vitest.real-node.config.ts
echo "[test] version matrix: the API-server suites on the older versions of testkit/controlplane/versions" >&2
bash scripts/test-versions.sh
echo "[test] benchmarks, smoke run with tiny sizes (figures not meaningful; npm run bench for real ones)" >&2
smoke_out="$(mktemp -d)"
node bench/run.ts --smoke --out "$smoke_out" >/dev/null
rm -rf "$smoke_out"
