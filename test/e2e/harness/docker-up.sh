#!/usr/bin/env bash
# Brings up everything the e2e-docker tier needs, idempotently:
#   dockerd (Debian docker.io), compose + oras (built from Go modules),
#   a single-node swarm, an open registry on 127.0.0.1:5000, an htpasswd
#   registry on 127.0.0.1:5001, and a locally made busybox base image.
# Then writes $KAUPANG_TOOLS_CACHE/harness.env for the tests to source.
#
#   docker-up.sh [--verify]
#
# The checks that run containers/builds are done once per combination of
# engine, compose version and base image (stamp file); --verify forces them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

force_verify=""
for a in "$@"; do
  case "$a" in
    --verify) force_verify=1 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $a (usage: $0 [--verify])" ;;
  esac
done

t_start="$(now_s)"
mkdir -p "$KAUPANG_TOOLS_CACHE" "$KAUPANG_TOOLS_BIN"
export PATH="$KAUPANG_TOOLS_BIN:$PATH"
# shellcheck disable=SC2154  # rc is assigned inside the trap
trap 'rc=$?; ((rc == 0)) || [[ -n "$KAUPANG_DIED" ]] || log "ERROR: docker-up failed (exit $rc)"' EXIT

# --- 1. packages ------------------------------------------------------------
ensure_apt_packages docker.io docker-registry busybox-static apache2-utils hyperfine
for c in dockerd docker-registry busybox htpasswd; do
  have "$c" || die "$c not found after installing packages"
done
# The preinstalled client (28.x, /usr/local/bin) must win over docker.io's 20.10 one.
log "docker client: $(command -v docker) ($(docker --version))"

# --- 2. dockerd -------------------------------------------------------------
dockerd_pidfile="$KAUPANG_TOOLS_CACHE/dockerd.pid"
dockerd_log="$KAUPANG_TOOLS_CACHE/dockerd.log"
if docker_answers; then
  log "dockerd: already answering"
else
  log "dockerd: starting (log $dockerd_log)"
  (close_inherited_fds && exec setsid dockerd >>"$dockerd_log" 2>&1 </dev/null) &
  echo $! >"$dockerd_pidfile"
  if ! wait_for 60 "docker info" docker_answers; then
    pid_alive "$dockerd_pidfile" || log "dockerd exited"
    tail -n 25 "$dockerd_log" | sed 's/^/[harness]   dockerd.log: /' >&2
    die "dockerd did not answer 'docker info' within 60s (see $dockerd_log)"
  fi
  log "dockerd: up (pid $(cat "$dockerd_pidfile"))"
fi
engine_version="$(docker version --format '{{.Server.Version}}')"
api_version="$(docker version --format '{{.Server.APIVersion}}')"
log "engine $engine_version, API $api_version (client negotiates down)"

# --- 3. tools ---------------------------------------------------------------
"$KAUPANG_HARNESS_DIR/build-tools.sh" compose oras
docker compose version >/dev/null 2>&1 || die "docker does not find the compose plugin"

# --- 4. swarm ---------------------------------------------------------------
swarm_state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
case "$swarm_state" in
  active) log "swarm: already active" ;;
  inactive)
    log "swarm: init --advertise-addr 127.0.0.1"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null || die "docker swarm init failed"
    ;;
  *) die "swarm is in state '$swarm_state'; fix it by hand (docker swarm leave --force) and rerun" ;;
esac

# --- 5. registries ----------------------------------------------------------
reg_root="$KAUPANG_TOOLS_CACHE/registry"

write_registry_config() { # NAME ADDR [HTPASSWD]
  local dir="$reg_root/$1" tmp
  mkdir -p "$dir/data"
  tmp="$(mktemp "$dir/config.yml.XXXX")"
  {
    echo "# written by kaupang test/e2e/harness/docker-up.sh"
    echo "version: 0.1"
    echo "log:"
    echo "  level: info"
    echo "storage:"
    echo "  filesystem:"
    echo "    rootdirectory: $dir/data"
    echo "  delete:"
    echo "    enabled: true"
    echo "  cache:"
    echo "    blobdescriptor: inmemory"
    echo "http:"
    echo "  addr: $2"
    echo "  secret: kaupang-e2e-$1"
    echo "  headers:"
    echo "    X-Content-Type-Options: [nosniff]"
    if [[ -n "${3:-}" ]]; then
      echo "auth:"
      echo "  htpasswd:"
      echo "    realm: kaupang-e2e"
      echo "    path: $3"
    fi
  } >"$tmp"
  if cmp -s "$tmp" "$dir/config.yml"; then rm -f "$tmp"; else mv -f "$tmp" "$dir/config.yml"; fi
}

