#!/usr/bin/env bash
# `kaupang bundle --with-images` of 5 images sharing a base layer vs `docker save`
# of each image separately: time and bytes on disk. Two cases: the 2 MB test
# base as is (fixed costs dominate), and a base with a 48 MB layer, the size
# of a slim distribution image (what real images share).
source "$(dirname "$0")/../lib.sh"

# case NAME BASE_IMAGE
bundle_case() {
  local name=$1 from=$2
  local dir="$scratch/$name"
  mkdir -p "$dir/environments"
  local services="" refs=""
  for i in 1 2 3 4 5; do
    local ref="$KAUPANG_TEST_REGISTRY/bench/bundle-$name$i:1"
    printf 'FROM %s\nRUN dd if=/dev/urandom of=/www/blob bs=1k count=64 2>/dev/null; echo %s > /www/v\n' "$from" "$i" |
      DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
    docker push -q "$ref" >/dev/null
    services="$services${services:+,} \"s$i\": { \"image\": \"$ref\", \"command\": [\"sleep\", \"3600\"] }"
    refs="$refs $ref"
  done
  echo "{ \"services\": { $services } }" > "$dir/environments/app.json"
  echo '{ "project": "benchbundle", "solutions": { "five": { "version": "1.0.0", "environments": ["app"] } } }' > "$dir/kaupang.config.json"
  hyperfine --warmup 1 --runs 8 --export-markdown "$results/bundle-$name.md" \
    --prepare "rm -rf $scratch/out $scratch/separate; mkdir -p $scratch/separate" \
    -n "$name: kaupang bundle --with-images" "$kaupang bundle five --with-images -o $scratch/out -q --cwd $dir" \
    -n "$name: docker save, one archive per image" "for r in $refs; do docker save -o $scratch/separate/\$(echo \$r | tr '/:' '__').tar \$r; done"
  rm -rf "$scratch/out" "$scratch/separate"
  mkdir -p "$scratch/separate"
  $kaupang bundle five --with-images -o "$scratch/out" -q --cwd "$dir" >/dev/null 2>&1
  for r in $refs; do docker save -o "$scratch/separate/$(echo "$r" | tr '/:' '__').tar" "$r"; done
  {
    echo "$name: bundle directory bytes: $(du -sb "$scratch/out" | cut -f1)"
    echo "$name: images.tar bytes:       $(stat -c %s "$scratch/out/images.tar")"
    echo "$name: separate saves bytes:   $(du -sb "$scratch/separate" | cut -f1)"
  } | tee "$results/bundle-$name-bytes.txt"
}

bundle_case small "$base"
printf 'FROM %s\nRUN dd if=/dev/urandom of=/base-layer bs=1M count=48 2>/dev/null\n' "$base" |
  DOCKER_BUILDKIT=0 docker build -q -t kaupang-bench/base48:1 - >/dev/null
bundle_case slim kaupang-bench/base48:1
