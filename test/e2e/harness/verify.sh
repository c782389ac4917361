#!/usr/bin/env bash
# Checks that the harness services really work for the e2e-docker tier.
# Run by docker-up.sh (once per engine/tools/image combination); can be run
# by hand at any time. Removes everything it creates (containers, compose
# project, stack, networks, test images, test artifacts in the registries).
#
#   verify.sh
#
# Env: KAUPANG_HARNESS_CHECK_PORT (default 18081) host port used by the checks.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export PATH="$KAUPANG_TOOLS_BIN:$PATH"
port="${KAUPANG_HARNESS_CHECK_PORT:-18081}"
name="kaupang-harness-check"
base="$KAUPANG_TEST_BASE_IMAGE"
pushed="$KAUPANG_TEST_REGISTRY/$base"
work="$(mktemp -d)"
t0="$(now_s)"

cleanup() {
  local rc=$?
  docker rm -f "$name-http" >/dev/null 2>&1 || true
  if [[ -f "$work/compose.yaml" ]]; then
    docker compose -p "$name" -f "$work/compose.yaml" down -v --remove-orphans >/dev/null 2>&1 || true
    docker compose -p "$name-build" -f "$work/build/compose.yaml" down --rmi local >/dev/null 2>&1 || true
  fi
  if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$name"; then
    docker stack rm "$name" >/dev/null 2>&1 || true
  fi
  # Stack removal is asynchronous: wait for its network to go, so a rerun can
  # recreate it at once.
  wait_for 60 "stack network removal" \
    bash -c "! docker network ls --format '{{.Name}}' | grep -qx '${name}_default'" || true
  wait_for 30 "stack task containers to go" \
    bash -c "[ -z \"\$(docker ps -aq --filter label=com.docker.stack.namespace=$name)\" ]" || true
  docker image rm -f "kaupang-harness/classic:check" "kaupang-harness/compose-build:check" \
    "$KAUPANG_TEST_AUTH_REGISTRY/kaupang-harness/auth:check" >/dev/null 2>&1 || true
  docker image prune -f --filter label=kaupang.harness=check >/dev/null 2>&1 || true
  oras manifest delete --plain-http --force "$KAUPANG_TEST_REGISTRY/kaupang-harness/artifact:check" >/dev/null 2>&1 || true
  oras manifest delete --plain-http --force -u "$KAUPANG_TEST_AUTH_USER" -p "$KAUPANG_TEST_AUTH_PASSWORD" \
    "$KAUPANG_TEST_AUTH_REGISTRY/kaupang-harness/auth:check" >/dev/null 2>&1 || true
  rm -rf "$work"
  ((rc == 0)) || log "verify: FAILED"
}
trap cleanup EXIT

fail() { die "check failed: $*"; }
page_ok() { curl -fsS -m 3 "$1" 2>/dev/null | grep -q 'kaupang-test busybox'; }

# 1. the base image serves HTTP --------------------------------------------
log "check: base image serves HTTP (httpd -f -p 8080 -h /www)"
docker run -d --name "$name-http" -p "127.0.0.1:$port:8080" "$base" httpd -f -p 8080 -h /www >/dev/null ||
  fail "docker run of $base"
wait_for 20 "http://127.0.0.1:$port/" page_ok "http://127.0.0.1:$port/" || fail "base image httpd did not serve /www"
for a in sh httpd wget nc sleep cat echo env ls grep id true false date mkdir rm touch; do
  docker exec "$name-http" sh -c "command -v $a" >/dev/null || fail "applet $a missing in $base"
done
[[ "$(docker exec -e KAUPANG_X=42 "$name-http" printenv KAUPANG_X)" == 42 ]] || fail "printenv in $base"
docker rm -f "$name-http" >/dev/null

# 2. classic builder --------------------------------------------------------
log "check: docker build (classic builder, DOCKER_BUILDKIT=0) FROM $base"
mkdir -p "$work/classic"
printf 'FROM %s\nLABEL kaupang.harness=check\nRUN echo classic-ok > /check.txt\nCMD ["cat", "/check.txt"]\n' "$base" \
  >"$work/classic/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t kaupang-harness/classic:check "$work/classic" >/dev/null 2>&1 ||
  fail "classic docker build"
