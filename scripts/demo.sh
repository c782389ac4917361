#!/usr/bin/env bash
# The main job, on a fresh Debian machine with Node.js 20+: install kaupang's
# dependencies, bring up a local Docker engine (with swarm) and registry, then
# build and really deploy the flagship example (examples/longhall) with Docker
# Compose, and show it answering.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error(`kaupang needs Node.js >= 20.19 (found ${process.versions.node})`); process.exit(1) }'

if [ ! -d node_modules ]; then
  echo "[demo] installing and building kaupang (npm ci: exactly the lock file)" >&2
  npm ci --no-audit --no-fund
else
  echo "[demo] building kaupang" >&2
  npm run build --silent
fi

echo "[demo] starting the Docker engine, swarm and a local registry (first run builds the compose plugin: a few minutes)" >&2
bash test/e2e/harness/docker-up.sh
# shellcheck disable=SC1091
source "${KAUPANG_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaupang-tools}/harness.env"

export LONGHALL_JARL_KEY="${LONGHALL_JARL_KEY:-demo-jarl-key}"
kaupang() { node packages/cli/bin/kaupang.mjs "$@"; }

kaupang up market --dry-run --cwd examples/longhall
kaupang build market --push --cwd examples/longhall
kaupang up market --cwd examples/longhall
echo "[demo] the market answers:" >&2
curl -fsS http://127.0.0.1:18090/
echo "[demo] done. Tear it down with: npx kaupang down market --with-deps --cwd examples/longhall" >&2
