#!/usr/bin/env bash
# Shared helpers for the Ops scripts: logging and the project's folders.
# Sourced, not run.

DRIFTLESS_ROOT="${DRIFTLESS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
DRIFTLESS_CACHE="${DRIFTLESS_CACHE:-$DRIFTLESS_ROOT/.cache}"
DRIFTLESS_MODELS="${DRIFTLESS_MODELS:-$DRIFTLESS_ROOT/models}"
DRIFTLESS_SHARED="${DRIFTLESS_SHARED:-$DRIFTLESS_ROOT/../shared}"
# The embedded database's passwords (Ops/postgres.sh writes it): libpq reads it, so no URL
# and no command line carries a password.
export PGPASSFILE="${PGPASSFILE:-$DRIFTLESS_ROOT/var/secrets/pgpass}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# release_binaries: the folder with release `coord` and `worker` — $DRIFTLESS_BIN when set
# (a test run passes its own build), else built here (swift build -c release).
release_binaries() {
  if [ -n "${DRIFTLESS_BIN:-}" ]; then
    echo "$DRIFTLESS_BIN"
    return
  fi
  (cd "$DRIFTLESS_ROOT" && swift build -c release --product coord >&2 && swift build -c release --product worker >&2 \
    && swift build -c release --show-bin-path)
}