[[ "$(docker run --rm kaupang-harness/classic:check)" == classic-ok ]] || fail "classic-built image output"

# 3. compose build (engine's built-in BuildKit through compose; no buildx) ---
log "check: docker compose build (default env: engine BuildKit, no buildx plugin)"
mkdir -p "$work/build"
# shellcheck disable=SC2016  # $GREETING is for the Dockerfile
printf 'FROM %s AS stage\nLABEL kaupang.harness=check\nARG GREETING=unset\nRUN echo "$GREETING" > /g\nFROM %s\nLABEL kaupang.harness=check\nCOPY --from=stage /g /g\nCMD ["cat", "/g"]\n' \
  "$base" "$base" >"$work/build/Dockerfile"
cat >"$work/build/compose.yaml" <<EOF
services:
  app:
    build:
      context: .
      args:
        GREETING: compose-build-ok
    image: kaupang-harness/compose-build:check
EOF
docker compose -p "$name-build" -f "$work/build/compose.yaml" build >"$work/build.log" 2>&1 || {
  tail -n 15 "$work/build.log" >&2
  fail "docker compose build (default env)"
}
[[ "$(docker run --rm kaupang-harness/compose-build:check)" == compose-build-ok ]] || fail "compose-built image output"
docker image rm kaupang-harness/compose-build:check >/dev/null
log "check: docker compose build with DOCKER_BUILDKIT=0 (classic, through the API)"
DOCKER_BUILDKIT=0 docker compose -p "$name-build" -f "$work/build/compose.yaml" build >"$work/build0.log" 2>&1 || {
  tail -n 15 "$work/build0.log" >&2
  fail "docker compose build (DOCKER_BUILDKIT=0)"
}
[[ "$(docker run --rm kaupang-harness/compose-build:check)" == compose-build-ok ]] || fail "classic compose-built image output"

# 4. compose up --wait with a healthcheck, then the same file as a stack ----
# Host-mode port and dnsrr: this kernel has no IPVS, so swarm's ingress
# routing mesh and service VIPs do not work here (see README.md).
cat >"$work/compose.yaml" <<EOF
services:
  web:
    image: $pushed
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    # busybox as PID 1 ignores SIGTERM (10 s stop timeout); docker-init fixes that.
    init: true
    ports:
      - target: 8080
        published: $port
        mode: host
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 2s
      timeout: 3s
      retries: 15
      start_period: 1s
    deploy:
      endpoint_mode: dnsrr
EOF
log "check: docker compose -p $name up -d --wait (healthcheck)"
tc="$(now_s)"
docker compose -p "$name" -f "$work/compose.yaml" up -d --wait --wait-timeout 60 >"$work/up.log" 2>&1 || {
  tail -n 15 "$work/up.log" >&2
  fail "docker compose up -d --wait"
}
page_ok "http://127.0.0.1:$port/" || fail "compose service not reachable on 127.0.0.1:$port"
health="$(docker inspect -f '{{.State.Health.Status}}' "$name-web-1")"
[[ "$health" == healthy ]] || fail "compose service health is '$health'"
docker compose -p "$name" -f "$work/compose.yaml" down -v >/dev/null 2>&1 || fail "docker compose down"
log "check: compose up --wait + down took $(elapsed "$tc")s"

log "check: docker stack deploy of the same file"
tc="$(now_s)"
docker stack deploy --detach=false -c "$work/compose.yaml" "$name" >"$work/stack.log" 2>&1 || {
  tail -n 15 "$work/stack.log" >&2
  fail "docker stack deploy"
}
stack_healthy() {
  local c
  c="$(docker ps -q --filter "label=com.docker.swarm.service.name=${name}_web" | head -n1)"
  [[ -n "$c" && "$(docker inspect -f '{{.State.Health.Status}}' "$c")" == healthy ]]
}
wait_for 60 "stack task healthy" stack_healthy || fail "stack task did not become healthy"
wait_for 20 "stack port" page_ok "http://127.0.0.1:$port/" || fail "stack service not reachable on 127.0.0.1:$port"
replicas="$(docker service ls --filter "name=${name}_web" --format '{{.Replicas}}')"
[[ "$replicas" == 1/1 ]] || fail "stack service replicas '$replicas'"
docker stack rm "$name" >/dev/null
wait_for 60 "stack network removal" \
  bash -c "! docker network ls --format '{{.Name}}' | grep -qx '${name}_default'" || fail "stack network not removed"
