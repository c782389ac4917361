#!/usr/bin/env bash
# Two independent 2-second run: steps and one dependent step: parallel waves vs one at a time.
source "$(dirname "$0")/../lib.sh"
dir="$scratch/p"
mkdir -p "$dir/environments"
cat > "$dir/kaupang.config.json" <<'JSON'
{ "project": "benchpipe", "pipelines": { "par": { "steps": {
  "a": { "run": "sleep 2" }, "b": { "run": "sleep 2" }, "c": { "run": "true", "needs": ["a", "b"] } } } } }
JSON
hyperfine --warmup 1 --runs 5 --export-markdown "$results/pipeline.md" \
  -n "kaupang run (parallel waves)" "$kaupang run par -q --cwd $dir" \
  -n "kaupang run --concurrency 1" "$kaupang run par -q --concurrency 1 --cwd $dir"
