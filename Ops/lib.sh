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
