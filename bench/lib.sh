# Shared by the benchmark scripts: the engine harness, the built CLI, a scratch dir.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
bash "$root/test/e2e/harness/docker-up.sh" >/dev/null
# shellcheck disable=SC1091
source "$cache/harness.env"
kaupang="node $root/packages/cli/bin/kaupang.mjs"
results="$root/bench/results"
mkdir -p "$results"
scratch=$(mktemp -d /tmp/kaupang-bench-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
base="$KAUPANG_TEST_BASE_IMAGE_PUSHED"

# write_env DIR NAME SERVICES… — an environment of sleeping busybox services (init: stops are instant)
write_env() {
  local dir=$1 env=$2
  shift 2
  mkdir -p "$dir/environments"
  {
    printf '{ "services": {'
    local first=1
    for s in "$@"; do
      [ $first -eq 1 ] || printf ','
      first=0
      printf ' "%s": { "image": "%s", "command": ["sleep", "3600"], "compose": { "init": true } }' "$s" "$base"
    done
    printf ' } }\n'
  } > "$dir/environments/$env.json"
}
