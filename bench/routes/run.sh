#!/usr/bin/env bash
# A routed redeploy on compose (blue/green behind the proxy) vs a plain `kaupang up --force`
# of the same service (recreated in place, reached on its published port): hyperfine times
# each redeploy (its --prepare pushes a new version under the same tag, so every redeploy
# changes the image) while a bounded load loop on loopback counts failed requests.
# Uses the shared engine, the registry and host ports 19480/19443/19419/19482: run it
# under the e2e lock.   bench/routes/run.sh [redeploys]    (default 10)
source "$(dirname "$0")/../lib.sh"
runs=${1:-10}
image="$KAUPANG_TEST_REGISTRY/kroute-bench/web:live"
proxy_image="${KAUPANG_TEST_PROXY_IMAGE:-$KAUPANG_TEST_REGISTRY/kaupang-test/caddy:2}"
host=bench.kroute.test
proxy='{ "name": "kroute-proxy-bench", "image": "'"$proxy_image"'", "httpPort": 19480, "httpsPort": 19443, "adminAddress": "127.0.0.1:19419" }'
web='"image": "'"$image"'", "command": ["httpd", "-f", "-p", "8080", "-h", "/www"], "compose": { "init": true },
  "healthcheck": { "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], "interval": "1s", "retries": 30 }'
for p in routed plain; do
  mkdir -p "$scratch/$p/environments"
  echo '{ "project": "kroute-bench-'$p'", "environments": "./environments", "targets": { "local": { "proxy": '"$proxy"' } } }' > "$scratch/$p/kaupang.config.json"
done
echo '{ "services": { "web": { '"$web"', "ports": ["8080"], "http": "'$host'" } } }' > "$scratch/routed/environments/app.json"
echo '{ "services": { "web": { '"$web"', "ports": ["19482:8080"] } } }' > "$scratch/plain/environments/app.json"
push="bash $root/bench/routes/push.sh $image $base $scratch/version"
cleanup() {
  $kaupang down app -q --cwd "$scratch/routed" >/dev/null 2>&1 || true
  $kaupang down app -q --cwd "$scratch/plain" >/dev/null 2>&1 || true
  docker rm -f kroute-proxy-bench >/dev/null 2>&1 || true
  docker volume rm -f kroute-proxy-bench-data kroute-proxy-bench-config >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
$push
$kaupang up app -q --cwd "$scratch/routed"
$kaupang up app -q --cwd "$scratch/plain"
echo "machine: $(nproc) cores, node $(node --version), $(hyperfine --version)" | tee "$results/routes.txt"

# scenario SLUG NAME DIR URL [kaupang flags…]: hyperfine over the redeploys, the load loop around them.
scenario() {
  local slug=$1 name=$2 dir=$3 url=$4
  shift 4
  rm -f "$scratch/load.err"
  # jiti itself, not npx, so the TERM below reaches the loop.
  "$root/node_modules/.bin/jiti" "$root/bench/routes/load.ts" "$url" "$host" 900 >"$scratch/load.json" 2>"$scratch/load.err" &
  local load=$!
  until grep -q running "$scratch/load.err" 2>/dev/null; do sleep 0.1; done
  hyperfine --runs "$runs" --prepare "$push" --export-json "$results/routes-$slug.json" \
    -n "$name" "$kaupang up app -q $* --cwd $dir"
  kill -TERM "$load"
  wait "$load" || true
  echo "$name: requests under load $(cat "$scratch/load.json")" | tee -a "$results/routes.txt"
  node "$root/bench/medians.mjs" "$results/routes-$slug.json" | tee -a "$results/routes.txt"
}
scenario routed "routed redeploy (blue/green, via the proxy)" "$scratch/routed" "http://127.0.0.1:19480/"
scenario plain "plain kaupang up --force (published port)" "$scratch/plain" "http://127.0.0.1:19482/" --force
