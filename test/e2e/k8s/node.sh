# shellcheck shell=bash
# The real node of the e2e cluster: containerd (its own socket, root and state),
# the CNI bridge, kubelet, kube-proxy and CoreDNS. Sourced by up.sh and down.sh
# after lib.sh; never executed directly. Everything lives under
# $KAUPANG_K8S_DIR/node except the containerd socket/state ($KNODE_RUN), the
# bridge ($KNODE_BRIDGE) and the iptables rules kube-proxy and the CNI plugins
# write (removed again by knode_stop).

KNODE_DIR="$KAUPANG_K8S_DIR/node"
KNODE_SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops vm.panic_on_oom"

knode_prefix_len() { echo "${KNODE_POD_CIDR#*/}"; }

# Registries containerd pulls from (plain HTTP on loopback, as the harness runs them).
knode_registries() {
  printf '%s\n' "${KAUPANG_TEST_REGISTRY:-127.0.0.1:5000}" "${KAUPANG_TEST_AUTH_REGISTRY:-127.0.0.1:5001}"
}

# Write every config file of the node (idempotent: same settings, same files).
knode_write_config() {
  local pki="$1" reg upstreams
  mkdir -p "$KNODE_DIR"/{containerd/root,containerd/certs.d,containerd/opt,cni/net.d,cni/ipam,kubelet,pod-logs}

  cat >"$KNODE_DIR/containerd/config.toml" <<EOF
# containerd for the kaupang e2e node: its own socket, root and state, so the
# Docker engine's containerd is never touched. Written by test/e2e/k8s/up.sh.
version = 2
root = "$KNODE_DIR/containerd/root"
state = "$KNODE_RUN/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$KNODE_SOCK"
[ttrpc]
  address = "$KNODE_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$KNODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$KNODE_PAUSE_IMAGE"
  # The VM withholds CAP_SYS_RESOURCE: a negative oom_score_adj (what the
  # sandbox asks for) would make runc fail every pod sandbox.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$KNODE_DIR/cni/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$KNODE_DIR/containerd/certs.d"
EOF
  # The harness registries speak plain HTTP on loopback.
  for reg in $(knode_registries); do
    mkdir -p "$KNODE_DIR/containerd/certs.d/$reg"
    cat >"$KNODE_DIR/containerd/certs.d/$reg/hosts.toml" <<EOF
server = "http://$reg"
[host."http://$reg"]
  capabilities = ["pull", "resolve"]
EOF
  done

  # bridge + portmap + firewall: Docker's FORWARD policy is DROP, and the
  # firewall plugin's CNI-FORWARD chain lets pod traffic through.
  cat >"$KNODE_DIR/cni/net.d/10-knode.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "knode-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$KNODE_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$KNODE_POD_CIDR", "gateway": "$KNODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$KNODE_DIR/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } },
    { "type": "firewall", "backend": "iptables" }
  ]
}
EOF

  # Pods with dnsPolicy Default (CoreDNS) get the host's resolvers, minus
  # loopback ones (those would be the pod itself).
  upstreams="$(awk '$1 == "nameserver" && $2 !~ /^(127\.|::1$)/ { print "nameserver " $2 }' /etc/resolv.conf 2>/dev/null || true)"
  printf '%s\n' "$upstreams" >"$KNODE_DIR/resolv.conf"

  cat >"$KNODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $KNODE_IP
port: $KNODE_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KNODE_KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
# cgroup v1 without systemd.
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$KNODE_SOCK
clusterDomain: cluster.local
clusterDNS: [$KNODE_DNS_IP]
resolvConf: $KNODE_DIR/resolv.conf
podLogsDir: $KNODE_DIR/pod-logs
failSwapOn: false
serializeImagePulls: false
# A shared test machine: never evict for disk or memory the others use.
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
nodeStatusUpdateFrequency: 5s
shutdownGracePeriod: 0s
rotateCertificates: false
serverTLSBootstrap: false
EOF

  cat >"$KNODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
# This kernel has no IPVS.
mode: iptables
clientConnection: {kubeconfig: $KAUPANG_K8S_DIR/kube-proxy.kubeconfig}
hostnameOverride: $KNODE_NAME
clusterCIDR: $KNODE_POD_CIDR
healthzBindAddress: 127.0.0.1:$KNODE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KNODE_PROXY_METRICS_PORT
# NodePorts only on the node's own address, never on the host's other ones.
nodePortAddresses: ["$KNODE_IP/32"]
# Leave the host's conntrack settings alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {minSyncPeriod: 0s, syncPeriod: 30s}
EOF
}

