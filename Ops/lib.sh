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

# start_cluster BIN NAME PORT: `coord serve` (workers on PORT, clients on PORT+1) and two
# single-threaded workers on the embedded database, logs in var/log/NAME-*.log; stopped when the
# calling script exits. Sets CLUSTER_PIDS.
start_cluster() {
  local bin=$1 name=$2 port=$3 logs="$DRIFTLESS_ROOT/var/log"
  mkdir -p "$logs"
  CLUSTER_PIDS=()
  trap 'for pid in "${CLUSTER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
  "$bin/coord" serve --models "$DRIFTLESS_MODELS" --bind "tcp://127.0.0.1:$port" --client-bind "tcp://127.0.0.1:$((port + 1))" \
    >"$logs/$name-coord.log" 2>&1 &
  CLUSTER_PIDS+=($!)
  for _ in $(seq 120); do grep -q "coordinator ready" "$logs/$name-coord.log" && break; sleep 0.5; done
  for n in 1 2; do
    "$bin/worker" serve --coordinator "tcp://127.0.0.1:$port" --models "$DRIFTLESS_MODELS" --threads 1 \
      >"$logs/$name-worker-$n.log" 2>&1 &
    CLUSTER_PIDS+=($!)
  done
}

# scifact_bench: what the SciFact benchmarks share: the models installed, the embedded database
# started (DRIFTLESS_DATABASE_URL exported), release binaries in BIN, SciFact in DATA, results in OUT.
scifact_bench() {
  "$DRIFTLESS_ROOT/Ops/install-models.sh"
  DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" start | tail -1)
  export DRIFTLESS_DATABASE_URL
  BIN="$(release_binaries)"
  DATA="$DRIFTLESS_SHARED/data/scifact"
  OUT="$DRIFTLESS_CACHE/bench"
  mkdir -p "$OUT"
}
