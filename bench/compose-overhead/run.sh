#!/usr/bin/env bash
# kaupang up / down vs raw `docker compose … up -d --wait` / `down` on the same artifact (3 services).
source "$(dirname "$0")/../lib.sh"
dir="$scratch/p"
mkdir -p "$dir"
echo '{ "project": "benchco" }' > "$dir/kaupang.config.json"
write_env "$dir" app web worker cache
$kaupang up app --cwd "$dir" -q >/dev/null 2>&1
artifact="$dir/.kaupang/local/app.compose.yaml"
raw="docker compose -p benchco-app --project-directory $dir -f $artifact"
$raw down >/dev/null 2>&1
# Each command gets its own --prepare, in order: ups start from nothing, downs from a running stack
# (kaupang down also removes the project network once unused, so the prepare re-creates it;
# "raw compose down + network rm" is that same work done by hand).
hyperfine --warmup 1 --runs 15 --export-markdown "$results/compose-overhead.md" --export-json "$results/compose-overhead.json" \
  --prepare "$raw down >/dev/null 2>&1" \
  --prepare "$raw down >/dev/null 2>&1" \
  --prepare "docker network create benchco >/dev/null 2>&1; $raw up -d --wait >/dev/null 2>&1" \
  --prepare "docker network create benchco >/dev/null 2>&1; $raw up -d --wait >/dev/null 2>&1" \
  --prepare "docker network create benchco >/dev/null 2>&1; $raw up -d --wait >/dev/null 2>&1" \
  -n "raw compose up" "$raw up -d --wait --remove-orphans --pull missing" \
  -n "kaupang up --force" "$kaupang up app --force -q --cwd $dir" \
  -n "raw compose down" "$raw down --remove-orphans" \
  -n "raw compose down + network rm" "$raw down --remove-orphans && docker network rm benchco" \
  -n "kaupang down" "$kaupang down app -q --cwd $dir"
$raw down >/dev/null 2>&1 || true
node "$root/bench/medians.mjs" "$results/compose-overhead.json"