# The bridge the CNI plugin attaches pods to, made in advance so the node's
# address exists before the apiserver advertises it and kubelet binds to it.
knode_network() {
  local cidr_route
  if ! ip link show "$KNODE_BRIDGE" >/dev/null 2>&1; then
    cidr_route="$(ip -4 route show "$KNODE_POD_CIDR" 2>/dev/null || true)"
    [ -z "$cidr_route" ] ||
      die "$KNODE_POD_CIDR is already routed on this machine ($cidr_route); set KAUPANG_K8S_POD_CIDR and KAUPANG_K8S_NODE_IP"
    ip link add "$KNODE_BRIDGE" type bridge || die "cannot create bridge $KNODE_BRIDGE"
  fi
  ip -4 addr show dev "$KNODE_BRIDGE" | grep -q "inet $KNODE_IP/" ||
    ip addr add "$KNODE_IP/$(knode_prefix_len)" dev "$KNODE_BRIDGE" || die "cannot address $KNODE_BRIDGE"
  ip link set "$KNODE_BRIDGE" up
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || sysctl -qw net.ipv4.ip_forward=1
  # Service traffic between pods on one bridge must pass iptables (kube-proxy's DNAT).
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ||
    die "br_netfilter is not loaded (no /proc/sys/net/bridge): kube-proxy's Services cannot work between pods"
  [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] || sysctl -qw net.bridge.bridge-nf-call-iptables=1
}

# kubelet sets a few kernel tunables; keep the host's values so down.sh can put them back.
knode_save_sysctls() {
  local k
  [ -f "$KNODE_DIR/sysctl.saved" ] && return 0
  for k in $KNODE_SYSCTLS; do printf '%s=%s\n' "$k" "$(sysctl -n "$k")"; done >"$KNODE_DIR/sysctl.saved"
}

knode_restore_sysctls() {
  [ -f "$KNODE_DIR/sysctl.saved" ] || return 0
  sysctl -q -p "$KNODE_DIR/sysctl.saved" >/dev/null 2>&1 || log "could not restore $(tr '\n' ' ' <"$KNODE_DIR/sysctl.saved")"
  rm -f "$KNODE_DIR/sysctl.saved"
}

knode_containerd_ok() { knode_ctr version >/dev/null 2>&1; }

# Another run dir's node (one per machine) answers on our socket?
knode_foreign_owner() {
  local owner
  [ -S "$KNODE_SOCK" ] && knode_containerd_ok || return 1
  owner="$(cat "$KNODE_RUN/owner" 2>/dev/null || true)"
  [ -n "$owner" ] && [ "$owner" != "$KAUPANG_K8S_DIR" ] && echo "$owner"
}

# Import the node's images from their tarballs: skipped when the same image is there.
knode_import() { # NAME REF TARBALL
  local name="$1" ref="$2" tarball="$3" want
  # The image ID is the digest of its config, which names the config file in the tarball.
  want="$(tar -xOf "$tarball" manifest.json | sed -n 's/.*"Config":"\([0-9a-f]*\)\.json".*/sha256:\1/p')"
  knode_crictl inspecti -o go-template --template '{{.status.id}}' "$ref" 2>/dev/null | grep -qx "$want" &&
    return 0
  knode_ctr images import "$tarball" >/dev/null || die "ctr images import $tarball failed"
  knode_ctr images ls "name==$ref" | grep -q . || die "$tarball did not import as $ref"
  log "imported $name image $ref"
}