# start_registry NAME ADDR EXPECTED_CODE: EXPECTED_CODE is what GET /v2/ must
# answer without credentials (200 open, 401 auth). Sets reg_started=1 if it
# had to start one.
start_registry() {
  local name="$1" addr="$2" expect="$3" dir="$reg_root/$1" code
  reg_started=""
  code="$(http_code "http://$addr/v2/")"
  if [[ "$code" == "$expect" ]]; then
    log "registry $name: already answering on $addr"
    return 0
  fi
  if [[ "$code" != 000 && -n "$code" ]]; then
    die "something else answers on $addr (GET /v2/ -> $code, expected $expect); stop it first"
  fi
  log "registry $name: starting on $addr (log $dir/registry.log)"
  (close_inherited_fds && exec setsid docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null) &
  echo $! >"$dir/registry.pid"
  if ! wait_for 20 "registry $name on $addr" registry_answers "$addr"; then
    tail -n 15 "$dir/registry.log" | sed 's/^/[harness]   registry.log: /' >&2
    die "registry $name did not answer on http://$addr/v2/ within 20s"
  fi
  code="$(http_code "http://$addr/v2/")"
  [[ "$code" == "$expect" ]] || die "registry $name answers $code on /v2/, expected $expect"
  reg_started=1
}

htpasswd_file="$reg_root/auth/htpasswd"
mkdir -p "$reg_root/open" "$reg_root/auth"
if [[ ! -s "$htpasswd_file" ]] ||
  ! htpasswd -vb "$htpasswd_file" "$KAUPANG_TEST_AUTH_USER" "$KAUPANG_TEST_AUTH_PASSWORD" >/dev/null 2>&1; then
  log "registry auth: writing bcrypt htpasswd for $KAUPANG_TEST_AUTH_USER"
  htpasswd -Bbn "$KAUPANG_TEST_AUTH_USER" "$KAUPANG_TEST_AUTH_PASSWORD" >"$htpasswd_file.tmp" ||
    die "htpasswd -B failed"
  mv -f "$htpasswd_file.tmp" "$htpasswd_file"
fi
write_registry_config open "$KAUPANG_TEST_REGISTRY"
write_registry_config auth "$KAUPANG_TEST_AUTH_REGISTRY" "$htpasswd_file"
start_registry open "$KAUPANG_TEST_REGISTRY" 200
start_registry auth "$KAUPANG_TEST_AUTH_REGISTRY" 401
auth_started="$reg_started"

code="$(curl -s -o /dev/null -w '%{http_code}' -u "$KAUPANG_TEST_AUTH_USER:$KAUPANG_TEST_AUTH_PASSWORD" \
  "http://$KAUPANG_TEST_AUTH_REGISTRY/v2/")"
[[ "$code" == 200 ]] || die "auth registry refuses the test credentials (GET /v2/ with basic auth -> $code)"
code="$(curl -s -o /dev/null -w '%{http_code}' -u "$KAUPANG_TEST_AUTH_USER:wrong" \
  "http://$KAUPANG_TEST_AUTH_REGISTRY/v2/")"
[[ "$code" == 401 ]] || die "auth registry accepts a wrong password (GET /v2/ -> $code)"

# --- 6. base image ----------------------------------------------------------
base="$KAUPANG_TEST_BASE_IMAGE"
base_pushed="$KAUPANG_TEST_REGISTRY/$base"
if docker image inspect "$base" >/dev/null 2>&1; then
  log "base image $base: present"
else
  log "base image $base: importing from busybox-static"
  root="$(mktemp -d)"
  chmod 755 "$root"
  mkdir -p "$root"/{bin,etc,www,tmp,root,usr,home,var/tmp}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  cp "$(command -v busybox)" "$root/bin/busybox"
  # Symlink every applet; the base names we rely on must be among them.
  for a in $("$root/bin/busybox" --list); do
    [[ "$a" == busybox ]] || ln -s busybox "$root/bin/$a"
  done
  # busybox-static 1.35 has no printenv applet: a small sh stand-in.
  if [[ ! -e "$root/bin/printenv" ]]; then
    cat >"$root/bin/printenv" <<'SH'
#!/bin/sh
# printenv [NAME...] (sh stand-in; busybox-static has no printenv applet)
[ "$#" -eq 0 ] && exec env
rc=0
for n in "$@"; do
  case "$n" in '' | [0-9]* | *[!A-Za-z0-9_]*) rc=1; continue ;; esac
  if eval "[ \"\${$n+set}\" = set ]"; then eval "printf '%s\\n' \"\$$n\""; else rc=1; fi
