#!/usr/bin/env bash
# What signing adds to making a bundle, end to end: `kaupang bundle` against
# `kaupang bundle --sign key` on a small solution (one environment, one image
# pinned in the registry), through hyperfine. `bundle` resolves the image
# against the registry, so the runs hold the e2e lock. Prints the load
# average before and after, to set next to the numbers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
lock=/tmp/kaupang-e2e.lock
kaupang="node $root/packages/cli/bin/kaupang.mjs"
results="$root/bench/results"
mkdir -p "$results"
scratch=$(mktemp -d /tmp/kaupang-bench-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
small="$scratch/small"
mkdir -p "$small/environments"

runs="${RUNS:-30}"
flock "$lock" bash -euo pipefail -c '
  bash "$1/test/e2e/harness/docker-up.sh" >/dev/null
  source "$2/harness.env"
  echo "{ \"services\": { \"web\": { \"image\": \"$KAUPANG_TEST_BASE_IMAGE_PUSHED\" } } }" > "$3/environments/app.json"
  echo "{ \"project\": \"benchsign\", \"solutions\": { \"one\": { \"version\": \"1.0.0\", \"environments\": [\"app\"] } } }" > "$3/kaupang.config.json"
  $4 keygen "$3/keys/site" >/dev/null
  echo "load before: $(cut -d" " -f1-3 /proc/loadavg)"
  hyperfine --warmup 3 --runs "$5" --export-markdown "$6/bundle-sign.md" --export-json "$6/bundle-sign.json" \
    -n "bundle" "$4 bundle one -o $7/s1 -q --cwd $3" \
    -n "bundle --sign" "$4 bundle one --sign $3/keys/site.key -o $7/s2 -q --cwd $3"
  echo "load after: $(cut -d" " -f1-3 /proc/loadavg)"
' _ "$root" "$cache" "$small" "$kaupang" "$runs" "$results" "$scratch"

# Mean wall, user and system time per command, and the difference signing makes.
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).results;
  const ms = (s) => (s * 1000).toFixed(0);
  for (const c of r)
    console.log(`${c.command}: wall ${ms(c.mean)} ± ${ms(c.stddev)} ms (median ${ms(c.median)}), user ${ms(c.user)} ms, sys ${ms(c.system)} ms`);
  const [plain, signed] = r;
  console.log(`--sign adds: wall ${ms(signed.mean - plain.mean)} ms (medians ${ms(signed.median - plain.median)} ms), CPU ${ms(signed.user + signed.system - plain.user - plain.system)} ms`);
' "$results/bundle-sign.json"
