#!/usr/bin/env bash
# Checks that the extra Docker hosts really work for the e2e-hosts tier, the
# way the tests use them: over ssh (docker contexts), pulling from the
# harness registries through each host's forwarders, and as one swarm.
# Run by hosts-up.sh (once per engine/hosts/image combination); can be run by
# hand once hosts-up.sh has run. Removes everything it creates.
#
#   hosts-verify.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC1091
. "$KAUPANG_TOOLS_CACHE/harness.env"
# shellcheck disable=SC1091
. "$KAUPANG_TOOLS_CACHE/hosts.env"

read -r -a addrs <<<"$KAUPANG_TEST_HOSTS"
read -r -a contexts <<<"$KAUPANG_TEST_HOST_CONTEXTS"
n=${#addrs[@]}
manager="$KAUPANG_TEST_SWARM_MANAGER"
work="$(mktemp -d)"
auth_ref="$KAUPANG_TEST_AUTH_REGISTRY/kaupang-harness/hosts:check"
svc="${KAUPANG_HOSTS_PREFIX}-check"
t0="$(now_s)"

# A docker config of its own: the login below must not touch the user's.
export DOCKER_CONFIG="$work/docker-config"
mkdir -p "$DOCKER_CONFIG"
cp -r "${HOME}/.docker/contexts" "$DOCKER_CONFIG/" 2>/dev/null || true

cleanup() {
  local rc=$?
  docker --context "$manager" service rm "$svc" >/dev/null 2>&1 || true
  for c in "${contexts[@]}"; do
    docker --context "$c" rm -f "$svc-http" >/dev/null 2>&1 || true
  done
  # service removal is asynchronous: wait for its tasks' containers, then the network
  for c in "${contexts[@]}"; do
    wait_for 30 "$c: check tasks gone" \
      bash -c "[ -z \"\$(docker --context $c ps -aq --filter label=com.docker.swarm.service.name=$svc)\" ]" || true
  done
  docker --context "$manager" network rm "$svc-net" >/dev/null 2>&1 || true
  for c in "${contexts[@]}"; do
    docker --context "$c" image rm -f "$auth_ref" >/dev/null 2>&1 || true
  done
  oras manifest delete --plain-http --force -u "$KAUPANG_TEST_AUTH_USER" -p "$KAUPANG_TEST_AUTH_PASSWORD" \
    "$auth_ref" >/dev/null 2>&1 || true
  rm -rf "$work"
  ((rc == 0)) || log "hosts verify: FAILED"
}
trap cleanup EXIT

fail() { die "check failed: $*"; }
lan_get() { nsenter --net="/run/netns/$KAUPANG_TEST_LAN_NETNS" curl -fsS -m 3 "$1"; }
page_ok() { lan_get "$1" 2>/dev/null | grep -q 'kaupang-test busybox'; }

log "hosts verify: $n hosts over ssh"
# 1. each context is its own engine (own ID, own name)
ids=""
for c in "${contexts[@]}"; do
  line="$(docker --context "$c" info --format '{{.Name}} {{.ID}} {{.DockerRootDir}}')" || fail "$c: docker info over ssh"
  log "  $c: $line"
  ids+="$(cut -d' ' -f2 <<<"$line")"$'\n'
done
[[ "$(sort -u <<<"$ids" | grep -c .)" -eq "$n" ]] || fail "the hosts do not have $n distinct engine IDs"

# 2. every host pulls from the open registry at 127.0.0.1:5000 (its forwarder)
for c in "${contexts[@]}"; do
  docker --context "$c" pull -q "$KAUPANG_TEST_BASE_IMAGE_PUSHED" >/dev/null ||
    fail "$c: pull $KAUPANG_TEST_BASE_IMAGE_PUSHED"
done
log "  every host pulls $KAUPANG_TEST_BASE_IMAGE_PUSHED"

# 3. the auth registry: refused without a login, push from one host and pull on another with one
first="${contexts[1]}" second="${contexts[2]:-${contexts[0]}}"
docker --context "$first" tag "$KAUPANG_TEST_BASE_IMAGE" "$auth_ref"
if docker --context "$first" push -q "$auth_ref" >/dev/null 2>&1; then fail "$first: anonymous push to the auth registry was accepted"; fi
printf '%s' "$KAUPANG_TEST_AUTH_PASSWORD" |
  docker login -u "$KAUPANG_TEST_AUTH_USER" --password-stdin "$KAUPANG_TEST_AUTH_REGISTRY" >/dev/null 2>&1 ||
  fail "docker login $KAUPANG_TEST_AUTH_REGISTRY"
docker --context "$first" push -q "$auth_ref" >/dev/null || fail "$first: push $auth_ref with credentials"
docker --context "$second" image rm -f "$auth_ref" >/dev/null 2>&1 || true
docker --context "$second" pull -q "$auth_ref" >/dev/null || fail "$second: pull $auth_ref with credentials"
log "  auth registry: $first pushes, $second pulls (logged in), anonymous push refused"

# 4. a published port answers at the host's address, from the lan
docker --context "$first" run -d --name "$svc-http" -p 18181:8080 "$KAUPANG_TEST_BASE_IMAGE" httpd -f -p 8080 -h /www >/dev/null ||
  fail "$first: docker run -p 18181:8080"
wait_for 15 "http://${addrs[1]}:18181/" page_ok "http://${addrs[1]}:18181/" || fail "no page at http://${addrs[1]}:18181/"
docker --context "$first" rm -f "$svc-http" >/dev/null
log "  a container on $first answers at http://${addrs[1]}:18181/"

# 5. the swarm: one task per node from the auth registry, host-mode port on each
#    node, and the overlay network carries traffic between nodes
docker --context "$manager" network create -d overlay --attachable "$svc-net" >/dev/null || fail "overlay network"
docker --context "$manager" service create -d --name "$svc" --with-registry-auth \
  --replicas "$n" --replicas-max-per-node 1 --endpoint-mode dnsrr --network "$svc-net" \
  --publish mode=host,target=8080,published=18182 \
  "$auth_ref" httpd -f -p 8080 -h /www >/dev/null || fail "service create"
running() {
  [[ "$(docker --context "$manager" service ps "$svc" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" -eq "$n" ]]
}
wait_for 90 "$n running tasks of $svc" running || {
  docker --context "$manager" service ps --no-trunc "$svc" | sed 's/^/[harness]   /' >&2
  fail "swarm: $svc did not get $n running tasks"
}
nodes="$(docker --context "$manager" service ps "$svc" --filter desired-state=running --format '{{.Node}}' | sort -u | grep -c .)"
[[ "$nodes" -eq "$n" ]] || fail "swarm: tasks on $nodes nodes, expected $n"
for a in "${addrs[@]}"; do
  wait_for 15 "http://$a:18182/" page_ok "http://$a:18182/" || fail "swarm: no page at http://$a:18182/ (host-mode port)"
done
# overlay: from the manager's task, fetch the page of every other task by its overlay address
task_ips="$(docker --context "$manager" network inspect "$svc-net" -v \
  --format '{{range .Services}}{{range .Tasks}}{{.EndpointIP}} {{end}}{{end}}' 2>/dev/null || true)"
local_task="$(docker --context "$manager" ps -q --filter "label=com.docker.swarm.service.name=$svc" | head -n 1)"
[[ -n "$local_task" ]] || fail "swarm: no task of $svc on the manager"
count=0
for ip in $task_ips; do
  docker --context "$manager" exec "$local_task" timeout 5 wget -q -O /dev/null "http://$ip:8080/" ||
    fail "overlay: the manager's task cannot reach the task at $ip"
  count=$((count + 1))
done
((count == n)) || fail "overlay: found $count task addresses on $svc-net, expected $n"
log "  swarm: $n tasks on $n nodes pulled from the auth registry, host-mode ports answer, overlay reaches every task"
log "hosts verify: passed in $(elapsed "$t0")s"
