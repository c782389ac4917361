#!/usr/bin/env bash
# Stops what hosts-up.sh started, by pidfile: each host's sshd, registry
# forwarders and dockerd (its containers stop with it), the host-side
# forwarders; then deletes the hosts' and the lan's network namespaces.
# Data roots (images, swarm state), keys and docker contexts are kept, so the
# next hosts-up.sh is warm; --purge removes them too (and the swarm with them).
# The local engine and registries are docker-down.sh's.
#
#   hosts-down.sh [--purge]
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=""
for a in "$@"; do
  case "$a" in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $a (usage: $0 [--purge])" ;;
  esac
done

P="$KAUPANG_HOSTS_PREFIX"
S="$KAUPANG_HOSTS_STATE"
R="$KAUPANG_HOSTS_RUN"

for d in "$R"/n[0-9]*; do
  [[ -d "$d" ]] || continue
  i="${d##*/n}"
  name="$P-n$i"
  stop_pidfile "$d/sshd.pid" "$name sshd" 10
  for f in "$d"/registry-*.pid; do
    [[ -e "$f" ]] && stop_pidfile "$f" "$name forwarder ${f##*/}" 5
  done
  stop_pidfile "$d/dockerd.pid" "$name dockerd" 60
  rm -f "$d/sshd_config.running"
  # the (now empty) cgroups under the engine's cgroup parent
  find /sys/fs/cgroup/*/"$name" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
for f in "$R"/registry-*.pid; do
  [[ -e "$f" ]] && stop_pidfile "$f" "forwarder ${f##*/}" 5
done
rm -f "$R"/registry-*.sock

for ns in $(ip netns list | awk '{ print $1 }' | grep -E "^$P-(n[0-9]+|lan)\$" || true); do
  # anything still running in it was not started by hosts-up.sh (or outlived its pidfile): say so
  left="$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"
  [[ -z "$left" ]] || log "netns $ns: processes still inside: $left(not stopped; the namespace goes when they exit)"
  ip netns del "$ns" && log "netns $ns: deleted"
done

if [[ -n "$purge" ]]; then
  for c in $(docker context ls --format '{{.Name}}' 2>/dev/null | grep -E "^$P-n[0-9]+\$" || true); do
    docker context rm -f "$c" >/dev/null && log "docker context $c: removed"
  done
  rm -rf "$S" "$R" "$KAUPANG_TOOLS_CACHE/hosts.env"
  log "purged $S"
fi
log "hosts down"
