#!/usr/bin/env bash
# Verifying a bundle of ≥ 500 MB (`up --bundle --dry-run`: every file checked,
# hashed and the image archive's index read) against `sha256sum` over the same
# files; and what signing (`bundle --sign`) and verifying (`--verify`) add.
# Run under the e2e lock: it builds, pushes and saves an image.
source "$(dirname "$0")/../lib.sh"

dir="$scratch/project"
site="$scratch/site"
mkdir -p "$dir/environments" "$site"
ref="$KAUPANG_TEST_REGISTRY/bench/bundle-verify:1"
printf 'FROM %s\nRUN dd if=/dev/urandom of=/blob bs=1M count=512 2>/dev/null\n' "$base" |
  DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
docker push -q "$ref" >/dev/null
echo "{ \"services\": { \"big\": { \"image\": \"$ref\", \"command\": [\"sleep\", \"3600\"] } } }" > "$dir/environments/app.json"
echo '{ "project": "benchverify", "solutions": { "big": { "version": "1.0.0", "environments": ["app"] } } }' > "$dir/kaupang.config.json"
$kaupang keygen "$dir/keys/site" >/dev/null
$kaupang bundle big --with-images --sign keys/site.key -o "$scratch/big.bundle" -q --cwd "$dir" >/dev/null
bundle="$scratch/big.bundle"
files=$(cd "$bundle" && find . -type f -not -name bundle.sig | sort | sed "s|^\.|$bundle|" | tr '\n' ' ')
echo "bundle bytes: $(du -sb "$bundle" | cut -f1) (images.tar $(stat -c %s "$bundle/images.tar"))" | tee "$results/bundle-verify-bytes.txt"

# The archive is read once first, so both sides hash from the page cache.
hyperfine --warmup 1 --runs 8 --export-markdown "$results/bundle-verify.md" \
  -n "sha256sum over the bundle's files" "sha256sum $files" \
  -n "kaupang up --bundle --dry-run" "$kaupang up --bundle $bundle --dry-run --cwd $site" \
  -n "kaupang up --bundle --dry-run --verify" "$kaupang up --bundle $bundle --dry-run --verify $dir/keys/site.pub --cwd $site"

# Signing and verifying on a small bundle, where they are a visible share.
small="$scratch/small"
mkdir -p "$small/environments"
write_env "$small" app web
echo '{ "project": "benchsign", "solutions": { "one": { "version": "1.0.0", "environments": ["app"] } } }' > "$small/kaupang.config.json"
$kaupang bundle one --sign "$dir/keys/site.key" -o "$scratch/small.bundle" -q --cwd "$small" >/dev/null
hyperfine --warmup 3 --runs 30 --export-markdown "$results/bundle-sign.md" \
  -n "up --bundle --dry-run" "$kaupang up --bundle $scratch/small.bundle --dry-run --cwd $site" \
  -n "up --bundle --dry-run --verify" "$kaupang up --bundle $scratch/small.bundle --dry-run --verify $dir/keys/site.pub --cwd $site" \
  -n "bundle" "$kaupang bundle one -o $scratch/s1 -q --cwd $small" \
  -n "bundle --sign" "$kaupang bundle one --sign $dir/keys/site.key -o $scratch/s2 -q --cwd $small"
docker image rm "$ref" >/dev/null 2>&1 || true
