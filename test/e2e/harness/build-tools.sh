#!/usr/bin/env bash
# Builds the Go tools the e2e-docker tier needs from their published Go
# modules, with this machine's Go toolchain, into $KAUPANG_TOOLS_BIN.
#
#   build-tools.sh [compose|oras|actionlint|all]...     (default: all)
#
# Each tool is skipped when its stamp file already names the pinned version.
# Override the pins with KAUPANG_COMPOSE_VERSION / KAUPANG_ORAS_VERSION /
# KAUPANG_ACTIONLINT_VERSION.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "usage: $0 [compose|oras|actionlint|all]..." >&2; exit 2; }

want_compose="" want_oras="" want_actionlint=""
(($#)) || set -- all
for a in "$@"; do
  case "$a" in
    compose) want_compose=1 ;;
    oras) want_oras=1 ;;
    actionlint) want_actionlint=1 ;;
    all) want_compose=1 want_oras=1 want_actionlint=1 ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done

[[ -x "$KAUPANG_GO" ]] || KAUPANG_GO="$(command -v go || true)"
[[ -n "$KAUPANG_GO" && -x "$KAUPANG_GO" ]] || die "no Go toolchain (looked for /usr/local/go/bin/go and go on PATH)"

mkdir -p "$KAUPANG_TOOLS_BIN" "$KAUPANG_TOOLS_CACHE/src"

# Go caches for these builds live under the tools cache; -modcacherw lets a
# plain `rm -rf` clean them; GOTOOLCHAIN=local forbids toolchain downloads.
export GOPATH="$KAUPANG_TOOLS_CACHE/go"
export GOMODCACHE="$KAUPANG_TOOLS_CACHE/go/pkg/mod"
export GOCACHE="$KAUPANG_TOOLS_CACHE/go/build-cache"
export GOFLAGS="-modcacherw -buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0

# Serialise concurrent runs (two harness scripts started at once).
exec 9>"$KAUPANG_TOOLS_CACHE/build-tools.lock"
flock 9

go_version="$("$KAUPANG_GO" env GOVERSION)"

stamp_ok() { # STAMPFILE BINARY EXPECTED
  [[ -x "$2" && -f "$1" && "$(cat "$1")" == "$3" ]]
}

# module_source NAME MODULE VERSION -> prints a writable copy of the module source.
module_source() {
  local name="$1" mod="$2" ver="$3" dir dest
  dest="$KAUPANG_TOOLS_CACHE/src/$name@$ver"
  if [[ ! -f "$dest/.complete" ]]; then
    log "go mod download $mod@$ver"
    local json
    json="$(cd "$KAUPANG_TOOLS_CACHE" && "$KAUPANG_GO" mod download -json "$mod@$ver" 2>&1)" ||
      die "go mod download $mod@$ver failed: $(printf '%s' "$json" | grep -m1 '"Error"' || printf '%s' "$json" | tail -n1)"
    dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || die "go mod download $mod@$ver gave no source directory"
    if grep -qE '^[[:space:]]*replace[[:space:](]' "$dir/go.mod" &&
      grep -E '=>[[:space:]]*\.\.?/' "$dir/go.mod" >/dev/null; then
      die "$mod@$ver has replace directives to local paths; a copy of the module alone cannot build"
    fi
    rm -rf "$dest.tmp" "$dest"
    cp -a "$dir" "$dest.tmp"
    chmod -R u+w "$dest.tmp"
    mv "$dest.tmp" "$dest"
    touch "$dest/.complete"
  fi
  printf '%s\n' "$dest"
}

build_compose() {
  local ver="$KAUPANG_COMPOSE_VERSION" bin="$KAUPANG_TOOLS_BIN/docker-compose"
  local stamp="$KAUPANG_TOOLS_BIN/.docker-compose.stamp" want t0 src
  want="$ver $go_version"
  if stamp_ok "$stamp" "$bin" "$want"; then
    log "compose $ver: already built ($bin)"
  else
    t0="$(now_s)"
    log "compose $ver: building with $go_version (several minutes on 2 cores)"
    src="$(module_source compose github.com/docker/compose/v2 "$ver")"
    (cd "$src" && "$KAUPANG_GO" build -trimpath \
      -ldflags "-w -s -X github.com/docker/compose/v2/internal.Version=$ver" \
      -o "$bin.tmp" ./cmd) || die "compose $ver: go build failed"
    mv -f "$bin.tmp" "$bin"
    printf '%s\n' "$want" >"$stamp"
    log "compose $ver: built in $(elapsed "$t0")s"
  fi
  # The docker CLI looks for plugins in $DOCKER_CONFIG/cli-plugins.
  local plugdir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  mkdir -p "$plugdir"
  if [[ "$(readlink "$plugdir/docker-compose" 2>/dev/null || true)" != "$bin" ]]; then
    ln -sfn "$bin" "$plugdir/docker-compose"
    log "compose: linked $plugdir/docker-compose -> $bin"
  fi
}

build_oras() {
  local ver="$KAUPANG_ORAS_VERSION" bin="$KAUPANG_TOOLS_BIN/oras"
  local stamp="$KAUPANG_TOOLS_BIN/.oras.stamp" want t0 src
  want="$ver $go_version"
  if stamp_ok "$stamp" "$bin" "$want"; then
    log "oras $ver: already built ($bin)"
    return 0
  fi
  t0="$(now_s)"
  log "oras $ver: building with $go_version"
  src="$(module_source oras oras.land/oras "$ver")"
  # Empty BuildMetadata makes `oras version` print the plain release number.
  (cd "$src" && "$KAUPANG_GO" build -trimpath \
    -ldflags "-w -s -X oras.land/oras/internal/version.BuildMetadata=" \
    -o "$bin.tmp" ./cmd/oras) || die "oras $ver: go build failed"
  mv -f "$bin.tmp" "$bin"
  printf '%s\n' "$want" >"$stamp"
  log "oras $ver: built in $(elapsed "$t0")s"
}

# actionlint lints the GitHub Actions workflows of docs/ci/ (a unit-tier test).
# It runs shellcheck (Debian's) on every `run:` script when shellcheck is on PATH.
build_actionlint() {
  ensure_apt_packages shellcheck
  local ver="$KAUPANG_ACTIONLINT_VERSION" bin="$KAUPANG_TOOLS_BIN/actionlint"
  local stamp="$KAUPANG_TOOLS_BIN/.actionlint.stamp" want t0 src
  want="$ver $go_version"
  if stamp_ok "$stamp" "$bin" "$want"; then
    log "actionlint $ver: already built ($bin)"
    return 0
  fi
  t0="$(now_s)"
  log "actionlint $ver: building with $go_version"
  src="$(module_source actionlint github.com/rhysd/actionlint "$ver")"
  # The version variable its Makefile sets, so `actionlint -version` names the release.
  (cd "$src" && "$KAUPANG_GO" build -trimpath \
    -ldflags "-w -s -X github.com/rhysd/actionlint.version=$ver" \
    -o "$bin.tmp" ./cmd/actionlint) || die "actionlint $ver: go build failed"
  mv -f "$bin.tmp" "$bin"
  printf '%s\n' "$want" >"$stamp"
  log "actionlint $ver: built in $(elapsed "$t0")s"
}

[[ -z "$want_compose" ]] || build_compose
[[ -z "$want_oras" ]] || build_oras
[[ -z "$want_actionlint" ]] || build_actionlint
