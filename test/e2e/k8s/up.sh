#!/usr/bin/env bash
# Start a local Kubernetes control plane for kaupang's e2e tests: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes),
# all on 127.0.0.1, all state under $KAUPANG_K8S_DIR. Needs the binaries from
# build.sh. If the cluster is already up and healthy this returns at once.
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
#   KAUPANG_K8S_NODES          number of fake nodes              (default 2)
#   KAUPANG_K8S_TIMEOUT        seconds to wait for readiness     (default 120)
#   KAUPANG_K8S_SKIP_CHECKS=1  skip the self-test after a (re)start
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

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
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"

PKI="$DIR/pki"
LOGS="$DIR/logs"
PIDS="$DIR/pids"
KUBECONFIG_FILE="$DIR/kubeconfig"
ENV_FILE="$DIR/k8s.env"
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok"

for b in $COMPONENTS kubectl; do
  [ -x "$BIN/$b" ] || die "$BIN/$b missing: run test/e2e/k8s/build.sh first"
done
for t in openssl curl base64 setsid flock; do command -v "$t" >/dev/null || die "$t is required"; done

kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# pid of a component if its pidfile names a live process of our binary.
live_pid() {
  local f="$PIDS/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1 | grep -qx "$BIN/$1" || return 1
  echo "$pid"
}

healthy() {
  local c
  for c in $COMPONENTS; do live_pid "$c" >/dev/null || return 1; done
  [ -f "$KUBECONFIG_FILE" ] || return 1
  [ "$(kc get --raw /readyz 2>/dev/null)" = "ok" ] || return 1
  # at least one fake node Ready
  kc get nodes -l type=kwok \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
    grep -qx True
}

write_env() {
  cat >"$ENV_FILE" <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export PATH=$BIN:\$PATH
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
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
  port_busy "$p" && die "port 127.0.0.1:$p is already in use by another process (override with KAUPANG_K8S_*_PORT)"
done

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
sign_cert apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign_cert admin "/O=system:masters/CN=kaupang-admin" "$CLIENT_EXT"
sign_cert kube-controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
sign_cert kube-scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
sign_cert kwok "/O=system:masters/CN=kwok" "$CLIENT_EXT"
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

# --- processes -------------------------------------------------------------------
# start NAME ARGS...: runs $BIN/NAME detached (own session), pidfile + log.
start() {
  local name="$1"
  shift
  rm -f "$PIDS/$name.pid"
  [ -f "$LOGS/$name.log" ] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
  log "starting $name (log $LOGS/$name.log)"
  # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" "$BIN/$name" "$@" \
    >"$LOGS/$name.log" 2>&1 </dev/null 8>&- &
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
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --endpoint-reconciler-type=none \
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
status:
  capacity: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti}
EOF
  done
}
log "registering $NODES kwok fake node(s)"
nodes_yaml | kc apply -f - >/dev/null
# Ready, untainted, and with a node lease renewed by this kwok.
nodes_ok() {
  local i
  for i in $(seq 0 $((NODES - 1))); do
    kc -n kube-node-lease get lease "kwok-node-$i" >/dev/null 2>&1 || return 1
    [ "$(kc get node "kwok-node-$i" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.spec.taints}')" = "True/" ] ||
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
