#!/usr/bin/env bash
# Resolving 20 image references to digests: concurrently vs one after another
# (against the local registry, and the same registry 20 ms away); then
# `rollback --list` and one append with a 10,000-record ledger.
source "$(dirname "$0")/../lib.sh"
for i in $(seq 1 20); do
  docker tag "$base" "$KAUPANG_TEST_REGISTRY/bench/resolve:t$i"
  docker push -q "$KAUPANG_TEST_REGISTRY/bench/resolve:t$i" >/dev/null
done
# The resolve step itself, timed in process (Node's start-up is not resolution):
# against the local registry as is, then through a proxy that adds 10 ms each
# way, the round trip of a registry in a nearby region.
node "$root/bench/resolve/latency-proxy.mjs" 5010 "${KAUPANG_TEST_REGISTRY##*:}" 10 &
proxy=$!
trap 'kill $proxy 2>/dev/null; rm -rf "$scratch"' EXIT
sleep 0.5
{
  echo "| registry | images | one at a time (median) | 16 at a time (median) | speed-up |"
  echo "| --- | --- | --- | --- | --- |"
  node "$root/bench/resolve/resolve.mjs" "$KAUPANG_TEST_REGISTRY" 20 15
  node "$root/bench/resolve/resolve.mjs" "127.0.0.1:5010" 20 15
} | tee "$results/resolve.md"

dir="$scratch/ledger"
mkdir -p "$dir/environments"
echo '{ "project": "benchledger" }' > "$dir/kaupang.config.json"
echo '{ "services": { "web": "x" } }' > "$dir/environments/app.json"
node "$root/bench/resolve/fill-ledger.mjs" "$dir/.kaupang" 10 > "$results/append.txt"
node "$root/bench/resolve/fill-ledger.mjs" "$dir/.kaupang" 10000 >> "$results/append.txt"
cat "$results/append.txt"
hyperfine --warmup 2 --runs 15 --export-markdown "$results/ledger-list.md" \
  -n "rollback --list (10,000 records)" "$kaupang rollback app --list --cwd $dir"
