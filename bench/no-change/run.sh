#!/usr/bin/env bash
# A no-change `kaupang up` (5 services) vs `docker compose up -d --wait` on the
# same unchanged files, and vs a `docker stack deploy` with no changes.
source "$(dirname "$0")/../lib.sh"
# Two projects: compose's bridge network and swarm's overlay cannot share a name on one engine.
co="$scratch/co"
sw="$scratch/sw"
mkdir -p "$co" "$sw"
echo '{ "project": "benchnc" }' > "$co/kaupang.config.json"
echo '{ "project": "benchncs", "defaultBackend": "swarm", "targets": { "local": { "swarm": { "portMode": "host", "endpointMode": "dnsrr" } } } }' > "$sw/kaupang.config.json"
write_env "$co" app s1 s2 s3 s4 s5
write_env "$sw" app s1 s2 s3 s4 s5
$kaupang up app -q --cwd "$co" >/dev/null
$kaupang up app -q --cwd "$sw" >/dev/null
compose="docker compose -p benchnc-app --project-directory $co -f $co/.kaupang/local/app.compose.yaml"
stack="docker stack deploy --with-registry-auth --resolve-image changed -c $sw/.kaupang/local/app.stack.yaml benchncs-app"
hyperfine --warmup 1 --runs 10 --export-markdown "$results/no-change.md" --export-json "$results/no-change.json" \
  -n "kaupang up, compose (no change)" "$kaupang up app -q --cwd $co" \
  -n "docker compose up -d --wait (no change)" "$compose up -d --wait" \
  -n "kaupang up, swarm (no change)" "$kaupang up app -q --cwd $sw" \
  -n "docker stack deploy (no change)" "$stack"
# The same stack deploy waiting until the services are verified stable, as a
# deploy tool must (kaupang waits for convergence on every real deploy):
hyperfine --runs 3 --export-markdown "$results/no-change-stack-wait.md" --export-json "$results/no-change-stack-wait.json" \
  -n "docker stack deploy --detach=false (no change)" "${stack/stack deploy/stack deploy --detach=false}"
node "$root/bench/medians.mjs" "$results/no-change.json" "$results/no-change-stack-wait.json"
$kaupang down app -q --cwd "$co" >/dev/null 2>&1 || true
$kaupang down app -q --cwd "$sw" >/dev/null 2>&1 || true
