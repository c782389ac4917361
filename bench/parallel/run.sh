#!/usr/bin/env bash
# Eight independent environments, each ~2 s from start to healthy (its
# healthcheck passes once the service has slept 2 s): `up` of all eight with
# parallel waves (the default) vs `--concurrency 1` (one after the other, as
# before), vs one of them alone (the slowest single environment). The
# healthcheck runs every $INTERVAL (default 500ms); each check is an exec in
# the container, which the engine pays for (see docs/benchmarks.md).
#
# The same eight services as plain compose files, brought up by `docker compose
# up -d --wait` one alone and eight at once, give the engine's own floor: what
# eight parallel starts cost on this machine without kaupang.
#
#   INTERVAL=500ms RUNS=5 bench/parallel/run.sh      (needs `npm run build` first)
source "$(dirname "$0")/../lib.sh"
interval="${INTERVAL:-500ms}"
runs="${RUNS:-5}"
dir="$scratch/par"
mkdir -p "$dir/environments"
envs=()
for i in 1 2 3 4 5 6 7 8; do
  envs+=("\"e$i\"")
  cat > "$dir/environments/e$i.json" <<JSON
{ "services": { "s$i": {
  "image": "$base",
  "command": ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"],
  "healthcheck": { "test": ["CMD", "test", "-f", "/tmp/ready"], "interval": "$interval", "retries": 50 },
  "compose": { "init": true } } } }
JSON
done
cat > "$dir/kaupang.config.json" <<JSON
{ "project": "benchpar", "environments": "./environments",
  "solutions": { "all": { "version": "1.0.0", "environments": [$(IFS=,; echo "${envs[*]}")] } } }
JSON
down_all="for i in 1 2 3 4 5 6 7 8; do $kaupang down e\$i -q --cwd $dir >/dev/null 2>&1; done"
echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), healthcheck every $interval, $runs runs each" >&2
hyperfine --runs "$runs" --export-markdown "$results/parallel-$interval.md" --export-json "$results/parallel-$interval.json" \
  --prepare "$down_all" \
  -n "one environment alone (up e1)" "$kaupang up e1 -q --cwd $dir" \
  -n "8 environments, parallel waves (default)" "$kaupang up --solution all -q --cwd $dir" \
  -n "8 environments, --concurrency 1" "$kaupang up --solution all -q --concurrency 1 --cwd $dir"
node "$root/bench/medians.mjs" "$results/parallel-$interval.json"
bash -c "$down_all"

raw="$scratch/raw"
mkdir -p "$raw"
for i in 1 2 3 4 5 6 7 8; do
  cat > "$raw/c$i.yaml" <<YAML
services:
  s$i:
    image: $base
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 3600"]
    init: true
    healthcheck: { test: ["CMD", "test", "-f", "/tmp/ready"], interval: $interval, retries: 50 }
YAML
done
raw_up() { echo "docker compose -p benchraw$1 -f $raw/c$1.yaml up -d --wait --pull missing >/dev/null 2>&1"; }
raw_down="for i in 1 2 3 4 5 6 7 8; do docker compose -p benchraw\$i -f $raw/c\$i.yaml down -t 0 >/dev/null 2>&1; done"
hyperfine --runs "$runs" --export-json "$results/parallel-raw-$interval.json" --prepare "$raw_down" \
  -n "raw compose, one alone" "$(raw_up 1)" \
  -n "raw compose, 8 at once" "$(for i in 1 2 3 4 5 6 7 8; do printf '%s & ' "$(raw_up "$i")"; done) wait"
node "$root/bench/medians.mjs" "$results/parallel-raw-$interval.json"
bash -c "$raw_down"
