#!/usr/bin/env bash
# Start a local Kubernetes cluster for kaupang's e2e tests: etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler; one real node
# (containerd, the CNI bridge, kubelet, kube-proxy, CoreDNS; see node.sh) where
# the tests' pods run; and kwok, whose tainted fake nodes serve scale tests.
# All state under $KAUPANG_K8S_DIR. Needs the binaries from build.sh and, for
# the self-test, the registry of test/e2e/harness/docker-up.sh. If the cluster
# is already up and healthy this returns at once.
#
# Env (all optional):
#   KAUPANG_TOOLS_CACHE        cache root (binaries in $KAUPANG_TOOLS_CACHE/bin)
#   KAUPANG_K8S_DIR            run dir (default $KAUPANG_TOOLS_CACHE/k8s-run)
#   KAUPANG_K8S_API_PORT       kube-apiserver secure port        (default 6443)
#   KAUPANG_K8S_ETCD_PORT      etcd client port                  (default 23790)
#   KAUPANG_K8S_ETCD_PEER_PORT etcd peer port                    (default 23800)
#   KAUPANG_K8S_KCM_PORT       kube-controller-manager port      (default 10357)
#   KAUPANG_K8S_SCHED_PORT     kube-scheduler port               (default 10359)
#   KAUPANG_K8S_KWOK_PORT      kwok server port                  (default 10347)
#   KAUPANG_K8S_NODES          number of fake (kwok) nodes       (default 2)
#   KAUPANG_K8S_KUBELET_PORT, KAUPANG_K8S_KUBELET_HEALTHZ_PORT, KAUPANG_K8S_PROXY_HEALTHZ_PORT,
#   KAUPANG_K8S_PROXY_METRICS_PORT, KAUPANG_K8S_POD_CIDR, KAUPANG_K8S_NODE_IP: the node (lib.sh)
#   KAUPANG_K8S_TIMEOUT        seconds to wait for readiness     (default 120)
#   KAUPANG_K8S_SKIP_CHECKS=1  skip the self-test after a (re)start
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# shellcheck source=node.sh
. "$HERE/node.sh"

BIN="$KAUPANG_TOOLS_BIN"
DIR="$KAUPANG_K8S_DIR"
API_PORT="${KAUPANG_K8S_API_PORT:-6443}"
ETCD_PORT="${KAUPANG_K8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${KAUPANG_K8S_ETCD_PEER_PORT:-23800}"
KCM_PORT="${KAUPANG_K8S_KCM_PORT:-10357}"
SCHED_PORT="${KAUPANG_K8S_SCHED_PORT:-10359}"
KWOK_PORT="${KAUPANG_K8S_KWOK_PORT:-10347}"
NODES="${KAUPANG_K8S_NODES:-2}"
TIMEOUT="${KAUPANG_K8S_TIMEOUT:-120}"
SERVICE_CIDR="$KNODE_SERVICE_CIDR"
SERVICE_IP="$KNODE_API_SERVICE_IP"

PKI="$DIR/pki"
LOGS="$DIR/logs"
PIDS="$DIR/pids"
KUBECONFIG_FILE="$DIR/kubeconfig"
ENV_FILE="$DIR/k8s.env"
COMPONENTS="containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kwok"

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kwok kubectl crictl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: run test/e2e/k8s/build.sh first"
done
for i in pause coredns; do
  [ -f "$KAUPANG_NODE_IMAGES/$i.tar" ] || die "$KAUPANG_NODE_IMAGES/$i.tar missing: run test/e2e/k8s/build.sh first"
done
# The node's runtime and network come from Debian.
ensure_packages containerd runc containernetworking-plugins iptables ipset openssl curl
for t in openssl curl base64 setsid flock ip iptables sysctl containerd containerd-shim-runc-v2 runc ctr; do
  command -v "$t" >/dev/null ||
    die "$t is required (apt-get install containerd runc containernetworking-plugins iptables ipset)"
done
for p in bridge host-local portmap firewall loopback; do
  [ -x "/usr/lib/cni/$p" ] || die "/usr/lib/cni/$p missing (apt-get install containernetworking-plugins)"
done
[ "$(id -u)" = 0 ] || die "the node (containerd, kubelet, kube-proxy) needs root"

kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

live_pid() { component_pid "$1"; }

