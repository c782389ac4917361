#!/usr/bin/env bash
# A routed redeploy on compose (blue/green behind the proxy) vs a plain `kaupang up --force`
# of the same service (recreated in place, reached on its published port): wall time per
# redeploy and failed requests under a bounded load loop on loopback. Each redeploy changes
# the image (a new version pushed under the same tag). Runs under the e2e lock: it uses the
# shared engine, the registry and host ports 19480/19443/19419/19482.
#   bench/routes/run.sh [redeploys]    (default 10)
source "$(dirname "$0")/../lib.sh"
cd "$root"
npx jiti bench/routes/redeploy.ts "$scratch" "${1:-10}" | tee "$results/routes.txt"