log "check: stack deploy + rm took $(elapsed "$tc")s"

# 5. registry auth (own DOCKER_CONFIG: the user's login state is not touched)
log "check: auth registry $KAUPANG_TEST_AUTH_REGISTRY refuses anonymous push, accepts login"
cfg="$work/docker-config"
mkdir -p "$cfg"
auth_ref="$KAUPANG_TEST_AUTH_REGISTRY/kaupang-harness/auth:check"
docker tag "$base" "$auth_ref"
if DOCKER_CONFIG="$cfg" docker push -q "$auth_ref" >"$work/push0.log" 2>&1; then
  fail "anonymous push to the auth registry succeeded"
fi
grep -qiE 'basic auth|unauthorized|authentication required' "$work/push0.log" ||
  fail "anonymous push failed for another reason: $(tail -n1 "$work/push0.log")"
printf '%s' "$KAUPANG_TEST_AUTH_PASSWORD" |
  DOCKER_CONFIG="$cfg" docker login -u "$KAUPANG_TEST_AUTH_USER" --password-stdin "$KAUPANG_TEST_AUTH_REGISTRY" \
    >"$work/login.log" 2>&1 || fail "docker login $KAUPANG_TEST_AUTH_REGISTRY: $(tail -n1 "$work/login.log")"
DOCKER_CONFIG="$cfg" docker push -q "$auth_ref" >/dev/null 2>&1 || fail "push after login"
if printf 'wrong' | DOCKER_CONFIG="$cfg" docker login -u "$KAUPANG_TEST_AUTH_USER" --password-stdin \
  "$KAUPANG_TEST_AUTH_REGISTRY" >/dev/null 2>&1; then
  fail "docker login with a wrong password succeeded"
fi

# 6. oras against both registries -------------------------------------------
log "check: oras push/pull (plain HTTP) to both registries"
echo "kaupang harness artifact" >"$work/artifact.txt"
(cd "$work" && oras push --plain-http "$KAUPANG_TEST_REGISTRY/kaupang-harness/artifact:check" \
  artifact.txt:text/plain >/dev/null) || fail "oras push to $KAUPANG_TEST_REGISTRY"
mkdir -p "$work/pull"
oras pull --plain-http -o "$work/pull" "$KAUPANG_TEST_REGISTRY/kaupang-harness/artifact:check" >/dev/null ||
  fail "oras pull"
cmp -s "$work/artifact.txt" "$work/pull/artifact.txt" || fail "oras pulled different content"
if oras manifest fetch --plain-http "$auth_ref" >/dev/null 2>&1; then
  fail "anonymous oras fetch from the auth registry succeeded"
fi
oras manifest fetch --plain-http -u "$KAUPANG_TEST_AUTH_USER" -p "$KAUPANG_TEST_AUTH_PASSWORD" "$auth_ref" >/dev/null 2>&1 ||
  fail "oras manifest fetch with credentials"

# 7. informational: what this CLI/engine pair has ---------------------------
if docker manifest inspect --insecure "$pushed" >/dev/null 2>&1; then
  log "info: docker manifest inspect --insecure works against $KAUPANG_TEST_REGISTRY"
else
  log "info: docker manifest inspect does NOT work against $KAUPANG_TEST_REGISTRY"
fi
if docker buildx version >/dev/null 2>&1; then
  log "info: docker buildx is available"
else
  log "info: docker buildx is NOT available (no imagetools; compose builds through the engine's BuildKit)"
fi

log "verify: all checks passed in $(elapsed "$t0")s"
