#!/usr/bin/env bash
# Verifying a bundle of ≥ 500 MB (`up --bundle --dry-run`: every file checked,
# hashed, the image archive's index read) against `sha256sum` over the same
# files; and what signing (`bundle --sign`) and verifying (`--verify`) add.
#
# Only the steps that use the engine and registry hold the e2e lock (building,
# pushing and saving the image; `bundle` runs); verification touches neither.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
lock=/tmp/kaupang-e2e.lock
kaupang="node $root/packages/cli/bin/kaupang.mjs"
results="$root/bench/results"
mkdir -p "$results"
scratch=$(mktemp -d /tmp/kaupang-bench-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
dir="$scratch/project"
small="$scratch/small"
site="$scratch/site"
mkdir -p "$dir/environments" "$small/environments" "$site"

flock "$lock" bash -euo pipefail -c '
  bash "$1/test/e2e/harness/docker-up.sh" >/dev/null
  source "$2/harness.env"
  ref="$KAUPANG_TEST_REGISTRY/bench/bundle-verify:1"
  printf "FROM %s\nRUN dd if=/dev/urandom of=/blob bs=1M count=512 2>/dev/null\n" "$KAUPANG_TEST_BASE_IMAGE_PUSHED" |
    DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
  docker push -q "$ref" >/dev/null
  echo "{ \"services\": { \"big\": { \"image\": \"$ref\", \"command\": [\"sleep\", \"3600\"] } } }" > "$3/environments/app.json"
  echo "{ \"project\": \"benchverify\", \"solutions\": { \"big\": { \"version\": \"1.0.0\", \"environments\": [\"app\"] } } }" > "$3/kaupang.config.json"
  echo "{ \"services\": { \"web\": { \"image\": \"$KAUPANG_TEST_BASE_IMAGE_PUSHED\" } } }" > "$4/environments/app.json"
  echo "{ \"project\": \"benchsign\", \"solutions\": { \"one\": { \"version\": \"1.0.0\", \"environments\": [\"app\"] } } }" > "$4/kaupang.config.json"
  $5 keygen "$3/keys/site" >/dev/null
  $5 bundle big --with-images --sign keys/site.key -o "$6/big.bundle" -q --cwd "$3" >/dev/null
  $5 bundle one --sign "$3/keys/site.key" -o "$6/small.bundle" -q --cwd "$4" >/dev/null
  docker image rm "$ref" >/dev/null
' _ "$root" "$cache" "$dir" "$small" "$kaupang" "$scratch"

bundle="$scratch/big.bundle"
files=$(cd "$bundle" && find . -type f -not -name bundle.sig | sort | sed "s|^\.|$bundle|" | tr '\n' ' ')
echo "bundle bytes: $(du -sb "$bundle" | cut -f1) (images.tar $(stat -c %s "$bundle/images.tar"))" | tee "$results/bundle-verify-bytes.txt"

# Warm-up runs read the archive into the page cache, so both sides hash from memory.
hyperfine --warmup 2 --runs 10 --export-markdown "$results/bundle-verify.md" \
  -n "sha256sum over the bundle's files" "sha256sum $files" \
  -n "kaupang up --bundle --dry-run" "$kaupang up --bundle $bundle --dry-run --cwd $site" \
  -n "kaupang up --bundle --dry-run --verify" "$kaupang up --bundle $bundle --dry-run --verify $dir/keys/site.pub --cwd $site"

# What verifying adds, on a small bundle where it would show.
hyperfine --warmup 3 --runs 40 --export-markdown "$results/bundle-verify-small.md" \
  -n "up --bundle --dry-run" "$kaupang up --bundle $scratch/small.bundle --dry-run --cwd $site" \
  -n "up --bundle --dry-run --verify" "$kaupang up --bundle $scratch/small.bundle --dry-run --verify $dir/keys/site.pub --cwd $site"

# What signing adds to `bundle` (it resolves against the registry: under the lock).
flock "$lock" hyperfine --warmup 3 --runs 30 --export-markdown "$results/bundle-sign.md" \
  -n "bundle" "$kaupang bundle one -o $scratch/s1 -q --cwd $small" \
  -n "bundle --sign" "$kaupang bundle one --sign $dir/keys/site.key -o $scratch/s2 -q --cwd $small"
