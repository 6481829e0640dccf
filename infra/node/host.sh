#!/usr/bin/env bash
# What a real node changes on this host, recorded before and put back after, so that a test run (or a killed
# one) leaves nothing behind: addresses on lo, the CNI bridge, processes (kubelet, containerd, shims and the
# containers), mounts, cgroups, sysctls, and the few host paths a kubelet or containerd writes to whatever
# their configuration says.
#
#   host.sh check                             can this host run a kubelet? (prints the reason when not)
#   host.sh up OWNER_PID NODE_IP SERVICE_IP BRIDGE RUNC
#                                             cleans a stale run first (its owner is dead), records the host's
#                                             state, puts NODE_IP and SERVICE_IP on lo; refuses while another
#                                             live run owns the state
#   host.sh down                              tears everything down and restores the recorded state; safe to
#                                             run any time, by hand too (a killed test leaves its state here)
#   host.sh leftovers                         prints anything of a run still on the host (nothing: clean)
#   host.sh sysctls                           prints the sysctls that a run may change and down restores
#
# All state lives in $SIDECAR_DESTRUCT_REAL_NODE_DIR (default /var/tmp/sidecar-destruct-real-node); the node's
# own files (configs, containerd root and state, kubelet root, pod logs) are under its node/ folder.
set -euo pipefail
STATE="${SIDECAR_DESTRUCT_REAL_NODE_DIR:-/var/tmp/sidecar-destruct-real-node}"
NODE_DIR="$STATE/node"
# Paths the kubelet or containerd may create whatever they are configured with; removed if a run created them.
HOST_PATHS=(/var/lib/kubelet /var/lib/cni /var/lib/containerd /run/containerd /var/run/nri /run/nri
  /var/log/containers /var/log/pods /opt/containerd /etc/cni /opt/cni /etc/containerd /var/lib/nri)
# sysctls a kubelet, containerd or the CNI bridge may change (kubelet: vm.overcommit_memory, vm.panic_on_oom,
# kernel.panic, kernel.panic_on_oops, kernel.keys.*; bridge: ip_forward, per-interface settings).
SYSCTL_PREFIXES='^(vm\.|kernel\.panic|kernel\.keys\.|net\.ipv4\.ip_forward|net\.ipv4\.conf\.(all|default|lo)\.|net\.ipv6\.conf\.(all|default|lo)\.|net\.bridge\.|net\.core\.)'

