#!/usr/bin/env bash
# Resolving 20 image references to digests: concurrently vs one after another
# (against the local registry); then `rollback --list` and one append with a
# 10,000-record ledger.
source "$(dirname "$0")/../lib.sh"
for i in $(seq 1 20); do
  docker tag "$base" "$KAUPANG_TEST_REGISTRY/bench/resolve:t$i"
  docker push -q "$KAUPANG_TEST_REGISTRY/bench/resolve:t$i" >/dev/null
done
node "$root/bench/resolve/resolve.mjs" 20 16 >/dev/null # warm
hyperfine --warmup 2 --runs 15 --show-output --export-markdown "$results/resolve.md" \
  -n "sequential (1 at a time)" "node $root/bench/resolve/resolve.mjs 20 1" \
  -n "concurrent (16 at a time)" "node $root/bench/resolve/resolve.mjs 20 16"

dir="$scratch/ledger"
mkdir -p "$dir/environments"
echo '{ "project": "benchledger" }' > "$dir/kaupang.config.json"
echo '{ "services": { "web": "x" } }' > "$dir/environments/app.json"
node "$root/bench/resolve/fill-ledger.mjs" "$dir/.kaupang" 10 > "$results/append.txt"
node "$root/bench/resolve/fill-ledger.mjs" "$dir/.kaupang" 10000 >> "$results/append.txt"
cat "$results/append.txt"
hyperfine --warmup 2 --runs 15 --export-markdown "$results/ledger-list.md" \
  -n "rollback --list (10,000 records)" "$kaupang rollback app --list --cwd $dir"
