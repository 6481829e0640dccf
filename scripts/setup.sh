#!/usr/bin/env bash
# Installs dependencies (when package-lock.json changed) and builds every package. Run through with-node.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm ci (node $(node --version))" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc --build
# Tests are not part of the emitted packages; type-check them on their own.
npx tsc -p tsconfig.tests.json
# The file the sidecar container runs, and the e2e suites start.
npm run bundle --silent -w @sidecar-destruct/sidecar
# The file the webhook image runs (checked by test/unit/images.test.ts).
npm run bundle --silent -w @sidecar-destruct/cli
# The sidecar's runtime (Bun, .bun-version), which the harness, the benchmarks and the demo run the bundle on.
bash scripts/bun.sh >/dev/null
