# shellcheck shell=bash
# Shared settings for the kaupang e2e Kubernetes scripts (build.sh, up.sh, down.sh).
# Sourced, never executed directly.

# shellcheck disable=SC2034  # used by the scripts that source this file
# Pinned versions. KUBE_VERSION is the one knob; etcd follows the version that
# k8s.io/kubernetes itself requires, kwok is the release built against the same
# client libraries (k8s.io/client-go v0.33.x).
KAUPANG_KUBE_VERSION="${KAUPANG_KUBE_VERSION:-v1.33.13}"
KAUPANG_KWOK_VERSION="${KAUPANG_KWOK_VERSION:-v0.7.0}"
# Bump when the build recipe changes in a way that needs a rebuild.
KAUPANG_K8S_RECIPE=1

KAUPANG_TOOLS_CACHE="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
KAUPANG_TOOLS_BIN="$KAUPANG_TOOLS_CACHE/bin"
KAUPANG_K8S_DIR="${KAUPANG_K8S_DIR:-$KAUPANG_TOOLS_CACHE/k8s-run}"

log() { printf '[k8s] %s\n' "$*" >&2; }
die() { printf '[k8s] ERROR: %s\n' "$*" >&2; exit 1; }
