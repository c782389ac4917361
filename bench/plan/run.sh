#!/usr/bin/env bash
# Whole-process time of a dry-run over 100 environments × 10 services.
# Usage: bench/plan/run.sh [hyperfine args…]   (results: bench/results/plan.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
node bench/plan/generate.mjs 100 10
mkdir -p bench/results
cli="node packages/cli/bin/kaupang.mjs"
fixture=bench/generated/plan
for target in local staging prod; do
  $cli up env-099 --dry-run --output json --target "$target" --cwd "$fixture" > /dev/null
done
hyperfine --warmup 3 --runs 20 --export-markdown bench/results/plan.md --export-json bench/results/plan.json "$@" \
  -n compose "$cli up env-099 --dry-run --output json --cwd $fixture" \
  -n swarm "$cli up env-099 --dry-run --output json --target staging --cwd $fixture" \
  -n kubernetes "$cli up env-099 --dry-run --output json --target prod --cwd $fixture"
node bench/medians.mjs bench/results/plan.json
