#!/usr/bin/env bash
# The main job: the whole story on a real local control plane, narrated (demo/src/main.ts).
# Installs what it needs first: Node 24 (with-node.sh), dependencies and a build (setup.sh), and the
# control-plane binaries (built once into ~/.cache/sidecar-destruct; about 8 minutes on 2 cores).
# Run through with-node.sh. Extra arguments go to the demo (e.g. --keep).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# Against an existing cluster (--kubeconfig) no local control plane is needed.
case " $* " in
  *" --kubeconfig"*) ;;
  *) bash testkit/controlplane/build.sh >/dev/null ;;
esac
exec node demo/dist/main.js "$@"
