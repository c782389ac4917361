#!/usr/bin/env bash
# Stops what docker-up.sh started: the two registries (by pidfile).
# dockerd keeps running unless --all is given (then it is stopped too, if
# docker-up.sh started it; a dockerd started some other way is left alone).
# Images, registry storage, built tools and the swarm state are kept.
#
#   docker-down.sh [--all]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

all=""
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $a (usage: $0 [--all])" ;;
  esac
done

for r in open auth; do
  stop_pidfile "$KAUPANG_TOOLS_CACHE/registry/$r/registry.pid" "registry $r"
done
for addr in "$KAUPANG_TEST_REGISTRY" "$KAUPANG_TEST_AUTH_REGISTRY"; do
  if registry_answers "$addr"; then
    log "note: something still answers on http://$addr/v2/ (not started by docker-up.sh?)"
  fi
done

if [[ -n "$all" ]]; then
  if pid_alive "$KAUPANG_TOOLS_CACHE/dockerd.pid"; then
    stop_pidfile "$KAUPANG_TOOLS_CACHE/dockerd.pid" dockerd 60
  elif docker_answers; then
    log "dockerd: running but not started by docker-up.sh (no live pidfile); left alone"
  else
    log "dockerd: not running"
  fi
fi
log "down"
