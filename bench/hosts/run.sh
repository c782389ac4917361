#!/usr/bin/env bash
# Deploy times over ssh (test/e2e/harness/hosts-up.sh: engines in network
# namespaces, sshd in each): one small environment (an HTTP service with a
# healthcheck) on the local engine, on one remote host (a docker context over
# ssh), and on a target with 1, 2 and 3 hosts (deployed one after the other);
# fresh (after a down) and with nothing changed.
source "$(dirname "$0")/../lib.sh"
bash "$root/test/e2e/harness/hosts-up.sh" >/dev/null
# shellcheck disable=SC1091
source "$cache/hosts.env"
read -r -a addrs <<<"$KAUPANG_TEST_HOSTS"
read -r -a contexts <<<"$KAUPANG_TEST_HOST_CONTEXTS"
url() { echo "ssh://$KAUPANG_TEST_HOST_USER@${addrs[$1]}"; }
dir="$scratch/hosts"
mkdir -p "$dir/environments"
cat > "$dir/kaupang.config.json" <<JSON
{ "project": "benchhosts", "environments": "./environments", "targets": {
  "local": {},
  "ctx": { "dockerContext": "${contexts[1]}" },
  "one": { "hosts": ["$(url 1)"] },
  "two": { "hosts": ["$(url 1)", "$(url 2)"] },
  "three": { "hosts": ["$(url 0)", "$(url 1)", "$(url 2)"] } } }
JSON
cat > "$dir/environments/app.json" <<JSON
{ "services": { "web": {
  "image": "$base", "command": ["httpd", "-f", "-p", "8080", "-h", "/www"], "ports": ["18095:8080"],
  "healthcheck": { "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], "interval": "250ms", "retries": 40 },
  "compose": { "init": true } } } }
JSON
cmds=()
for t in local ctx one two three; do
  cmds+=(-n "up, fresh: $t" --prepare "$kaupang down app -q --target $t --cwd $dir >/dev/null 2>&1 || true" "$kaupang up app -q --target $t --cwd $dir")
done
hyperfine --runs 5 --export-markdown "$results/hosts.md" --export-json "$results/hosts.json" "${cmds[@]}"
hyperfine --warmup 1 --runs 5 --export-markdown "$results/hosts-no-change.md" --export-json "$results/hosts-no-change.json" \
  -n "up, no change: local" "$kaupang up app -q --target local --cwd $dir" \
  -n "up, no change: ctx" "$kaupang up app -q --target ctx --cwd $dir" \
  -n "up, no change: two" "$kaupang up app -q --target two --cwd $dir" \
  -n "up, no change: three" "$kaupang up app -q --target three --cwd $dir"
node "$root/bench/medians.mjs" "$results/hosts.json" "$results/hosts-no-change.json"
for t in local ctx three; do $kaupang down app -q --target $t --cwd "$dir" >/dev/null 2>&1 || true; done
