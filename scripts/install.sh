#!/usr/bin/env bash
# Install the kaupang command from this clone: build the three packages, pack
# them with `npm pack` (exactly what a registry would serve) and install the
# tarballs together with `npm install -g`. Extra arguments go to that
# `npm install`, e.g. `--prefix ~/.local` to install without root.
#
#   bash scripts/install.sh                  # kaupang on the PATH of npm's global prefix
#   bash scripts/install.sh --prefix ~/.local
#
# Once the packages are published this is `npm install -g @kaupang/cli`.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a < 20 || (a === 20 && b < 19)) { console.error(`kaupang needs Node.js >= 20.19 (found ${process.versions.node})`); process.exit(1) }'

if [ ! -d node_modules ]; then
  echo "[install] npm ci (dependencies; builds the packages)" >&2
  npm ci --no-audit --no-fund
else
  echo "[install] building the packages" >&2
  npm run build --silent
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "[install] packing @kaupang/core, @kaupang/studio and @kaupang/cli" >&2
npm pack --silent --pack-destination "$out" -w @kaupang/core -w @kaupang/studio -w @kaupang/cli >/dev/null
# The CLI depends on core and studio at this exact version: installed in one
# command, npm takes them from these tarballs instead of the registry.
echo "[install] npm install -g $* (the three tarballs)" >&2
npm install -g --no-audit --no-fund "$@" "$out"/kaupang-core-*.tgz "$out"/kaupang-studio-*.tgz "$out"/kaupang-cli-*.tgz
bin="$(npm prefix -g "$@")/bin"
if command -v kaupang >/dev/null && [ "$(command -v kaupang)" = "$bin/kaupang" ]; then
  echo "[install] done: $(kaupang --version) at $bin/kaupang" >&2
else
  echo "[install] done: $bin/kaupang (put $bin on your PATH)" >&2
fi
