#!/usr/bin/env bash
# Brings up extra Docker hosts for the e2e-hosts tier, idempotently, on top of
# docker-up.sh (the local engine and the two registries):
#   - a "lan" network namespace holding a bridge (the hosts' network) and the
#     one address the test runner's traffic to the hosts comes from;
#   - $KAUPANG_HOSTS_COUNT hosts, each a network namespace with its own
#     address, dockerd (data root, exec root, socket, pidfile, /etc/docker,
#     bridge and address pools, cgroup parent) and sshd;
#   - in every host, forwarders on its 127.0.0.1:5000/5001 to the harness
#     registries, so one image reference is valid on every engine;
#   - an ssh key, known_hosts, ssh config and an `ssh` wrapper owned by the
#     harness, and one docker context per host (ssh://root@ADDRESS);
#   - a swarm of its own among the hosts: the first is the manager, the others
#     workers (never the local engine's single-node swarm).
# Then writes $KAUPANG_TOOLS_CACHE/hosts.env for the tests to source.
#
#   hosts-up.sh [--verify]
#
# The checks (hosts-verify.sh) run once per combination of engine, hosts and
# base image (stamp file); --verify forces them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force_verify=""
for a in "$@"; do
  case "$a" in
    --verify) force_verify=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $a (usage: $0 [--verify])" ;;
  esac
done

t_start="$(now_s)"
# shellcheck disable=SC2154  # rc is assigned inside the trap
trap 'rc=$?; ((rc == 0)) || [[ -n "$KAUPANG_DIED" ]] || log "ERROR: hosts-up failed (exit $rc)"' EXIT

((EUID == 0)) || die "hosts-up.sh needs root (network namespaces, dockerd, sshd)"

# --- 1. the local engine, registries and base image ---------------------------
"$KAUPANG_HARNESS_DIR/docker-up.sh"
export PATH="$KAUPANG_TOOLS_BIN:$PATH"

ensure_apt_packages openssh-server openssh-client socat iproute2
for c in sshd ssh ssh-keygen socat ip nsenter unshare; do
  have "$c" || die "$c not found after installing packages"
done
hosts_sshd="$(command -v sshd)"
hosts_socat="$(command -v socat)"
hosts_nsenter="$(command -v nsenter)"

# --- 2. names and paths -------------------------------------------------------
P="$KAUPANG_HOSTS_PREFIX"
S="$KAUPANG_HOSTS_STATE"
R="$KAUPANG_HOSTS_RUN"
lan="$P-lan"
bridge="$P-br"
lan_addr="$KAUPANG_HOSTS_NET.1"
((KAUPANG_HOSTS_COUNT >= 2 && KAUPANG_HOSTS_COUNT <= 9)) ||
  die "KAUPANG_HOSTS_COUNT=$KAUPANG_HOSTS_COUNT: between 2 and 9 hosts"
mkdir -p "$S/client/bin" "$R"
chmod 700 "$S/client"

host_name() { echo "$P-n$1"; }
host_addr() { echo "$KAUPANG_HOSTS_NET.$((10 + $1))"; }
host_sock() { echo "$R/n$1/docker.sock"; }
hdocker() { # HOST-INDEX ARGS...: the docker CLI on a host's own socket (set-up only; tests go over ssh)
  local i="$1"
  shift
  DOCKER_HOST="unix://$(host_sock "$i")" DOCKER_CONTEXT="" docker "$@"
}
host_answers() { hdocker "$1" version --format '{{.Server.Version}}'; }
netns_exists() { [[ -e "/run/netns/$1" ]]; }

# --- 3. the lan namespace and its bridge --------------------------------------
# Nothing is added to the host's own network namespace: the bridge lives in the
# lan namespace, and the test runner reaches the hosts through it (ssh's
# ProxyCommand, or `nsenter --net` for HTTP checks).
if ! netns_exists "$lan"; then
  log "netns $lan: creating (bridge $bridge, $lan_addr/24)"
  ip netns add "$lan" || die "ip netns add $lan failed"
fi
ip -n "$lan" link set lo up
if ! ip -n "$lan" link show "$bridge" >/dev/null 2>&1; then
  ip -n "$lan" link add "$bridge" type bridge || die "cannot create bridge $bridge in $lan"
fi
[[ "$(ip -n "$lan" addr show dev "$bridge")" == *"inet $lan_addr/"* ]] ||
  ip -n "$lan" addr add "$lan_addr/24" dev "$bridge"
ip -n "$lan" link set "$bridge" up

