#!/usr/bin/env bash
# Builds the proxy image the routing tests use instead of the official
# caddy:2 (nothing can be pulled here): Debian's caddy binary with the shared
# libraries `ldd` lists (the loader included) at their own paths, imported
# with `docker import`, then pushed to the open test registry so swarm can
# resolve it too. Idempotent: a present image whose label names this caddy
# build is kept (and pushed only if the registry lacks it).
#
#   proxy-image.sh        prints the pushed reference on stdout
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt_packages caddy
caddy_bin="$(command -v caddy)" || die "caddy not found after installing it"
version="$("$caddy_bin" version | awk '{print $1}')"
local_ref="$KAUPANG_TEST_PROXY_IMAGE"
pushed_ref="$KAUPANG_TEST_REGISTRY/$local_ref"
# The binary's hash names the build: a new Debian caddy makes a new image.
build_key="$(sha256sum "$caddy_bin" | cut -c1-16)"

current_key="$(docker image inspect -f '{{index .Config.Labels "dev.kaupang.test.caddy"}}' "$local_ref" 2>/dev/null || true)"
if [[ "$current_key" == "$build_key" ]]; then
  log "proxy image $local_ref: present (caddy $version)"
else
  log "proxy image $local_ref: importing Debian's caddy $version"
  root="$(mktemp -d)"
  chmod 755 "$root"
  mkdir -p "$root"/{etc,tmp,config,data,usr/bin}
  chmod 1777 "$root/tmp"
  cp "$caddy_bin" "$root/usr/bin/caddy"
  # Every library ldd names, and the loader, at the same absolute path.
  while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(ldd "$caddy_bin" | grep -o '/[^ ]*' | sort -u)
  printf 'root:x:0:0:root:/root:/bin/false\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  # Same settings as the official image: state under /data and /config.
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c . |
    docker import \
      -c 'ENV PATH=/usr/bin XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data' \
      -c 'WORKDIR /srv' \
      -c 'EXPOSE 80 443 2019' \
      -c "LABEL dev.kaupang.test.caddy=$build_key" \
      -c 'CMD ["caddy", "run"]' \
      -m "kaupang e2e proxy image (Debian caddy $version)" - "$local_ref" >/dev/null ||
    die "docker import of the proxy image failed"
  rm -rf "$root"
fi
docker run --rm --entrypoint caddy "$local_ref" version >/dev/null 2>&1 || die "the proxy image does not run caddy"

remote_digest="$(curl -s -I -m 5 \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://$KAUPANG_TEST_REGISTRY/v2/${local_ref%%:*}/manifests/${local_ref##*:}" |
  tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *//p')"
docker tag "$local_ref" "$pushed_ref"
if [[ -n "$remote_digest" ]] && docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$local_ref" |
  grep -qx "$KAUPANG_TEST_REGISTRY/${local_ref%%:*}@$remote_digest"; then
  log "proxy image: already in $KAUPANG_TEST_REGISTRY ($remote_digest)"
else
  log "proxy image: pushing $pushed_ref"
  docker push -q "$pushed_ref" >/dev/null || die "docker push $pushed_ref failed"
fi
echo "$pushed_ref"