done
exit "$rc"
SH
    chmod 755 "$root/bin/printenv"
  fi
  for a in sh httpd wget nc sleep cat echo env ls grep printenv id true false date mkdir rm touch; do
    [[ -e "$root/bin/$a" ]] || die "busybox has no '$a' applet"
  done
  ln -s ../bin "$root/usr/bin"
  ln -s bin "$root/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  echo '<html><body>kaupang-test busybox</body></html>' >"$root/www/index.html"
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . |
    docker import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' -m 'kaupang e2e base image (busybox-static)' - "$base" >/dev/null ||
    die "docker import of the base image failed"
  rm -rf "$root"
fi
# Push to the open registry unless it already holds exactly this image: the
# registry's manifest digest must be among the local image's RepoDigests.
remote_digest="$(curl -s -I -m 5 \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$KAUPANG_TEST_REGISTRY/v2/kaupang-test/busybox/manifests/latest" |
  tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')"
if [[ -n "$remote_digest" ]] && docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$base" |
  grep -qx "$KAUPANG_TEST_REGISTRY/kaupang-test/busybox@$remote_digest"; then
  log "base image: already in $KAUPANG_TEST_REGISTRY ($remote_digest)"
  docker tag "$base" "$base_pushed"
else
  log "base image: pushing $base_pushed"
  docker tag "$base" "$base_pushed"
  docker push -q "$base_pushed" >/dev/null || die "docker push $base_pushed failed"
fi

# --- 6b. proxy image (Debian's caddy; the routing tests use it for caddy:2) ---
proxy_image="$("$KAUPANG_HARNESS_DIR/proxy-image.sh")" || die "the proxy image could not be built"

# --- 7. checks (once per engine/compose/image combination) -------------------
image_id="$(docker image inspect -f '{{.Id}}' "$base")"
verify_stamp="$KAUPANG_TOOLS_CACHE/verified.stamp"
verify_key="engine=$engine_version compose=$KAUPANG_COMPOSE_VERSION oras=$KAUPANG_ORAS_VERSION image=$image_id"
if [[ -z "$force_verify" && -z "$auth_started" && -f "$verify_stamp" && "$(cat "$verify_stamp")" == "$verify_key" ]]; then
  log "checks: already passed for this engine/tools/image (use --verify to rerun)"
else
  rm -f "$verify_stamp"
  "$KAUPANG_HARNESS_DIR/verify.sh" || die "harness checks failed (see above)"
  printf '%s\n' "$verify_key" >"$verify_stamp"
fi

# --- 8. env file for the tests ----------------------------------------------
env_file="$KAUPANG_TOOLS_CACHE/harness.env"
{
  echo "# written by kaupang test/e2e/harness/docker-up.sh; source it before e2e-docker tests"
  echo "export PATH=\"$KAUPANG_TOOLS_BIN:\$PATH\""
  echo "export KAUPANG_TOOLS_CACHE=\"$KAUPANG_TOOLS_CACHE\""
  echo "export KAUPANG_TOOLS_BIN=\"$KAUPANG_TOOLS_BIN\""
  echo "export KAUPANG_TEST_REGISTRY=$KAUPANG_TEST_REGISTRY"
  echo "export KAUPANG_TEST_AUTH_REGISTRY=$KAUPANG_TEST_AUTH_REGISTRY"
  echo "export KAUPANG_TEST_AUTH_USER=$KAUPANG_TEST_AUTH_USER"
  echo "export KAUPANG_TEST_AUTH_PASSWORD=$KAUPANG_TEST_AUTH_PASSWORD"
  echo "export KAUPANG_TEST_BASE_IMAGE=$KAUPANG_TEST_BASE_IMAGE"
  echo "export KAUPANG_TEST_BASE_IMAGE_PUSHED=$base_pushed"
  echo "export KAUPANG_TEST_PROXY_IMAGE=$proxy_image"
  echo "# docker compose build needs no setting here: compose builds through the engine's"
  echo "# own BuildKit (no buildx plugin); DOCKER_BUILDKIT=0 switches it to the classic builder."
  echo "# Do not export DOCKER_BUILDKIT=1: plain 'docker build' then fails (no buildx)."
} >"$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"

# --- 9. summary -------------------------------------------------------------
log "---- summary ----"
log "engine      $engine_version (API $api_version), swarm $(docker info --format '{{.Swarm.LocalNodeState}}')"
log "compose     $(docker compose version --short)  ($KAUPANG_TOOLS_BIN/docker-compose)"
log "oras        $(oras version 2>/dev/null | sed -n 's/^Version: *//p')  ($KAUPANG_TOOLS_BIN/oras)"
log "registries  open http://$KAUPANG_TEST_REGISTRY  auth http://$KAUPANG_TEST_AUTH_REGISTRY ($KAUPANG_TEST_AUTH_USER)"
log "base image  $base  ->  $base_pushed"
log "proxy image $proxy_image (Debian caddy)"
log "env file    $env_file"
log "done in $(elapsed "$t_start")s"
