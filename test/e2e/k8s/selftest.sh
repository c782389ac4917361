#!/usr/bin/env bash
# Self-test of the cluster started by up.sh (run by up.sh after a start; can be
# run alone). Checks, against the real apiserver/controllers/scheduler/kwok:
#   - a Deployment (digest-pinned image ref) completes `kubectl rollout status`
#   - a Deployment with a readinessProbe becomes ready
#   - `kubectl apply --server-side --field-manager=kaupang` works
#   - both kubeconfig contexts (kaupang-a, kaupang-b) reach the apiserver
#   - deleting a namespace completes (the namespace really goes away)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

KUBECONFIG_FILE="$KAUPANG_K8S_DIR/kubeconfig"
TIMEOUT="${KAUPANG_K8S_TIMEOUT:-120}"
kc() { "$KAUPANG_TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

T0=$SECONDS
NS="kaupang-selftest-$$"
DIGEST="sha256:$(printf 'kaupang-selftest' | sha256sum | cut -c1-64)"
IMAGE="127.0.0.1:5000/kaupang/selftest@$DIGEST"

cleanup() { kc delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() {
  log "self-test FAILED: $*"
  kc -n "$NS" get deploy,rs,pods -o wide >&2 2>&1 || true
  exit 1
}

for ctx in kaupang-a kaupang-b; do
  kc --context "$ctx" get --raw /readyz >/dev/null || fail "context $ctx cannot reach the apiserver"
done

kc create namespace "$NS" >/dev/null || fail "create namespace"
# Pods need the namespace's default ServiceAccount (made by kube-controller-manager).
deadline=$((SECONDS + TIMEOUT))
until kc -n "$NS" get serviceaccount default >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "no default ServiceAccount in $NS (serviceaccount controller)"
  sleep 0.5
done

kc -n "$NS" apply -f - >/dev/null <<EOF || fail "apply deployments"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: plain
spec:
  replicas: 2
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec:
      containers:
      - name: app
        image: $IMAGE
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: probed
spec:
  replicas: 1
  selector: {matchLabels: {app: probed}}
  template:
    metadata: {labels: {app: probed}}
    spec:
      containers:
      - name: app
        image: $IMAGE
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
EOF

for d in plain probed; do
  kc -n "$NS" rollout status "deployment/$d" --timeout="${TIMEOUT}s" >/dev/null ||
    fail "rollout status deployment/$d"
done
ready="$(kc -n "$NS" get pods -o jsonpath='{range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | sort | uniq -c | tr -s ' ')"
[ "$(kc -n "$NS" get pods -o name | wc -l)" = 3 ] || fail "expected 3 pods, got: $ready"
echo "$ready" | grep -qv 'Running/True' && fail "not all pods Running/Ready: $ready"
log "self-test: deployments rolled out after $((SECONDS - T0))s (pods: $(echo "$ready" | xargs))"

kc -n "$NS" apply --server-side --field-manager=kaupang -f - >/dev/null <<EOF || fail "server-side apply"
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
data: {k: v1}
EOF
kc -n "$NS" apply --server-side --field-manager=kaupang -f - >/dev/null <<EOF || fail "server-side re-apply"
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
data: {k: v2}
EOF
mgr="$(kc -n "$NS" get configmap ssa --show-managed-fields -o jsonpath='{.metadata.managedFields[*].manager}/{.data.k}')"
[ "$mgr" = "kaupang/v2" ] || fail "server-side apply: managedFields/data = $mgr"
log "self-test: server-side apply with field manager kaupang ok ($((SECONDS - T0))s)"

kc -n "$NS" delete deployment plain probed --wait=true --timeout="${TIMEOUT}s" >/dev/null || fail "delete deployments"
kc delete namespace "$NS" --wait=true --timeout="${TIMEOUT}s" >/dev/null || fail "namespace deletion did not complete"
kc get namespace "$NS" >/dev/null 2>&1 && fail "namespace $NS still exists after delete"
trap - EXIT
log "self-test: namespace deletion completed; all checks passed in $((SECONDS - T0))s"
