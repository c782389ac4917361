#!/usr/bin/env bash
# Stop what up.sh started, by pidfile: SIGTERM, a bounded wait, then SIGKILL.
# The node goes first: kubelet and kube-proxy, then its pods (crictl rmp), then
# containerd; kube-proxy's iptables rules are removed and the kernel tunables
# kubelet changed are put back.
#   down.sh           stop the processes, keep state (certs, etcd data, images) for a fast restart
#   down.sh --clean   also remove the run dir ($KAUPANG_K8S_DIR) and the node's bridge
# Env: KAUPANG_K8S_STOP_TIMEOUT seconds to wait for each stop step before SIGKILL (default 15).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=node.sh
. "$HERE/node.sh"

CLEAN=0
for a in "$@"; do
  case "$a" in
    --clean) CLEAN=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument: $a (usage: down.sh [--clean])" ;;
  esac
done

DIR="$KAUPANG_K8S_DIR"
PIDS="$DIR/pids"
STOP_TIMEOUT="${KAUPANG_K8S_STOP_TIMEOUT:-15}"

our_pid() { component_pid "$1"; }

# stop_group NAME...: SIGTERM all, wait (bounded), SIGKILL the stragglers.
stop_group() {
  local name pid t0=$SECONDS deadline=$((SECONDS + STOP_TIMEOUT)) alive
  local -A pids=()
  for name in "$@"; do
    if pid="$(our_pid "$name")"; then
      pids[$name]=$pid
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  while :; do
    alive=""
    for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && alive+=" $name"; done
    [ -z "$alive" ] && break
    if [ $SECONDS -ge $deadline ]; then
      log "did not exit within ${STOP_TIMEOUT}s:$alive: SIGKILL"
      for name in $alive; do kill -KILL "${pids[$name]}" 2>/dev/null || true; done
      for _ in $(seq 25); do
        alive=""
        for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && alive+=" $name"; done
        [ -z "$alive" ] && break
        sleep 0.2
      done
      break
    fi
    sleep 0.2
  done
  for name in "${!pids[@]}"; do log "stopped $name (pid ${pids[$name]}) in $((SECONDS - t0))s"; done
  for name in "$@"; do rm -f "$PIDS/$name.pid"; done
}

# Reverse start order: the node and the other clients of the apiserver first, etcd last.
knode_stop
stop_group kwok kube-scheduler kube-controller-manager
stop_group kube-apiserver
stop_group etcd

if [ "$CLEAN" = 1 ]; then
  case "$DIR" in
    ""|/|"$HOME") die "refusing to remove run dir '$DIR'" ;;
  esac
  knode_clean
  if [ -d "$DIR" ]; then
    log "removing $DIR"
    rm -rf --one-file-system "$DIR"
  fi
fi
log "stopped"
