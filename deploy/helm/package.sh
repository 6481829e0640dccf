#!/usr/bin/env bash
# Packages the chart reproducibly: the same chart gives the same .tgz, byte for byte, on any checkout. `helm package`
# stores each file's modification time, which a checkout sets to its own moment; so the chart is copied with its
# links to deploy/ resolved and every file dated 2000-01-01 (as the images are), and packaged from there (Helm
# writes every file 0644 and owned by 0:0 itself, whatever the umask). Prints the
# path of the .tgz. Helm from infra/tools/helm.sh unless HELM names another.
#
#   bash deploy/helm/package.sh [OUT_DIR]      # default: the current directory
#   helm push "$(bash deploy/helm/package.sh /tmp)" oci://registry.example.com/charts
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "${1:-.}"
out="$(cd "${1:-.}" && pwd)"
helm="${HELM:-$(bash "$root/infra/tools/helm.sh")}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -RL "$root/deploy/helm/sidecar-destruct" "$tmp/sidecar-destruct"
find "$tmp/sidecar-destruct" -exec touch -h -d @946684800 {} +
"$helm" package "$tmp/sidecar-destruct" --destination "$out" >/dev/null
version="$(sed -n 's/^version: *//p' "$root/deploy/helm/sidecar-destruct/Chart.yaml")"
echo "$out/sidecar-destruct-$version.tgz"
