#!/usr/bin/env bash
# The browser for the e2e-studio tier: Debian's chromium, installed once
# (no browser download by any npm package). Fails loudly when it cannot.
set -euo pipefail

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  echo "[studio] $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[studio] chromium is missing and there is no root or sudo to install it" >&2; exit 1; }
  sudo="sudo"
fi

echo "[studio] installing Debian's chromium" >&2
if ! $sudo apt-get -o DPkg::Lock::Timeout=600 install -y chromium; then
  $sudo apt-get -o DPkg::Lock::Timeout=600 update
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y chromium || {
    echo "[studio] could not install chromium with apt-get" >&2
    exit 1
  }
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "[studio] /usr/bin/chromium does not run" >&2; exit 1; }
echo "[studio] $(/usr/bin/chromium --version 2>/dev/null)"