node_ready() {
  [ "$(kc get node "$KNODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
# CoreDNS Ready, in a container started at or after $1 (an RFC 3339 time): a
# status left from before a restart does not count.
coredns_ready() {
  local since="${1:-}" line
  line="$(kc -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {.status.containerStatuses[0].state.running.startedAt}{"\n"}{end}' 2>/dev/null)"
  printf '%s\n' "$line" | awk -v since="$since" '$1 == "True" && $2 >= since { ok = 1 } END { exit !ok }'
}

healthy() {
  local c
  for c in $COMPONENTS; do live_pid "$c" >/dev/null || return 1; done
  [ -f "$KUBECONFIG_FILE" ] || return 1
  [ "$(kc get --raw /readyz 2>/dev/null)" = "ok" ] || return 1
  node_ready && coredns_ready || return 1
  # the fake nodes Ready too, when there are any
  [ "$NODES" = 0 ] || kc get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
    grep -qx True
}

write_env() {
  cat >"$ENV_FILE" <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export PATH=$BIN:\$PATH
export KAUPANG_K8S_NODE_NAME=$KNODE_NAME
export CONTAINER_RUNTIME_ENDPOINT=unix://$KNODE_SOCK
export IMAGE_SERVICE_ENDPOINT=unix://$KNODE_SOCK
EOF
}

already_up() {
  write_env
  log "already running and healthy (apiserver https://127.0.0.1:$API_PORT, run dir $DIR)"
  log "source $ENV_FILE"
  exit 0
}
healthy && already_up

# One start at a time per run dir; whoever waited re-checks first.
mkdir -p "$DIR"
exec 8>"$DIR/.up.lock"
if ! flock -n 8; then
  log "another up.sh is starting this cluster; waiting"
  flock -w 600 8 || die "timed out waiting for $DIR/.up.lock"
  healthy && already_up
fi

T0=$SECONDS
mkdir -p "$PKI" "$LOGS" "$PIDS" "$DIR/etcd"
chmod 700 "$DIR" "$PKI" "$DIR/etcd"

# Anything half-running from an earlier start is stopped first.
if ls "$PIDS"/*.pid >/dev/null 2>&1; then
  log "stopping leftovers of an earlier start"
  "$HERE/down.sh"
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT" \
  "$KNODE_KUBELET_HEALTHZ_PORT" "$KNODE_PROXY_HEALTHZ_PORT" "$KNODE_PROXY_METRICS_PORT"; do
  port_busy "$p" && die "port 127.0.0.1:$p is already in use by another process (override with KAUPANG_K8S_*_PORT)"
done
# One real node per machine: its bridge, socket and iptables rules are machine-wide.
if owner="$(knode_foreign_owner)"; then
  die "another kaupang e2e node (run dir $owner) runs on this machine; stop it first: KAUPANG_K8S_DIR=$owner $HERE/down.sh"
fi
(exec 3<>"/dev/tcp/$KNODE_IP/$KNODE_KUBELET_PORT") 2>/dev/null &&
  die "$KNODE_IP:$KNODE_KUBELET_PORT (kubelet) is already in use by another process"

# --- PKI (generated once, kept across restarts) ---------------------------------
gen_key() { [ -f "$1" ] || openssl genrsa -out "$1" 2048 2>/dev/null; chmod 600 "$1"; }

# make_ca NAME CN
make_ca() {
  [ -f "$PKI/$1.crt" ] && return 0
  gen_key "$PKI/$1.key"
  openssl req -x509 -new -key "$PKI/$1.key" -subj "/CN=$2" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/$1.crt" 2>/dev/null
}

# sign_cert NAME SUBJECT EXTFILE-CONTENT [CA-NAME]
sign_cert() {
  local name="$1" subj="$2" ext="$3" ca="${4:-ca}"
  [ -f "$PKI/$name.crt" ] && return 0
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

[ -f "$PKI/ca.crt" ] || log "generating CAs, serving/client certificates and service-account keys in $PKI"
make_ca ca kaupang-e2e-ca
# Separate CA for the aggregation layer's request-header authentication.
make_ca front-proxy-ca kaupang-e2e-front-proxy-ca
CLIENT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
SERVER_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
# Pods reach the apiserver at the node's address (through the kubernetes
# Service): a certificate from before the node existed lacks it, so make a new one.
if [ -f "$PKI/apiserver.crt" ] &&
  ! openssl x509 -in "$PKI/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$KNODE_IP\b"; then
  rm -f "$PKI/apiserver.crt"
fi
sign_cert apiserver "/CN=kube-apiserver" "$SERVER_EXT
subjectAltName=IP:127.0.0.1,IP:$KNODE_IP,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign_cert admin "/O=system:masters/CN=kaupang-admin" "$CLIENT_EXT"
sign_cert kube-controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
sign_cert kube-scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
sign_cert kwok "/O=system:masters/CN=kwok" "$CLIENT_EXT"
# The node: kubelet's client (the Node authorizer's system:node:<name>) and
# serving certificates, kube-proxy's client, and the apiserver's client for
# kubelet's API (logs, exec, port-forward).
sign_cert kubelet "/O=system:nodes/CN=system:node:$KNODE_NAME" "$CLIENT_EXT"
sign_cert kubelet-serving "/CN=system:node:$KNODE_NAME" "$SERVER_EXT
subjectAltName=IP:$KNODE_IP,DNS:$KNODE_NAME"
sign_cert kube-proxy "/CN=system:kube-proxy" "$CLIENT_EXT"
sign_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$CLIENT_EXT"
sign_cert front-proxy-client "/CN=front-proxy-client" "$CLIENT_EXT" front-proxy-ca
gen_key "$PKI/sa.key"
[ -f "$PKI/sa.pub" ] || openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null

b64() { base64 -w0 <"$1"; }

# write_kubeconfig FILE USER CONTEXT...
write_kubeconfig() {
  local file="$1" user="$2" first="$3" ctx
  shift 2
  {
    cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kaupang-e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(b64 "$PKI/$user.crt")
    client-key-data: $(b64 "$PKI/$user.key")
contexts:
EOF
    for ctx in "$@"; do
      printf -- '- name: %s\n  context:\n    cluster: kaupang-e2e\n    user: %s\n' "$ctx" "$user"
    done
    echo "current-context: $first"
  } >"$file.tmp"
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}
write_kubeconfig "$KUBECONFIG_FILE" admin kaupang-a kaupang-b
write_kubeconfig "$DIR/kube-controller-manager.kubeconfig" kube-controller-manager default
write_kubeconfig "$DIR/kube-scheduler.kubeconfig" kube-scheduler default
write_kubeconfig "$DIR/kwok.kubeconfig" kwok default
write_kubeconfig "$DIR/kubelet.kubeconfig" kubelet default
write_kubeconfig "$DIR/kube-proxy.kubeconfig" kube-proxy default

# --- processes -------------------------------------------------------------------
# start NAME ARGS...: runs $BIN/NAME detached (own session), pidfile + log.
start() {
  local name="$1"
  shift
  rm -f "$PIDS/$name.pid"
  [ -f "$LOGS/$name.log" ] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
  log "starting $name (log $LOGS/$name.log)"
  # Every descriptor above 2 is closed first: under `flock /tmp/kaupang-e2e.lock …`
  # the daemon would otherwise inherit the lock's descriptor and hold the lock for as
  # long as it runs (as harness/lib.sh's close_inherited_fds does for dockerd).
  # shellcheck disable=SC2016  # $$, $fd and $@ are for the inner shell
  setsid bash -c 'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
    echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" "$(component_bin "$name")" "$@" \
    >"$LOGS/$name.log" 2>&1 </dev/null &
  local i
  for i in $(seq 50); do [ -s "$PIDS/$name.pid" ] && break; sleep 0.1; done
}

fail() {
  local name="$1" msg="$2"
  log "$msg; last lines of $LOGS/$name.log:"
  tail -n 40 "$LOGS/$name.log" >&2 || true
  if [ "${KAUPANG_K8S_KEEP_ON_FAIL:-0}" != 1 ]; then
    log "stopping what was started (KAUPANG_K8S_KEEP_ON_FAIL=1 keeps it running); logs stay in $LOGS"
    "$HERE/down.sh" || true
  fi
  exit 1
}

# wait_for NAME DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local name="$1" what="$2" deadline=$((SECONDS + TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    live_pid "$name" >/dev/null || fail "$name" "$name exited while waiting for $what"
    [ $SECONDS -lt $deadline ] || fail "$name" "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.5
  done
}

# --- the node's runtime first: it starts while the control plane does -----------------
knode_network
knode_write_config "$PKI"
knode_save_sysctls
mkdir -p "$KNODE_RUN"
start containerd --config "$KNODE_DIR/containerd/config.toml"
wait_for containerd "containerd on $KNODE_SOCK" knode_containerd_ok
echo "$DIR" >"$KNODE_RUN/owner"
knode_import pause "$KNODE_PAUSE_IMAGE" "$KAUPANG_NODE_IMAGES/pause.tar"
knode_import coredns "$KNODE_COREDNS_IMAGE" "$KAUPANG_NODE_IMAGES/coredns.tar"
knode_import_base

etcd_ok() { "$BIN/etcd" --version >/dev/null && curl -fsS "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
https_insecure_ok() { curl -fsSk "$1" 2>/dev/null | grep -qx ok; }

start etcd \
  --name kaupang-e2e --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "kaupang-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
  --quota-backend-bytes=2147483648 --unsafe-no-fsync --log-level=warn
wait_for etcd "etcd health on 127.0.0.1:$ETCD_PORT" etcd_ok

start kube-apiserver \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=0.0.0.0 --advertise-address="$KNODE_IP" --secure-port="$API_PORT" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP \
  --cert-dir="$PKI" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=Node,RBAC \
  --allow-privileged=true \
  --profiling=false \
  --v=1
readyz_ok() { [ "$(kc get --raw /readyz 2>/dev/null)" = ok ]; }
wait_for kube-apiserver "kube-apiserver /readyz on https://127.0.0.1:$API_PORT" readyz_ok

start kube-controller-manager \
  --kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$DIR/kcm-certs" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --allocate-node-cidrs=false \
  --v=1

start kube-scheduler \
  --kubeconfig="$DIR/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  --leader-elect=false \
  --v=1

# The node's kubelet and kube-proxy.
T_NODE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start kubelet \
  --config="$KNODE_DIR/kubelet.yaml" \
  --kubeconfig="$DIR/kubelet.kubeconfig" \
  --hostname-override="$KNODE_NAME" \
  --node-ip="$KNODE_IP" \
  --node-labels="kaupang.dev/node=real" \
  --root-dir="$KNODE_DIR/kubelet" \
  --v=1
start kube-proxy --config="$KNODE_DIR/kube-proxy.yaml" --v=1

# Node leases of fake nodes are held under a per-process random identity: a
# restarted kwok would leave the nodes (and their pods) alone until the old
# leases expire (40s). Drop them so the new kwok takes the nodes over at once.
old_nodes="$(kc get nodes -l type=kwok -o jsonpath='{.items[*].metadata.name}' 2>/dev/null || true)"
if [ -n "$old_nodes" ]; then
  # shellcheck disable=SC2086  # word splitting intended: one name per node
  kc -n kube-node-lease delete lease $old_nodes --ignore-not-found >/dev/null
fi

# kwok always reads ~/.kwok/kwok.yaml if present: give it a private HOME.
mkdir -p "$DIR/kwok-home"
HOME="$DIR/kwok-home" start kwok \
  --kubeconfig="$DIR/kwok.kubeconfig" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT" \
  --cidr=10.0.0.1/24 --node-ip=10.0.0.1

wait_for kube-controller-manager "kube-controller-manager /healthz" https_insecure_ok "https://127.0.0.1:$KCM_PORT/healthz"
wait_for kube-scheduler "kube-scheduler /healthz" https_insecure_ok "https://127.0.0.1:$SCHED_PORT/healthz"
wait_for kwok "kwok /healthz" curl -fsS "http://127.0.0.1:$KWOK_PORT/healthz"
wait_for kube-proxy "kube-proxy /healthz" curl -fsS "http://127.0.0.1:$KNODE_PROXY_HEALTHZ_PORT/healthz"
wait_for kubelet "node $KNODE_NAME Ready" node_ready

# --- CoreDNS, as a pod on the node ---------------------------------------------------
knode_coredns_manifest | kc apply -f - >/dev/null || fail kubelet "applying CoreDNS failed"
wait_for kubelet "CoreDNS Ready on $KNODE_NAME" coredns_ready "$T_NODE"

# --- fake nodes ----------------------------------------------------------------
nodes_yaml() {
  local i
  for i in $(seq 0 $((NODES - 1))); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
spec:
  taints:
  - {key: $KWOK_TAINT_KEY, value: fake, effect: NoSchedule}
status:
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
EOF
  done
}
# Fake nodes beyond the wanted count (a scale test's, left by an interrupted run) go.
extra="$(kc get nodes -l type=kwok -o name | awk -F/ -v n="$NODES" '
  { i = $2; sub(/^kwok-node-/, "", i) }
  !($2 ~ /^kwok-node-[0-9]+$/ && i + 0 < n) { print "node/" $2 }')"
# shellcheck disable=SC2086  # one name per word
[ -z "$extra" ] || kc delete $extra --wait=false >/dev/null
if [ "$NODES" -gt 0 ]; then
  log "registering $NODES kwok fake node(s), tainted $KWOK_TAINT_KEY=fake:NoSchedule"
  nodes_yaml | kc apply -f - >/dev/null
fi
# Ready, tainted (only pods that ask for fake nodes land there), and with a node lease renewed by this kwok.
nodes_ok() {
  local i
  for i in $(seq 0 $((NODES - 1))); do
    kc -n kube-node-lease get lease "kwok-node-$i" >/dev/null 2>&1 || return 1
    [ "$(kc get node "kwok-node-$i" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.spec.taints[*].key}')" = "True/$KWOK_TAINT_KEY" ] ||
      return 1
  done
}
wait_for kwok "$NODES fake node(s) Ready" nodes_ok

write_env
log "control plane up in $((SECONDS - T0))s: $("$BIN/kubectl" version --kubeconfig "$KUBECONFIG_FILE" 2>/dev/null | tr '\n' ' ')"

# --- self-test -------------------------------------------------------------------
if [ "${KAUPANG_K8S_SKIP_CHECKS:-0}" = 1 ]; then
  log "self-test skipped (KAUPANG_K8S_SKIP_CHECKS=1)"
else
  "$HERE/selftest.sh"
fi
log "ready in $((SECONDS - T0))s; source $ENV_FILE"