# --- 4. registry forwarders, host side -----------------------------------------
# A host's 127.0.0.1 is its own: in every host a socat listens on
# 127.0.0.1:PORT and connects to a unix socket here, where one socat per
# registry connects on to the harness registry on the real 127.0.0.1:PORT.
# (Unix sockets are files, so they cross network namespaces.)
registry_ports=("${KAUPANG_TEST_REGISTRY##*:}" "${KAUPANG_TEST_AUTH_REGISTRY##*:}")
start_bg() { # PIDFILE LOG CMD...: start CMD in its own session, record its pid
  local pidfile="$1" logf="$2"
  shift 2
  (close_inherited_fds && exec setsid "$@" >>"$logf" 2>&1 </dev/null) &
  echo $! >"$pidfile"
}
for port in "${registry_ports[@]}"; do
  if ! pid_alive "$R/registry-$port.pid"; then
    rm -f "$R/registry-$port.sock"
    start_bg "$R/registry-$port.pid" "$R/forwarders.log" \
      "$hosts_socat" "UNIX-LISTEN:$R/registry-$port.sock,fork,mode=600" "TCP:127.0.0.1:$port"
  fi
done
for port in "${registry_ports[@]}"; do
  wait_for 10 "forwarder socket for registry :$port" test -S "$R/registry-$port.sock" ||
    die "the registry forwarder for 127.0.0.1:$port did not start (see $R/forwarders.log)"
done

