#!/usr/bin/env bash
# `kaupang bundle --with-images` of 5 images sharing a base layer vs `docker save`
# of each image separately: time and bytes on disk.
source "$(dirname "$0")/../lib.sh"
dir="$scratch/p"
mkdir -p "$dir/environments"
services=""
for i in 1 2 3 4 5; do
  printf 'FROM %s\nRUN dd if=/dev/urandom of=/www/blob bs=1k count=64 2>/dev/null; echo %s > /www/v\n' "$base" "$i" |
    DOCKER_BUILDKIT=0 docker build -q -t "$KAUPANG_TEST_REGISTRY/bench/bundle$i:1" - >/dev/null
  docker push -q "$KAUPANG_TEST_REGISTRY/bench/bundle$i:1" >/dev/null
  services="$services${services:+,} \"s$i\": { \"image\": \"$KAUPANG_TEST_REGISTRY/bench/bundle$i:1\", \"command\": [\"sleep\", \"3600\"] }"
done
echo "{ \"services\": { $services } }" > "$dir/environments/app.json"
echo '{ "project": "benchbundle", "solutions": { "five": { "version": "1.0.0", "environments": ["app"] } } }' > "$dir/kaupang.config.json"
refs=$(for i in 1 2 3 4 5; do printf '%s ' "$KAUPANG_TEST_REGISTRY/bench/bundle$i:1"; done)
hyperfine --warmup 1 --runs 8 --export-markdown "$results/bundle.md" \
  --prepare "rm -rf $scratch/out $scratch/separate; mkdir -p $scratch/separate" \
  -n "kaupang bundle --with-images" "$kaupang bundle five --with-images -o $scratch/out -q --cwd $dir" \
  -n "docker save, one archive per image" "for r in $refs; do docker save -o $scratch/separate/\$(echo \$r | tr '/:' '__').tar \$r; done"
rm -rf "$scratch/out" "$scratch/separate"; mkdir -p "$scratch/separate"
$kaupang bundle five --with-images -o "$scratch/out" -q --cwd "$dir" >/dev/null 2>&1
for r in $refs; do docker save -o "$scratch/separate/$(echo "$r" | tr '/:' '__').tar" "$r"; done
{
  echo "bundle directory bytes: $(du -sb "$scratch/out" | cut -f1)"
  echo "images.tar bytes:       $(stat -c %s "$scratch/out/images.tar")"
  echo "separate saves bytes:   $(du -sb "$scratch/separate" | cut -f1)"
} | tee "$results/bundle-bytes.txt"
