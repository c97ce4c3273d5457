#!/usr/bin/env bash
# Installs the C libraries Driftless links (Debian packages). Idempotent: does
# nothing when every package is already installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

packages=(libopenblas-dev liblapacke-dev libzmq3-dev libpq-dev pkg-config unzip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "system packages: all present"
  exit 0
fi
log "system packages: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
log "system packages: installed"
