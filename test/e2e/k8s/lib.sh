# shellcheck shell=bash
# Shared settings for the kaupang e2e Kubernetes scripts (build.sh, up.sh, down.sh,
# selftest.sh). Sourced, never executed directly.

# shellcheck disable=SC2034  # used by the scripts that source this file
# Pinned versions. KUBE_VERSION is the one knob; etcd follows the version that
# k8s.io/kubernetes itself requires, kwok is the release built against the same
# client libraries (k8s.io/client-go v0.33.x). kubelet and kube-proxy come from
# the same k8s.io/kubernetes release as the control plane.
KAUPANG_KUBE_VERSION="${KAUPANG_KUBE_VERSION:-v1.33.13}"
KAUPANG_KWOK_VERSION="${KAUPANG_KWOK_VERSION:-v0.7.0}"
# CoreDNS as kubeadm v1.33 deploys it; crictl is the oldest cri-tools release the
# Go module proxy serves here (v1.33.x is refused), and it speaks CRI v1 as
# containerd 1.6 does.
KAUPANG_COREDNS_VERSION="${KAUPANG_COREDNS_VERSION:-v1.12.0}"
KAUPANG_CRICTL_VERSION="${KAUPANG_CRICTL_VERSION:-v1.34.0}"
# Bump when the build recipe changes in a way that needs a rebuild.
KAUPANG_K8S_RECIPE=1
# Bump when the node images (pause, CoreDNS) are packed differently.
KAUPANG_NODE_IMAGE_RECIPE=1

KAUPANG_TOOLS_CACHE="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
KAUPANG_TOOLS_BIN="$KAUPANG_TOOLS_CACHE/bin"
KAUPANG_NODE_IMAGES="$KAUPANG_TOOLS_CACHE/images"
KAUPANG_K8S_DIR="${KAUPANG_K8S_DIR:-$KAUPANG_TOOLS_CACHE/k8s-run}"

# --- the real node ---------------------------------------------------------------
# One per machine: its bridge, its iptables rules (kube-proxy, CNI) and its
# containerd's state directory are machine-wide, so they carry the knode- prefix.
KNODE_NAME="kaupang-node"
KNODE_BRIDGE="knode-br0"
KNODE_POD_CIDR="${KAUPANG_K8S_POD_CIDR:-10.244.0.0/24}"
# The bridge's address: the pods' gateway, the node's InternalIP, and the
# address the apiserver advertises (pods reach it through the kubernetes Service).
KNODE_IP="${KAUPANG_K8S_NODE_IP:-10.244.0.1}"
KNODE_SERVICE_CIDR="10.96.0.0/16"
KNODE_API_SERVICE_IP="10.96.0.1"
KNODE_DNS_IP="10.96.0.10"
# containerd's socket and state (tmpfs); its root (images, snapshots) is under the run dir.
KNODE_RUN="/run/knode-containerd"
KNODE_SOCK="$KNODE_RUN/containerd.sock"
KNODE_KUBELET_PORT="${KAUPANG_K8S_KUBELET_PORT:-10250}"
KNODE_KUBELET_HEALTHZ_PORT="${KAUPANG_K8S_KUBELET_HEALTHZ_PORT:-10248}"
KNODE_PROXY_HEALTHZ_PORT="${KAUPANG_K8S_PROXY_HEALTHZ_PORT:-10256}"
KNODE_PROXY_METRICS_PORT="${KAUPANG_K8S_PROXY_METRICS_PORT:-10249}"
# Images the node has without any pull (imported by up.sh from build.sh's tarballs).
KNODE_PAUSE_IMAGE="kaupang.local/pause:$KAUPANG_NODE_IMAGE_RECIPE"
KNODE_COREDNS_IMAGE="kaupang.local/coredns:$KAUPANG_COREDNS_VERSION"
# Fake (kwok) nodes carry this taint and the label type=kwok: only pods that
# tolerate the taint and select the label (the scale test's) land on them.
KWOK_TAINT_KEY="kwok.x-k8s.io/node"

log() { printf '[k8s] %s\n' "$*" >&2; }
die() { printf '[k8s] ERROR: %s\n' "$*" >&2; exit 1; }

# Install the Debian packages that are missing (the harness's apt helper, in a subshell).
ensure_packages() {
  bash -c '. "$1/../harness/lib.sh"; shift; ensure_apt_packages "$@"' _ "$(dirname "${BASH_SOURCE[0]}")" "$@" ||
    die "could not install $*"
}

# The executable a component runs from (the node's runtime comes from Debian).
component_bin() {
  case "$1" in
    containerd) command -v containerd || echo /usr/bin/containerd ;;
    *) echo "$KAUPANG_TOOLS_BIN/$1" ;;
  esac
}

# pid of a component if its pidfile ($KAUPANG_K8S_DIR/pids/NAME.pid) names a
# live process of that component's executable (pids get reused).
component_pid() {
  local f="$KAUPANG_K8S_DIR/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | head -n 1 | grep -qx "$(component_bin "$1")" || return 1
  echo "$pid"
}

# crictl against the node's containerd.
knode_crictl() {
  "$KAUPANG_TOOLS_BIN/crictl" --config /dev/null --runtime-endpoint "unix://$KNODE_SOCK" --image-endpoint "unix://$KNODE_SOCK" \
    --timeout 10s "$@"
}
# ctr in the CRI namespace of the node's containerd.
knode_ctr() { ctr --address "$KNODE_SOCK" --namespace k8s.io "$@"; }
