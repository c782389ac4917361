#!/usr/bin/env bash
# kaupang up of a generated 10-service environment on the local Kubernetes
# cluster (test/e2e/k8s/up.sh), whose pods run on its real node (kubelet +
# containerd: each rollout waits for real containers and their readiness),
# against raw kubectl doing the same: `kubectl apply -f` of the very manifests
# kaupang rendered, then `kubectl rollout status` for each Deployment, one after
# the other.
#
#   bench/kubernetes/run.sh [--runs N]      (default 10; needs `npm run build` first)
#
# Three scenarios, each measured with hyperfine (--prepare steps are not timed):
#   fresh      the environment is not there (kaupang down / kubectl delete before
#              each run): create 10 Deployments + Services, wait for the rollouts;
#   rolling    one env value changes before each run: all 10 Deployments roll;
#   unchanged  nothing changed: raw kubectl re-applies; `kaupang up` checks the
#              ledger and what runs and applies nothing; `up --force` applies.
# kaupang's runs include everything `up` does: start Node, load the config,
# resolve the tag to a digest in the registry (HTTP API), apply, wait, prune, read
# the pods back to verify the digests, write the ledger. The "digest in config"
# rows skip the registry round trip.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

runs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cache="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
# shellcheck disable=SC1091
[ -f "$cache/harness.env" ] && source "$cache/harness.env"
# shellcheck disable=SC1091
source "${KAUPANG_K8S_DIR:-$cache/k8s-run}/k8s.env"
for tool in hyperfine kubectl oras node; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found on PATH" >&2; exit 1; }
done
[ -f packages/cli/dist/cli.js ] || { echo "bench: run \`npm run build\` first" >&2; exit 1; }
kubectl get --raw /readyz >/dev/null || { echo "bench: the cluster does not answer (test/e2e/k8s/up.sh)" >&2; exit 1; }
node_name="${KAUPANG_K8S_NODE_NAME:-kaupang-node}"
runtime=$(kubectl get node "$node_name" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}' 2>/dev/null || true)
[[ "$runtime" == containerd://* ]] || { echo "bench: no real node $node_name (test/e2e/k8s/up.sh)" >&2; exit 1; }

image="${KAUPANG_TEST_BASE_IMAGE_PUSHED:-127.0.0.1:5000/kaupang-test/busybox:latest}"
digest=$(oras resolve --plain-http "$image")
pinned="${image%:*}@$digest"
id=$(node -e 'process.stdout.write(require("node:crypto").randomBytes(3).toString("hex"))')
work=$(mktemp -d)
ns_tag="bench-$id"       # kaupang, tag in the config
ns_pin="bench-$id-pin"   # kaupang, digest in the config
ns_raw="bench-$id-raw"   # raw kubectl
cleanup() {
  kubectl delete namespace "$ns_tag" "$ns_pin" "$ns_raw" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# One project per kaupang variant; 10 services with a port each (Deployment + Service)
# and an env value the "rolling" scenario changes.
make_project() { # dir project image
  mkdir -p "$1/environments"
  node -e '
    const [dir, project, image] = process.argv.slice(1);
    const fs = require("node:fs");
    const services = {};
    // An HTTP server with an exec readiness check, as a real service has; a shared
    // process namespace so that busybox stops on SIGTERM (a delete takes 30 s otherwise).
    for (let i = 1; i <= 10; i++)
      services[`svc${String(i).padStart(2, "0")}`] = {
        image, command: ["httpd", "-f", "-p", "8080", "-h", "/www"], ports: ["8080"], env: { ROLL: "r-0" },
        healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: "1s" },
        kubernetes: { spec: { template: { spec: { shareProcessNamespace: true } } } },
      };
    fs.writeFileSync(`${dir}/kaupang.config.json`, JSON.stringify({
      project, environments: "./environments",
      targets: { bench: { backend: "kubernetes", kubeContext: "kaupang-a", kubeconfig: process.env.KUBECONFIG } },
    }, null, 2));
    fs.writeFileSync(`${dir}/environments/app.json`, JSON.stringify({ services }, null, 2));
  ' "$1" "$2" "$3"
}
make_project "$work/tag" "$ns_tag" "$image"
make_project "$work/pin" "$ns_pin" "$pinned"

kaupang="node $repo/packages/cli/bin/kaupang.mjs"
up_tag="$kaupang up app --target bench --cwd $work/tag -q"
up_pin="$kaupang up app --target bench --cwd $work/pin -q"
for setup in "$up_tag" "$up_pin"; do
  $setup >"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; exit 1; }
done

# Raw kubectl gets the manifests kaupang rendered (digest-pinned), in its own namespace.
sed -e "s/^  name: $ns_tag\$/  name: $ns_raw/" -e "s/namespace: $ns_tag\$/namespace: $ns_raw/" \
  "$work/tag/.kaupang/bench/app.k8s.yaml" >"$work/raw.yaml"
grep -q "namespace: $ns_raw" "$work/raw.yaml" || { echo "bench: could not retarget the manifest" >&2; exit 1; }
raw="kubectl apply -f $work/raw.yaml"
for i in $(seq -w 1 10); do raw+=" && kubectl rollout status -n $ns_raw deployment/svc$i"; done
eval "$raw" >/dev/null

# --prepare commands (run by bash, not timed).
down_raw="kubectl delete -n $ns_raw deployment,service --all --cascade=foreground --wait >/dev/null"
down_tag="$kaupang down app --target bench --cwd $work/tag -q"
down_pin="$kaupang down app --target bench --cwd $work/pin -q"
roll() { # file: give ROLL a new value
  echo "sed -i -E \"s/r-[0-9]+/r-\$RANDOM\$RANDOM/\" $1"
}

echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), node $node_name on $runtime, Kubernetes $(kubectl version -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).serverVersion.gitVersion))'), $runs runs each" >&2
bench() { # scenario, then (--prepare cmd | -) name command … triples
  local scenario=$1
  shift
  local args=()
  while [ $# -gt 0 ]; do
    [ "$1" != - ] && args+=(--prepare "$1")
    args+=(-n "$2" "$3 2>&1")
    shift 3
  done
  # Output goes to a file, so that a failed run can be shown (hyperfine only says "non-zero exit").
  hyperfine --shell bash --style basic --warmup 1 --runs "$runs" --export-json "$work/$scenario.json" \
    --output "$work/$scenario.out" "${args[@]}" ||
    { echo "bench: a $scenario run failed; its last output:" >&2; tail -n 20 "$work/$scenario.out" >&2; exit 1; }
}
bench fresh \
  "$down_raw" "raw kubectl" "$raw" \
  "$down_tag" "kaupang up, tag resolved" "$up_tag" \
  "$down_pin" "kaupang up, digest in config" "$up_pin"
bench rolling \
  "$(roll "$work/raw.yaml")" "raw kubectl" "$raw" \
  "$(roll "$work/tag/environments/app.json")" "kaupang up, tag resolved" "$up_tag" \
  "$(roll "$work/pin/environments/app.json")" "kaupang up, digest in config" "$up_pin"
bench unchanged \
  - "raw kubectl" "$raw" \
  - "kaupang up (no-change check)" "$up_tag" \
  - "kaupang up --force" "$up_tag --force"

node -e '
  const fs = require("node:fs");
  console.log("\n| scenario | command | median (s) | mean ± σ (s) | median vs raw kubectl |\n|---|---|---|---|---|");
  for (const scenario of ["fresh", "rolling", "unchanged"]) {
    const { results } = JSON.parse(fs.readFileSync(`${process.argv[1]}/${scenario}.json`, "utf8"));
    const raw = results[0].median;
    for (const r of results)
      console.log(`| ${scenario} | ${r.command} | ${r.median.toFixed(3)} | ${r.mean.toFixed(3)} ± ${r.stddev.toFixed(3)} | ${(r.median / raw).toFixed(2)}× |`);
  }
' "$work"
echo "bench: done $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
