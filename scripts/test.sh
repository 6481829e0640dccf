#!/usr/bin/env bash
# Every check the project has: format and lint, type-check and build, unit tests. Run through with-node.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
echo "[test] lint and format (biome)" >&2
npx biome ci .
echo "[test] vitest" >&2
npx vitest run