# --- 5. client side ssh: key, config, wrapper ----------------------------------
client="$S/client"
[[ -s "$client/id_ed25519" ]] || {
  log "ssh: making the client key $client/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "kaupang-e2e-hosts" -f "$client/id_ed25519" || die "ssh-keygen failed"
}
cp -f "$client/id_ed25519.pub" "$S/authorized_keys"
chmod 600 "$S/authorized_keys"
write_if_changed() { # FILE MODE: stdin becomes FILE unless identical
  local tmp
  tmp="$(mktemp "$1.XXXX")"
  cat >"$tmp"
  chmod "$2" "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}
write_if_changed "$client/ssh_config" 600 <<EOF
# written by kaupang test/e2e/harness/hosts-up.sh: the e2e hosts, reached
# through the lan namespace (no address of theirs exists in the host's own
# network namespace), checked against the harness's own known_hosts.
Host $KAUPANG_HOSTS_NET.*
  User root
  IdentityFile $client/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $client/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
  ServerAliveInterval 15
  LogLevel ERROR
  ProxyCommand $hosts_nsenter --net=/run/netns/$lan $hosts_socat STDIO TCP:%h:%p
EOF
write_if_changed "$client/bin/ssh" 755 <<EOF
#!/bin/sh
# The docker CLI (contexts, DOCKER_HOST=ssh://...) and kaupang run "ssh" from
# PATH; this one uses the harness's ssh config and known_hosts.
exec /usr/bin/ssh -F "$client/ssh_config" "\$@"
EOF

# --- 6. the hosts ---------------------------------------------------------------
mkdir -p /run/sshd # sshd's compiled-in privilege separation directory
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  name="$(host_name "$i")"
  addr="$(host_addr "$i")"
  hs="$S/n$i"
  hr="$R/n$i"
  mkdir -p "$hs/data" "$hs/etc-docker" "$hr/exec"

  # network: a veth made inside the lan namespace, its peer moved into the host's
  if ! netns_exists "$name"; then
    log "netns $name: creating ($addr)"
    ip netns add "$name" || die "ip netns add $name failed"
  fi
  ip -n "$name" link set lo up
  if ! ip -n "$name" link show eth0 >/dev/null 2>&1; then
    ip -n "$lan" link del "$name" 2>/dev/null || true
    ip -n "$lan" link add "$name" type veth peer name eth0 netns "$name" ||
      die "cannot create the veth pair $lan/$name <-> $name/eth0"
  fi
  ip -n "$lan" link set "$name" master "$bridge"
  ip -n "$lan" link set "$name" up
  [[ "$(ip -n "$name" addr show dev eth0)" == *"inet $addr/"* ]] || ip -n "$name" addr add "$addr/24" dev eth0
  ip -n "$name" link set eth0 up

  # dockerd: its own everything; in a mount namespace of its own for /etc/docker
  # (key.json, so every engine has its own ID) and a UTS one for its hostname
  # (the swarm node name). nsenter --net, not `ip netns exec`: the latter
  # remounts /sys and loses the cgroup v1 mounts.
  if host_answers "$i" >/dev/null 2>&1; then
    log "$name: dockerd already answering"
  else
    if pid_alive "$hr/dockerd.pid"; then
      stop_pidfile "$hr/dockerd.pid" "$name dockerd (not answering)" 30
    fi
    log "$name: starting dockerd (log $hs/dockerd.log)"
    rm -f "$(host_sock "$i")"
    (close_inherited_fds && exec setsid unshare --mount --uts --propagation private -- /bin/sh -c '
      set -e
      hostname "$1"
      mount --bind "$2" /etc/docker
      shift 2
      exec "$@"' kmh-dockerd "$name" "$hs/etc-docker" \
      "$hosts_nsenter" --net="/run/netns/$name" -- \
      dockerd \
      --data-root "$hs/data" \
      --exec-root "$hr/exec" \
      --pidfile "$hr/dockerd.pid" \
      -H "unix://$(host_sock "$i")" \
      --tls=false \
      --bip "10.214.$i.1/24" \
      --default-address-pool "base=10.$((220 + i)).0.0/16,size=24" \
      --cgroup-parent "$name" \
      --log-level warn \
      >>"$hs/dockerd.log" 2>&1 </dev/null) &
    if ! wait_for 60 "$name dockerd" host_answers "$i"; then
      tail -n 25 "$hs/dockerd.log" | sed 's/^/[harness]   dockerd.log: /' >&2
      die "$name: dockerd did not answer on $(host_sock "$i") within 60s"
    fi
  fi

  # sshd, in the host's network namespace, handing `docker system dial-stdio`
  # that host's engine
  [[ -s "$hs/ssh_host_ed25519_key" ]] ||
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$hs/ssh_host_ed25519_key" || die "ssh-keygen (host key) failed"
  write_if_changed "$hs/sshd_config" 600 <<EOF
# written by kaupang test/e2e/harness/hosts-up.sh
ListenAddress $addr:22
HostKey $hs/ssh_host_ed25519_key
PidFile $hr/sshd.pid
AuthorizedKeysFile $S/authorized_keys
# The cache may sit under a world-writable directory (KAUPANG_TOOLS_CACHE=/tmp/...),
# whose modes StrictModes refuses for the key file: "Permission denied (publickey)".
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
# docker opens one session per CLI call; compose and parallel deploys several at once
MaxStartups 200:30:400
MaxSessions 100
SetEnv DOCKER_HOST=unix://$(host_sock "$i")
EOF
  if pid_alive "$hr/sshd.pid" && cmp -s "$hs/sshd_config" "$hr/sshd_config.running"; then
    :
  else
    pid_alive "$hr/sshd.pid" && stop_pidfile "$hr/sshd.pid" "$name sshd (config changed)" 10
    log "$name: starting sshd on $addr:22"
    (close_inherited_fds && exec "$hosts_nsenter" --net="/run/netns/$name" -- "$hosts_sshd" -f "$hs/sshd_config" -E "$hs/sshd.log") ||
      die "$name: sshd did not start (see $hs/sshd.log)"
    cp -f "$hs/sshd_config" "$hr/sshd_config.running"
    wait_for 10 "$name sshd pidfile" test -s "$hr/sshd.pid" || die "$name: sshd wrote no pidfile"
  fi

  # registry forwarders, host side of the namespace
  for port in "${registry_ports[@]}"; do
    if ! pid_alive "$hr/registry-$port.pid"; then
      start_bg "$hr/registry-$port.pid" "$R/forwarders.log" \
        "$hosts_nsenter" --net="/run/netns/$name" -- \
        "$hosts_socat" "TCP-LISTEN:$port,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$R/registry-$port.sock"
    fi
  done
done

# known_hosts: the hosts' own keys, by address
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  printf '%s %s\n' "$(host_addr "$i")" "$(cut -d' ' -f1,2 "$S/n$i/ssh_host_ed25519_key.pub")"
done | write_if_changed "$client/known_hosts" 600

# --- 7. docker contexts, and the hosts over ssh --------------------------------
ssh_env=(env "PATH=$client/bin:$PATH")
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  name="$(host_name "$i")"
  want="ssh://root@$(host_addr "$i")"
  have_ep="$(docker context inspect "$name" --format '{{.Endpoints.docker.Host}}' 2>/dev/null || true)"
  if [[ "$have_ep" != "$want" ]]; then
    [[ -n "$have_ep" ]] && docker context rm -f "$name" >/dev/null
    docker context create "$name" --description "kaupang e2e host $i" --docker "host=$want" >/dev/null ||
      die "docker context create $name failed"
  fi
  for port in "${registry_ports[@]}"; do
    wait_for 10 "$name: the registry on its 127.0.0.1:$port" \
      "$hosts_nsenter" --net="/run/netns/$name" -- bash -c \
      ". '$KAUPANG_HARNESS_DIR/lib.sh'; registry_answers 127.0.0.1:$port" ||
      die "$name: no registry answers on its 127.0.0.1:$port (see $R/forwarders.log)"
  done
done
# Over ssh, all hosts at once (each check is an ssh handshake and a dial-stdio, ~1 s).
over_ssh() { wait_for 20 "$1 over ssh" "${ssh_env[@]}" docker --context "$1" version; }
ssh_pids=()
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  over_ssh "$(host_name "$i")" &
  ssh_pids+=($!)
done
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  if ! wait "${ssh_pids[i - 1]}"; then
    "${ssh_env[@]}" docker --context "$(host_name "$i")" version 2>&1 | tail -n 5 | sed 's/^/[harness]   /' >&2
    die "$(host_name "$i"): docker over ssh://root@$(host_addr "$i") does not answer (see $S/n$i/sshd.log)"
  fi
done

# --- 8. the base image on every host -------------------------------------------
base_id="$(docker image inspect -f '{{.Id}}' "$KAUPANG_TEST_BASE_IMAGE")"
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  if [[ "$(hdocker "$i" image inspect -f '{{.Id}}' "$KAUPANG_TEST_BASE_IMAGE" 2>/dev/null || true)" != "$base_id" ]]; then
    log "$(host_name "$i"): loading $KAUPANG_TEST_BASE_IMAGE"
    docker save "$KAUPANG_TEST_BASE_IMAGE" | hdocker "$i" load -q >/dev/null || die "loading the base image into $(host_name "$i") failed"
  fi
done

# --- 9. the hosts' own swarm ----------------------------------------------------
manager_addr="$(host_addr 1)"
# Straight from the engines' sockets: `docker info` costs ~0.25 s a call.
engine_get() { curl -s -m 10 --unix-socket "$(host_sock "$1")" "http://engine$2"; }
# json_str JSON KEY: the first string value of "KEY" in JSON (enough for /info's Swarm fields)
json_str() {
  local re="\"$2\":\"([^\"]*)\""
  [[ "$1" =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
  return 0
}
# swarm_self I: "LocalNodeState NodeID ClusterID" of host I (a worker's ClusterID is empty: "-")
swarm_self() {
  local info swarm
  info="$(engine_get "$1" /info)"
  swarm="${info#*\"Swarm\":}"
  local state id cluster=""
  state="$(json_str "$swarm" LocalNodeState)"
  id="$(json_str "$swarm" NodeID)"
  [[ "$swarm" == *'"Cluster":{'* ]] && cluster="$(json_str "${swarm#*\"Cluster\":\{}" ID)"
  echo "${state:--} ${id:--} ${cluster:--}"
}
# swarm_nodes: "ID STATE AVAILABILITY HOSTNAME" per node, as the manager sees them
swarm_nodes() {
  hdocker 1 node ls --format '{{.ID}} {{.Status}} {{.Availability}} {{.Hostname}}' | tr '[:upper:]' '[:lower:]'
}
read -r m_state m_id m_cluster <<<"$(swarm_self 1)"
if [[ "$m_state" != active ]]; then
  log "swarm: init on $(host_name 1) (advertise $manager_addr)"
  hdocker 1 swarm init --advertise-addr "$manager_addr" --listen-addr "$manager_addr:2377" \
    --default-addr-pool 10.216.0.0/16 >/dev/null || die "swarm init on $(host_name 1) failed"
  read -r m_state m_id m_cluster <<<"$(swarm_self 1)"
fi
# worker_member I: host I is an active swarm node the manager sees ready
worker_member() {
  local state id cluster
  read -r state id cluster <<<"$(swarm_self "$1")"
  [[ "$state" == active && $'\n'"$(swarm_nodes)" == *$'\n'"$id ready "* ]]
}
info_pids=()
for ((i = 2; i <= KAUPANG_HOSTS_COUNT; i++)); do
  swarm_self "$i" >"$R/n$i/swarm" &
  info_pids+=($!)
done
# (by pid: a bare `wait` would also wait for the daemons this script started)
wait "${info_pids[@]}"
worker_token=""
for ((i = 2; i <= KAUPANG_HOSTS_COUNT; i++)); do
  read -r state id _ <"$R/n$i/swarm"
  # a restarted worker reconnects by itself within seconds
  if [[ "$state" == active || "$state" == pending ]] &&
    wait_for 30 "$(host_name "$i") back in the swarm" worker_member "$i"; then
    continue
  fi
  [[ "$state" == inactive ]] || hdocker "$i" swarm leave --force >/dev/null 2>&1 || true
  log "swarm: $(host_name "$i") joins as a worker"
  [[ -n "$worker_token" ]] || worker_token="$(hdocker 1 swarm join-token -q worker)"
  hdocker "$i" swarm join --token "$worker_token" --advertise-addr "$(host_addr "$i")" \
    --listen-addr "$(host_addr "$i"):2377" "$manager_addr:2377" >/dev/null ||
    die "$(host_name "$i"): swarm join failed"
done
node_ids=("$m_id")
for ((i = 2; i <= KAUPANG_HOSTS_COUNT; i++)); do
  read -r _ id _ <<<"$(swarm_self "$i")"
  node_ids+=("$id")
done
# Entries of nodes that left (an earlier join of the same host) are removed; a
# node left drained or paused by an interrupted test is made active again.
while read -r id state availability hostname; do
  if [[ " ${node_ids[*]} " != *" $id "* ]]; then
    hdocker 1 node rm --force "$id" >/dev/null 2>&1 || true
  elif [[ "$availability" != active ]]; then
    log "swarm: node $hostname was left $availability; making it active"
    hdocker 1 node update --availability active "$id" >/dev/null
  fi
done < <(swarm_nodes)
nodes_ready() {
  local list id
  list="$(swarm_nodes)"
  for id in "${node_ids[@]}"; do
    [[ "$list" == *"$id ready active "* ]] || return 1
  done
}
wait_for 60 "all $KAUPANG_HOSTS_COUNT swarm nodes ready and active" nodes_ready ||
  die "swarm: not all nodes are ready: $(swarm_nodes | tr '\n' ';')"

# --- 10. hosts.env ---------------------------------------------------------------
addrs="" contexts="" names=""
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  addrs+="${addrs:+ }$(host_addr "$i")"
  contexts+="${contexts:+ }$(host_name "$i")"
done
env_file="$KAUPANG_TOOLS_CACHE/hosts.env"
{
  echo "# written by kaupang test/e2e/harness/hosts-up.sh; source it (after harness.env) before e2e-hosts tests"
  echo "export PATH=\"$client/bin:\$PATH\" # the ssh wrapper: the harness's ssh config and known_hosts"
  echo "export KAUPANG_TEST_HOSTS=\"$addrs\""
  echo "export KAUPANG_TEST_HOST_CONTEXTS=\"$contexts\""
  echo "export KAUPANG_TEST_HOST_USER=root"
  echo "export KAUPANG_TEST_SWARM_MANAGER=$(host_name 1)"
  echo "export KAUPANG_TEST_LAN_NETNS=$lan"
  echo "export KAUPANG_TEST_LAN_ADDRESS=$lan_addr"
  echo "export KAUPANG_TEST_HOSTS_SSH_CONFIG=\"$client/ssh_config\""
} >"$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"

# --- 11. checks (once per engine/hosts/image combination) ------------------------
engine_version="$(hdocker 1 version --format '{{.Server.Version}}')"
verify_stamp="$S/verified.stamp"
verify_key="engine=$engine_version hosts=$KAUPANG_HOSTS_COUNT net=$KAUPANG_HOSTS_NET cluster=$m_cluster image=$base_id"
if [[ -z "$force_verify" && -f "$verify_stamp" && "$(cat "$verify_stamp")" == "$verify_key" ]]; then
  log "hosts checks: already passed (use --verify to rerun)"
else
  rm -f "$verify_stamp"
  "$KAUPANG_HARNESS_DIR/hosts-verify.sh" || die "hosts checks failed (see above)"
  printf '%s\n' "$verify_key" >"$verify_stamp"
fi

log "---- hosts ----"
for ((i = 1; i <= KAUPANG_HOSTS_COUNT; i++)); do
  log "$(host_name "$i")  ssh://root@$(host_addr "$i")  engine $engine_version  swarm $(hdocker 1 node inspect -f '{{.Spec.Role}}' "${node_ids[i - 1]}")"
done
log "lan         netns $lan ($lan_addr), bridge $bridge"
log "env file    $env_file"
log "hosts up in $(elapsed "$t_start")s"