# The local base image of the docker harness, as it is in the engine (no pull).
knode_import_base() {
  local ref="${KAUPANG_TEST_BASE_IMAGE:-kaupang-test/busybox:latest}" id stamp="$KNODE_DIR/base-image.id"
  command -v docker >/dev/null && id="$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null)" || {
    log "base image $ref is not in the Docker engine (run test/e2e/harness/docker-up.sh): not imported"
    return 0
  }
  [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && knode_crictl inspecti "$ref" >/dev/null 2>&1 && return 0
  docker save "$ref" | knode_ctr images import - >/dev/null || die "importing $ref into the node failed"
  echo "$id" >"$stamp"
  log "imported the base image $ref ($id)"
}

# CoreDNS as kubeadm deploys it, from the locally built image (never pulled).
knode_coredns_manifest() {
  local forward=""
  grep -q '^nameserver' "$KNODE_DIR/resolv.conf" && forward="forward . /etc/resolv.conf"
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health {
            lameduck 2s
        }
        ready
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        $forward
        cache 30
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
  labels: {k8s-app: kube-dns}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      nodeSelector: {kubernetes.io/hostname: $KNODE_NAME}
      tolerations:
      - {key: CriticalAddonsOnly, operator: Exists}
      terminationGracePeriodSeconds: 5
      containers:
      - name: coredns
        image: $KNODE_COREDNS_IMAGE
        imagePullPolicy: Never
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        - {name: metrics, containerPort: 9153, protocol: TCP}
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          initialDelaySeconds: 10
        resources:
          requests: {cpu: 50m, memory: 32Mi}
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap:
          name: coredns
          items: [{key: Corefile, path: Corefile}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $KNODE_DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
  - {name: metrics, port: 9153, protocol: TCP}
EOF
}

# Paths mounted under the node's directories (deepest first), for the unmount.
knode_mounts() {
  awk -v a="$KNODE_DIR" -v b="$KNODE_RUN" '
    { p = $5; gsub(/\\040/, " ", p) }
    p == a || index(p, a "/") == 1 || p == b || index(p, b "/") == 1 { print p }
  ' /proc/self/mountinfo | sort -r
}

# Stop the node: kubelet and kube-proxy first, then every pod sandbox (so the
# CNI plugins remove their veths and iptables entries), then containerd and any
# shim of ours that outlived it, then what is left mounted, kube-proxy's
# iptables rules, and the kernel tunables kubelet changed. Processes are found
# by pidfile, or by a command line naming our own socket (the shims).
# stop_group comes from down.sh.
knode_stop() {
  local pid m shims=""
  stop_group kube-proxy kubelet
  if component_pid containerd >/dev/null && [ -x "$KAUPANG_TOOLS_BIN/crictl" ]; then
    if [ -n "$(knode_crictl pods -q 2>/dev/null)" ]; then
      knode_crictl rmp --force --all >/dev/null 2>&1 || log "crictl rmp --all failed; stopping containerd anyway"
      log "removed the node's pod sandboxes"
    fi
  fi
  stop_group containerd
  for pid in $(grep -lsF -- "$KNODE_SOCK" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q '^containerd-shim' && shims+=" $pid"
  done
  if [ -n "$shims" ]; then
    log "stopping shims that outlived containerd:$shims"
    # shellcheck disable=SC2086  # one pid per word
    kill -KILL $shims 2>/dev/null || true
  fi
  for m in $(knode_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  if [ -x "$KAUPANG_TOOLS_BIN/kube-proxy" ] && iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1; then
    mkdir -p "$KAUPANG_K8S_DIR/logs"
    # It also tries IPVS and nftables, which this host lacks, and exits 1 for that:
    # what counts is whether its iptables rules are gone.
    "$KAUPANG_TOOLS_BIN/kube-proxy" --cleanup >"$KAUPANG_K8S_DIR/logs/kube-proxy-cleanup.log" 2>&1 || true
    ! iptables -t nat -S KUBE-SERVICES >/dev/null 2>&1 ||
      log "kube-proxy --cleanup left its rules (see $KAUPANG_K8S_DIR/logs/kube-proxy-cleanup.log)"
  fi
  knode_drop_kube_chains
  knode_restore_sysctls
}

# What --cleanup leaves: the canary chains kubelet and kube-proxy make in every
# table, kubelet's KUBE-FIREWALL and KUBE-IPTABLES-HINT. The node is the only
# Kubernetes on the machine (one per machine), so every KUBE-* chain is its own.
knode_drop_kube_chains() {
  local table rules rule chain
  for table in filter nat mangle; do
    # Jumps from the built-in (or Docker's) chains into a KUBE- chain first, then the chains.
    rules="$(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-A" && $2 !~ /^KUBE-/ && / -j KUBE-/')"
    while read -r rule; do
      # shellcheck disable=SC2086  # the rule's words, as iptables -S printed them
      [ -z "$rule" ] || iptables -t "$table" ${rule/#-A/-D} 2>/dev/null || true
    done <<<"$rules"
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || log "could not remove iptables chain $chain ($table)"
    done
  done
}

# --clean: also the bridge, the socket/state dir and the containerd root.
knode_clean() {
  ip link show "$KNODE_BRIDGE" >/dev/null 2>&1 && ip link del "$KNODE_BRIDGE"
  if [ "$(cat "$KNODE_RUN/owner" 2>/dev/null)" = "$KAUPANG_K8S_DIR" ]; then rm -rf "$KNODE_RUN"; fi
  if [ -n "$(knode_mounts)" ]; then die "still mounted under $KNODE_DIR: $(knode_mounts | tr '\n' ' ')"; fi
}
