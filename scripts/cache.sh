# shellcheck shell=bash
# The one place that says where the project's caches live (control planes, Node, Bun, images, the real node, NFD,
# qemu, Helm, bench tools): $SIDECAR_DESTRUCT_CACHE, else $XDG_CACHE_HOME/sidecar-destruct, else
# ~/.cache/sidecar-destruct. Every script sources this file; TypeScript asks the scripts for their outputs.
CACHE_ROOT="${SIDECAR_DESTRUCT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sidecar-destruct}"