log() { printf '[host %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

check() {
  [ "$(uname -s)" = Linux ] || { echo "a kubelet needs Linux (this is $(uname -s))"; return 1; }
  [ "$(id -u)" = 0 ] || { echo "a kubelet needs root (running as uid $(id -u))"; return 1; }
  command -v ip >/dev/null || { echo "the ip command (iproute2) is missing"; return 1; }
  grep -q overlay /proc/filesystems || modprobe overlay 2>/dev/null || { echo "no overlay filesystem"; return 1; }
  [ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || { echo "no memory cgroup"; return 1; }
  return 0
}

# Process ids whose command line names the node's directory (kubelet, containerd, shims), `pattern` first.
pids_naming() {
  local pattern="$1" pid
  for cmd in /proc/[0-9]*/cmdline; do
    pid="${cmd#/proc/}"; pid="${pid%/cmdline}"
    [ "$pid" = $$ ] && continue
    tr '\0' ' ' 2>/dev/null < "$cmd" | grep -qF -- "$NODE_DIR" || continue
    tr '\0' ' ' 2>/dev/null < "$cmd" | grep -qE -- "$pattern" && echo "$pid"
  done
  return 0
}

stop_pids() { # signal-then-kill a list of pids
  local pids=("$@")
  [ "${#pids[@]}" -gt 0 ] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

cgroup_dirs() { # the kubepods cgroups of every hierarchy, if they were made by a run
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -d "${h}kubepods" ] || continue
    grep -qxF "${h}kubepods" "$STATE/cgroups.before" 2>/dev/null && continue
    echo "${h}kubepods"
  done
}

mounts_under() { awk -v d="$1" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

down() {
  [ -d "$STATE" ] || return 0
  local bridge="" runc="" addresses=""
  [ -f "$STATE/bridge" ] && bridge="$(cat "$STATE/bridge")"
  [ -f "$STATE/runc" ] && runc="$(cat "$STATE/runc")"
  [ -f "$STATE/addresses.added" ] && addresses="$(cat "$STATE/addresses.added")"

  # The kubelet first, so that it restarts nothing; then the containers, the shims, containerd.
  mapfile -t kubelets < <(pids_naming '(^|/)kubelet ')
  stop_pids "${kubelets[@]}"
  if [ -n "$runc" ] && [ -x "$runc" ] && [ -d "$NODE_DIR/run/runc" ]; then
    for id in $("$runc" --root "$NODE_DIR/run/runc" list -q 2>/dev/null); do
      "$runc" --root "$NODE_DIR/run/runc" kill "$id" KILL 2>/dev/null || true
      "$runc" --root "$NODE_DIR/run/runc" delete --force "$id" 2>/dev/null || true
    done
  fi
  # Whatever still runs in the pods' cgroups (a container runc lost track of).
  for cg in $(cgroup_dirs); do
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -KILL 2>/dev/null || true
  done
  mapfile -t rest < <(pids_naming 'containerd-shim|containerd|kubelet')
  stop_pids "${rest[@]}"

  # Mounts under the state dir (container root filesystems, network namespaces, projected volumes, the
  # kubelet's shared bind of its root), deepest first; a busy one is detached lazily.
  for _ in 1 2 3; do
    mapfile -t mounts < <(mounts_under "$STATE")
    [ "${#mounts[@]}" -gt 0 ] || break
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done

  [ -n "$bridge" ] && ip link show "$bridge" >/dev/null 2>&1 && ip link del "$bridge"
  for a in $addresses; do ip addr del "$a/32" dev lo 2>/dev/null || true; done

  for cg in $(cgroup_dirs); do
    for _ in $(seq 50); do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$cg" ] || break
      sleep 0.1
    done
    [ -d "$cg" ] && log "warning: cannot remove cgroup $cg"
  done

  if [ -f "$STATE/sysctl.before" ]; then
    while IFS= read -r line; do
      local key="${line%% = *}" value="${line#* = }"
      [[ "$key" =~ $SYSCTL_PREFIXES ]] || continue
      local path="/proc/sys/${key//./\/}"
      [ -w "$path" ] || continue
      local now; now="$(sysctl -n "$key" 2>/dev/null)" || continue
      if [ "$now" != "$value" ]; then
        log "restoring $key = $value (was $now)"
        printf '%s\n' "$value" > "$path" 2>/dev/null || log "warning: cannot restore $key"
      fi
    done < "$STATE/sysctl.before"
  fi

  for p in "${HOST_PATHS[@]}"; do
    if [ -e "$p" ] && ! grep -qxF "$p" "$STATE/paths.before" 2>/dev/null; then
      for m in $(mounts_under "$p"); do umount -l "$m" 2>/dev/null || true; done
      [ -z "$(mounts_under "$p")" ] && rm -rf "$p"
    fi
  done

  if [ -n "$(mounts_under "$STATE")" ]; then
    log "error: mounts remain under $STATE; not removing it"; mounts_under "$STATE" >&2; return 1
  fi
  rm -rf "$STATE"
}

leftovers() {
  local found=0
  say() { echo "$*"; found=1; }
  [ -d "$STATE" ] && say "state directory $STATE"
  for p in $(pids_naming 'containerd|kubelet'); do say "process $p: $(tr '\0' ' ' < /proc/$p/cmdline)"; done
  for cg in /sys/fs/cgroup/*/kubepods; do [ -d "$cg" ] && say "cgroup $cg"; done
  [ -n "$(mounts_under "$STATE")" ] && say "mounts under $STATE"
  for a in "$@"; do ip -br addr show dev lo | grep -qF " $a/" && say "address $a on lo"; done
  return 0
}

case "${1:-}" in
  check) check ;;
  up)
    owner="$2" node_ip="$3" service_ip="$4" bridge="$5" runc="$6"
    reason="$(check)" || { echo "this host cannot run a kubelet: $reason" >&2; exit 2; }
    if [ -f "$STATE/owner" ]; then
      previous="$(cat "$STATE/owner")"
      if [ "$previous" != "$owner" ] && kill -0 "$previous" 2>/dev/null; then
        echo "another real-node run (pid $previous) owns $STATE; wait for it, or stop it and run: bash infra/node/host.sh down" >&2
        exit 3
      fi
      log "cleaning the state a previous run left (owner pid $previous is gone)"
      down
    elif [ -d "$STATE" ]; then
      log "cleaning an incomplete state directory"; down
    fi
    mkdir -p "$NODE_DIR"
    sysctl -a 2>/dev/null > "$STATE/sysctl.before" || true
    : > "$STATE/paths.before"
    for p in "${HOST_PATHS[@]}"; do [ -e "$p" ] && echo "$p" >> "$STATE/paths.before"; done
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do [ -d "${h}kubepods" ] && echo "${h}kubepods"; done > "$STATE/cgroups.before"
    echo "$bridge" > "$STATE/bridge"
    echo "$runc" > "$STATE/runc"
    : > "$STATE/addresses.added"
    for a in "$node_ip" "$service_ip"; do
      if ! ip -br addr show dev lo | grep -qF " $a/"; then
        echo "$a" >> "$STATE/addresses.added"
        ip addr add "$a/32" dev lo
      fi
    done
    echo "$owner" > "$STATE/owner"
    ;;
  down) down ;;
  sysctls) sysctl -a 2>/dev/null | grep -E "$SYSCTL_PREFIXES" || true ;;
  leftovers) shift; leftovers "$@" ;;
  *) echo "usage: host.sh check | up OWNER_PID NODE_IP SERVICE_IP BRIDGE RUNC | down | leftovers [ADDRESS...] | sysctls" >&2; exit 2 ;;
esac
