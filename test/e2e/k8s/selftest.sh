#!/usr/bin/env bash
# Self-test of the cluster started by up.sh (run by up.sh after a start; can be
# run alone). Checks, against the real apiserver, controllers, scheduler, node
# and kwok:
#   - both kubeconfig contexts (kaupang-a, kaupang-b) reach the apiserver
#   - the real node is Ready with containerd as its runtime; the fake nodes are tainted
#   - a pod runs the base image imported into the node (no pull) and its log reaches kubectl
#   - a 2-replica Deployment pinned by digest to the harness registry pulls, and its
#     HTTP readinessProbe passes (kubelet executes it)
#   - from a pod, the Deployment's ClusterIP Service answers HTTP by its DNS name
#     (CoreDNS, kube-proxy, the CNI bridge); kubectl exec works
#   - `kubectl apply --server-side --field-manager=kaupang` works
#   - deleting a namespace completes (its pods stop and the namespace really goes away)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

KUBECONFIG_FILE="$KAUPANG_K8S_DIR/kubeconfig"
TIMEOUT="${KAUPANG_K8S_TIMEOUT:-120}"
REGISTRY="${KAUPANG_TEST_REGISTRY:-127.0.0.1:5000}"
BASE="${KAUPANG_TEST_BASE_IMAGE:-kaupang-test/busybox:latest}"
kc() { "$KAUPANG_TOOLS_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

T0=$SECONDS
NS="kaupang-selftest-$$"

cleanup() { kc delete namespace "$NS" --wait=false --ignore-not-found >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() {
  log "self-test FAILED: $*"
  kc -n "$NS" get deploy,rs,pods,svc -o wide >&2 2>&1 || true
  kc -n "$NS" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
  exit 1
}

for ctx in kaupang-a kaupang-b; do
  kc --context "$ctx" get --raw /readyz >/dev/null || fail "context $ctx cannot reach the apiserver"
done

node="$(kc get node "$KNODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}')"
[[ "$node" == "True containerd://"* ]] || fail "node $KNODE_NAME is not Ready on containerd: $node"
untainted="$(kc get nodes -l type=kwok -o jsonpath='{range .items[*]}{.metadata.name}={.spec.taints[*].key}{"\n"}{end}' |
  grep -v "=.*$KWOK_TAINT_KEY" || true)"
[ -z "$untainted" ] || fail "fake nodes without the $KWOK_TAINT_KEY taint would take real pods: $untainted"

# The base image's digest in the harness registry (it was pushed by docker-up.sh).
repo="${BASE%:*}"
accept="application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json"
accept+=",application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"
digest="$(curl -fsSI -H "Accept: $accept" "http://$REGISTRY/v2/$repo/manifests/${BASE##*:}" 2>/dev/null |
  tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2 }')" ||
  true
[[ "$digest" == sha256:* ]] ||
  fail "no $BASE in the registry $REGISTRY (start it with test/e2e/harness/docker-up.sh before up.sh)"
IMAGE="$REGISTRY/$repo@$digest"

kc create namespace "$NS" >/dev/null || fail "create namespace"
# Pods need the namespace's default ServiceAccount (made by kube-controller-manager).
deadline=$((SECONDS + TIMEOUT))
until kc -n "$NS" get serviceaccount default >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "no default ServiceAccount in $NS (serviceaccount controller)"
  sleep 0.5
done

# shareProcessNamespace: the sandbox's pause is PID 1, so busybox stops on SIGTERM.
kc -n "$NS" apply -f - >/dev/null <<EOF || fail "apply the test objects"
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: $BASE
    imagePullPolicy: Never
    command: [sh, -c, "echo selftest-client-started; exec sleep 3600"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      shareProcessNamespace: true
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: $IMAGE
        command: [httpd, -f, -p, "8080", -h, /www]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF

kc -n "$NS" rollout status deployment/web --timeout="${TIMEOUT}s" >/dev/null || fail "rollout status deployment/web"
kc -n "$NS" wait --for=condition=Ready pod/client --timeout="${TIMEOUT}s" >/dev/null || fail "pod client not Ready"
pods="$(kc -n "$NS" get pods -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.status.podIP} {.status.containerStatuses[0].containerID}{"\n"}{end}')"
[ "$(printf '%s\n' "$pods" | grep -c .)" = 3 ] || fail "expected 3 pods, got: $pods"
printf '%s\n' "$pods" | awk -v n="$KNODE_NAME" '$2 != n || $3 != "Running" || $4 == "" || $5 !~ /^containerd:\/\// { bad = 1 } END { exit bad }' ||
  fail "pods not Running on $KNODE_NAME in containerd: $pods"
log "self-test: 3 pods running on $KNODE_NAME after $((SECONDS - T0))s"

kc -n "$NS" logs client 2>/dev/null | grep -qx selftest-client-started || fail "kubectl logs client: no log line"
page="$(kc -n "$NS" exec client -- timeout 10 wget -q -O- "http://web.$NS.svc.cluster.local/" 2>&1)" ||
  fail "GET http://web.$NS.svc.cluster.local/ from pod client: $page"
[[ "$page" == *"kaupang-test busybox"* ]] || fail "unexpected page through the Service: $page"
log "self-test: Service answered by DNS name through ClusterIP from a pod ($((SECONDS - T0))s)"

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

kc delete namespace "$NS" --wait=true --timeout="${TIMEOUT}s" >/dev/null || fail "namespace deletion did not complete"
kc get namespace "$NS" >/dev/null 2>&1 && fail "namespace $NS still exists after delete"
trap - EXIT
log "self-test: namespace deletion completed; all checks passed in $((SECONDS - T0))s"
