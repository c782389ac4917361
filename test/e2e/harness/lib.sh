# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts
# Shared helpers for the kaupang e2e harness scripts. Source it; do not run it.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Everything the harness builds or runs lives OUTSIDE the clone, under
# $KAUPANG_TOOLS_CACHE, so a fresh clone on a warm machine reuses it.

if [[ -n "${KAUPANG_HARNESS_LIB_LOADED:-}" ]]; then
  return 0
fi
KAUPANG_HARNESS_LIB_LOADED=1

KAUPANG_HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export KAUPANG_TOOLS_CACHE="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
export KAUPANG_TOOLS_BIN="$KAUPANG_TOOLS_CACHE/bin"

# Pinned tool versions (see README.md for why these).
KAUPANG_COMPOSE_VERSION="${KAUPANG_COMPOSE_VERSION:-v2.40.3}"
KAUPANG_ORAS_VERSION="${KAUPANG_ORAS_VERSION:-v1.2.3}"
KAUPANG_ACTIONLINT_VERSION="${KAUPANG_ACTIONLINT_VERSION:-v1.7.12}"

# Fixed test endpoints and credentials (loopback only).
KAUPANG_TEST_REGISTRY="127.0.0.1:5000"
KAUPANG_TEST_AUTH_REGISTRY="127.0.0.1:5001"
KAUPANG_TEST_AUTH_USER="kaupang"
KAUPANG_TEST_AUTH_PASSWORD="kaupang-secret"
KAUPANG_TEST_BASE_IMAGE="kaupang-test/busybox:latest"
KAUPANG_TEST_PROXY_IMAGE="kaupang-test/caddy:2"

# Extra Docker hosts (hosts-up.sh): every machine-wide name (network
# namespaces, bridge, veths, cgroup parents, docker contexts, run dir) starts
# with this prefix; the addresses exist only inside those namespaces.
KAUPANG_HOSTS_PREFIX="${KAUPANG_HOSTS_PREFIX:-kmh}"
KAUPANG_HOSTS_COUNT="${KAUPANG_HOSTS_COUNT:-3}"
KAUPANG_HOSTS_NET="${KAUPANG_HOSTS_NET:-10.213.0}" # /24: .1 the lan namespace, .11, .12, ... the hosts
KAUPANG_HOSTS_RUN="${KAUPANG_HOSTS_RUN:-/run/$KAUPANG_HOSTS_PREFIX-hosts}"
KAUPANG_HOSTS_STATE="$KAUPANG_TOOLS_CACHE/hosts"

# Go toolchain and Go caches for the tool builds: kept under the tools cache
# so that removing $KAUPANG_TOOLS_CACHE gives a truly cold build.
KAUPANG_GO="${KAUPANG_GO:-/usr/local/go/bin/go}"

log() { printf '[harness] %s\n' "$*" >&2; }

KAUPANG_DIED=""
die() {
  printf '[harness] ERROR: %s\n' "$*" >&2
  KAUPANG_DIED=1
  exit 1
}

# now_s: seconds since the epoch with millisecond precision.
now_s() { date +%s.%3N; }

# elapsed START: seconds since START (from now_s), one decimal.
elapsed() { awk -v s="$1" -v e="$(now_s)" 'BEGIN { printf "%.1f", e - s }'; }

have() { command -v "$1" >/dev/null 2>&1; }

# wait_for TIMEOUT_SECONDS DESCRIPTION CMD [ARGS...]
# Polls CMD (output discarded) every 0.25 s until it succeeds; returns 1 on
# timeout without exiting, so callers can add context before dying.
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 0.25
  done
}

# close_inherited_fds: close every descriptor above 2 of this (sub)shell. Call
# it in the subshell that execs a daemon: a harness run under
# `flock /tmp/kaupang-e2e.lock ...` would otherwise hand the lock's descriptor
# to the daemon, which then holds the lock for as long as it lives.
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/"$BASHPID"/fd); do
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# pid_alive PIDFILE: true if the pidfile names a running process.
pid_alive() {
  local f="$1" pid
  [[ -s "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null
}

# stop_pidfile PIDFILE NAME [TIMEOUT]: TERM the process, wait up to TIMEOUT
# seconds (default 20), then KILL.
stop_pidfile() {
  local f="$1" name="$2" timeout="${3:-20}" pid i
  if ! pid_alive "$f"; then
    rm -f "$f"
    log "$name: not running"
    return 0
  fi
  pid="$(cat "$f")"
  log "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${timeout}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# http_code URL: prints the HTTP status of GET URL ("000" or empty if none).
http_code() {
  if have curl; then
    curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
  else
    python3 - "$1" <<'PY' 2>/dev/null || true
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=3).status, end="")
except urllib.error.HTTPError as e:
    print(e.code, end="")
except Exception:
    print("000", end="")
PY
  fi
}

# registry_answers HOSTPORT: true if GET /v2/ gives 200 (open) or 401 (auth).
registry_answers() {
  local code
  code="$(http_code "http://$1/v2/")"
  [[ "$code" == 200 || "$code" == 401 ]]
}

docker_answers() { docker info >/dev/null 2>&1; }

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }

# ensure_apt_packages PKG...: installs the ones not yet installed
# (one `apt-get update` per process, only when something is missing).
KAUPANG_APT_UPDATED=""
ensure_apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [[ -z "$KAUPANG_APT_UPDATED" ]]; then
    log "apt-get update"
    apt_get update -q >/dev/null || die "apt-get update failed"
    KAUPANG_APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  apt_get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}
