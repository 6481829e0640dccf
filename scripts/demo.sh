#!/usr/bin/env bash
# The main job, for now: ask `sidecar-destruct explain` about a pod pinned to a Zigbee USB stick, first on the
# node that has the stick, then on the same node after the stick was unplugged. Run through with-node.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
explain() { node cli/dist/main.js explain "$@"; }

echo "== 1. The stick is plugged in: examples/node-with-stick.yaml"
explain --pod examples/pod-zigbee.yaml --node examples/node-with-stick.yaml
echo
echo "== 2. The stick was unplugged: examples/node-stick-unplugged.yaml"
status=0
explain --pod examples/pod-zigbee.yaml --node examples/node-stick-unplugged.yaml || status=$?
# explain exits 1 for "does not match": that is the expected verdict here, anything else is a failure.
[ "$status" -eq 1 ] || { echo "unexpected exit status $status" >&2; exit 1; }
echo
echo "Try it on your own cluster:"
echo "  kubectl get pod NAME -o yaml > pod.yaml; kubectl get node NODE -o yaml > node.yaml"
echo "  npx sidecar-destruct explain --pod pod.yaml --node node.yaml"
