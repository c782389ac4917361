#!/usr/bin/env bash
# Deploy state on the target against local state, on each backend:
#   - a no-change `kaupang up` (5 services) of two identical projects, one with
#     state: "local", one with state: "target" (goal: target ≤ 1.3× local);
#   - `kaupang rollback --list` of a 1,000-record history read from the target,
#     with the local cacheDir deleted before each run (goal: ≤ 1 s).
# compose and swarm always; kubernetes when the local control plane answers
# (test/e2e/k8s/up.sh). Needs `npm run build` first.
#
#   bench/target-state/run.sh [compose] [swarm] [kubernetes]
source "$(dirname "$0")/../lib.sh"
backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(compose swarm kubernetes)
k8s_env="${KAUPANG_K8S_DIR:-$cache/k8s-run}/k8s.env"

# project DIR NAME STATE BACKEND — a 5-service project whose one target `t` keeps its state as told.
project() {
  local dir=$1 name=$2 state=$3 backend=$4 target
  case "$backend" in
    compose) target='{ "state": "'$state'" }' ;;
    swarm) target='{ "backend": "swarm", "swarm": { "portMode": "host", "endpointMode": "dnsrr" }, "state": "'$state'" }' ;;
    kubernetes) target='{ "backend": "kubernetes", "kubeconfig": "'$KUBECONFIG'", "kubeContext": "kaupang-a", "namespace": "'$name'", "state": "'$state'" }' ;;
  esac
  mkdir -p "$dir"
  echo '{ "project": "'$name'", "targets": { "t": '"$target"' } }' > "$dir/kaupang.config.json"
  write_env "$dir" app s1 s2 s3 s4 s5
}

summary=()
for backend in "${backends[@]}"; do
  if [ "$backend" = kubernetes ]; then
    # shellcheck disable=SC1090
    [ -f "$k8s_env" ] && source "$k8s_env"
    if ! kubectl --context kaupang-a get --raw /readyz >/dev/null 2>&1; then
      echo "bench: kubernetes skipped: the control plane does not answer (test/e2e/k8s/up.sh)" >&2
      continue
    fi
  fi
  short=${backend:0:1}
  loc="$scratch/$backend-local" tgt="$scratch/$backend-target"
  project "$loc" "benchts${short}l" local "$backend"
  project "$tgt" "benchts${short}t" target "$backend"
  $kaupang up app -q --target t --cwd "$loc" >/dev/null
  $kaupang up app -q --target t --cwd "$tgt" >/dev/null
  hyperfine --warmup 2 --runs 15 --export-json "$results/target-state-$backend.json" \
    -n "$backend: no-change up, state local" "$kaupang up app -q --target t --cwd $loc" \
    -n "$backend: no-change up, state target" "$kaupang up app -q --target t --cwd $tgt"

  # 1,000 records on the target: the real deploy's history, grown in local files and imported.
  $kaupang ledger export app --target t -o "$scratch/$backend-base.json" --cwd "$tgt" >/dev/null
  node "$root/bench/target-state/fill.mjs" "$scratch/$backend-base.json" "$tgt/.kaupang" 1000
  $kaupang ledger export app --target t --state local -o "$scratch/$backend-full.json" --cwd "$tgt" >/dev/null
  rm -rf "$tgt/.kaupang"
  $kaupang ledger import "$scratch/$backend-full.json" --target t --cwd "$tgt"
  $kaupang ledger verify app --target t --cwd "$tgt"
  hyperfine --warmup 1 --runs 10 --prepare "rm -rf $tgt/.kaupang" --export-json "$results/target-state-list-$backend.json" \
    -n "$backend: rollback --list, 1,000 records on the target" "$kaupang rollback app --list --target t --cwd $tgt"
  summary+=("$results/target-state-$backend.json" "$results/target-state-list-$backend.json")

  $kaupang down app -q --target t --cwd "$loc" >/dev/null 2>&1 || true
  $kaupang down app -q --target t --cwd "$tgt" >/dev/null 2>&1 || true
  case "$backend" in
    compose) docker volume ls -q --filter label=kaupang.dev/project=benchts${short}t | xargs -r docker volume rm >/dev/null ;;
    swarm) docker config ls -q --filter label=kaupang.dev/project=benchts${short}t | xargs -r docker config rm >/dev/null ;;
    kubernetes) kubectl --context kaupang-a delete namespace "benchts${short}l" "benchts${short}t" --wait=false >/dev/null ;;
  esac
done
node "$root/bench/medians.mjs" "${summary[@]}"
