#!/usr/bin/env bash
# The one test command: `npm test` runs every tier; `npm test -- unit` (or
# e2e-docker, e2e-k8s, e2e-studio) runs some. Each end-to-end tier first brings up its real
# engine with the harness scripts; an engine that cannot start fails the run
# (it is never skipped). Ends with one line: "total: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

tiers=("$@")
[ ${#tiers[@]} -eq 0 ] && tiers=(unit e2e-docker e2e-hosts e2e-k8s e2e-studio)
cache="${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}"
reports=$(mktemp -d)
k8s_build_log=$(mktemp -t kaupang-k8s-build.XXXXXX)
k8s_build_pid=""
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  rm -rf "$reports" "$k8s_build_log"
  if [[ -n "$k8s_build_pid" ]]; then kill -- "-$k8s_build_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
status=0

say() { printf '\n[test] %s\n' "$*" >&2; }

# On a cold cache the Kubernetes tools take ~14 min of CPU to build from Go
# modules: start that build now, in its own process group at the lowest
# priority, beside the tiers before e2e-k8s (which mostly wait on engines); that
# tier waits for it. On a warm cache it finds everything built in a second.
if [[ " ${tiers[*]} " == *" e2e-k8s "* && "${tiers[0]}" != "e2e-k8s" ]]; then
  say "building the Kubernetes tools in the background, nice 19 (log $k8s_build_log)"
  setsid nice -n 19 bash test/e2e/k8s/build.sh >"$k8s_build_log" 2>&1 </dev/null &
  k8s_build_pid=$!
fi

say "building"
npm run build --silent >/dev/null || { echo "[test] build failed" >&2; exit 1; }

run_tier() {
  local tier=$1
  npx vitest run --project "$tier" --reporter=default --reporter=json --outputFile.json="$reports/$tier.json"
}

for tier in "${tiers[@]}"; do
  case "$tier" in
    unit)
      say "tier unit"
      run_tier unit || status=1
      ;;
    e2e-docker)
      say "tier e2e-docker: bringing up the Docker engine, swarm and registries"
      if ! bash test/e2e/harness/docker-up.sh; then
        echo "[test] e2e-docker: the Docker engine harness could not start (see above); failing this tier" >&2
        echo '{"numPassedTests":0,"numFailedTests":1}' > "$reports/$tier.json"
        status=1
        continue
      fi
      # shellcheck disable=SC1091
      ( source "$cache/harness.env" && run_tier e2e-docker ) || status=1
      ;;
    e2e-hosts)
      say "tier e2e-hosts: bringing up Docker hosts in network namespaces (sshd, dockerd, their swarm)"
      if ! bash test/e2e/harness/hosts-up.sh; then
        echo "[test] e2e-hosts: the extra Docker hosts could not start (see above); failing this tier" >&2
        echo '{"numPassedTests":0,"numFailedTests":1}' > "$reports/$tier.json"
        status=1
        continue
      fi
      # shellcheck disable=SC1091
      ( source "$cache/harness.env" && source "$cache/hosts.env" && run_tier e2e-hosts ) || status=1
      ;;
    e2e-k8s)
      say "tier e2e-k8s: building (cached) and starting the Kubernetes control plane and its real node"
      if [[ -n "$k8s_build_pid" ]]; then
        say "waiting for the background build of the Kubernetes tools"
        wait "$k8s_build_pid" || echo "[test] the background build failed; building again in the foreground" >&2
        k8s_build_pid=""
        cat "$k8s_build_log" >&2
      fi
      # Its tests resolve images in the local registry and push with docker too.
      if ! { bash test/e2e/harness/docker-up.sh && bash test/e2e/k8s/build.sh && bash test/e2e/k8s/up.sh; }; then
        echo "[test] e2e-k8s: the Kubernetes cluster could not start (see above); failing this tier" >&2
        echo '{"numPassedTests":0,"numFailedTests":1}' > "$reports/$tier.json"
        status=1
        continue
      fi
      # shellcheck disable=SC1091
      ( source "$cache/harness.env" 2>/dev/null; source "${KAUPANG_K8S_DIR:-$cache/k8s-run}/k8s.env" && run_tier e2e-k8s ) || status=1
      ;;
    e2e-studio)
      say "tier e2e-studio: Debian's chromium (installed once) drives kaupang studio"
      if ! bash test/e2e/studio/setup.sh; then
        echo "[test] e2e-studio: chromium could not be installed (see above); failing this tier" >&2
        echo '{"numPassedTests":0,"numFailedTests":1}' > "$reports/$tier.json"
        status=1
        continue
      fi
      run_tier e2e-studio || status=1
      ;;
    *)
      echo "[test] unknown tier: $tier (use unit, e2e-docker, e2e-hosts, e2e-k8s, e2e-studio)" >&2
      exit 2
      ;;
  esac
done

node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  // Every failed test with the first line of its error, printed last, so the
  // tail of a CI log says what broke.
  const failures = [];
  const firstLine = (text) => String(text ?? "").split("\n")[0].slice(0, 300);
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + f, "utf8"));
    const tier = f.replace(/\.json$/, "");
    passed += r.numPassedTests ?? 0; failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${tier}: ${r.numPassedTests ?? 0} passed, ${r.numFailedTests ?? 0} failed`);
    for (const file of r.testResults ?? []) {
      const where = `FAILED ${tier} ${file.name.replace(process.cwd() + "/", "")}`;
      const tests = file.assertionResults ?? [];
      for (const t of tests)
        if (t.status === "failed") failures.push(`${where} > ${t.fullName}: ${firstLine((t.failureMessages ?? [])[0])}`);
      if (tests.length === 0 && file.status === "failed") failures.push(`${where}: ${firstLine(file.message)}`);
    }
  }
  for (const line of failures) console.log(line);
  console.log(`total: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (passed === 0 && failed === 0) { console.log("no test ran"); process.exit(1); }
' "$reports" || status=1
exit $status
