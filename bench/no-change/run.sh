#!/usr/bin/env bash
# A no-change `kaupang up` (5 services) vs `docker compose up -d --wait` on the
# same unchanged files, and vs a `docker stack deploy` with no changes.
source "$(dirname "$0")/../lib.sh"
dir="$scratch/p"
mkdir -p "$dir"
echo '{ "project": "benchnc", "targets": { "sw": { "backend": "swarm", "swarm": { "portMode": "host", "endpointMode": "dnsrr" } } } }' > "$dir/kaupang.config.json"
write_env "$dir" app s1 s2 s3 s4 s5
$kaupang up app -q --cwd "$dir" >/dev/null 2>&1
$kaupang up app -q --target sw --cwd "$dir" >/dev/null 2>&1
compose="docker compose -p benchnc-app --project-directory $dir -f $dir/.kaupang/local/app.compose.yaml"
stack="docker stack deploy --with-registry-auth --resolve-image changed -c $dir/.kaupang/sw/app.stack.yaml benchnc-app"
hyperfine --warmup 1 --runs 10 --export-markdown "$results/no-change.md" \
  -n "kaupang up (no change)" "$kaupang up app -q --cwd $dir" \
  -n "docker compose up -d --wait (no change)" "$compose up -d --wait" \
  -n "docker stack deploy (no change)" "$stack"
$kaupang down app -q --cwd "$dir" >/dev/null 2>&1 || true
$kaupang down app -q --target sw --cwd "$dir" >/dev/null 2>&1 || true
