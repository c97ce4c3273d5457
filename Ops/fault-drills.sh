#!/usr/bin/env bash
# Fault drills at full length, on the embedded default (PostgreSQL, a coordinator, two workers),
# each in a fresh database, each ending with a check of the index (every document once, each
# vector written by exactly one commit, nothing rejected). The suite runs shorter versions of
# the same faults (Tests/IntegrationTests/MessyFaultTests.swift); these are the measurements.
#
#   Ops/fault-drills.sh [lock] [outage] [broken]     # default: all three
#
#   lock    LOCK TABLE index_vectors_N IN SHARE MODE held for 60 s in another session during a
#           job: the slowest `coord status` while it is held, the commits that gave up
#           (database faults), and the job completing after the lock goes.
#   outage  PostgreSQL stopped for 3 minutes mid-job (longer than the workers' 2-minute retry
#           budget), then started: the job completes, nothing rejected, exactly once.
#   broken  two workers, one of them with a broken model folder (tokenizer.json cut short):
#           the healthy worker does the job, nothing rejected, the broken one shown unhealthy.
#
# Settings: DRIFTLESS_BIN (a folder with coord and worker; default: a release build),
# DRILL_LOCK_SECONDS (60), DRILL_OUTAGE_SECONDS (180).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

DRILLS=("$@")
[ ${#DRILLS[@]} -gt 0 ] || DRILLS=(lock outage broken)
LOCK_SECONDS=${DRILL_LOCK_SECONDS:-60}
OUTAGE_SECONDS=${DRILL_OUTAGE_SECONDS:-180}

DRIFTLESS_BIN=$(release_binaries)
COORD="$DRIFTLESS_BIN/coord"
WORKER="$DRIFTLESS_BIN/worker"
"$DRIFTLESS_ROOT/Ops/install-models.sh" >/dev/null
"$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null
PGBIN="$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin"
PORT=${DRIFTLESS_PG_PORT:-54329}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  "$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null 2>&1 || true
  log "drills: logs in $WORK"
}
trap cleanup EXIT

psql_as() { "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U driftless -v ON_ERROR_STOP=1 -qtA "$@"; }
scalar() { psql_as -d "$DB" -c "$1"; }

# fresh NAME: a new database and a coordinator and workers for it (worker model folders in $@).
fresh() {
  DB="drill_$1_$$"
  psql_as -d postgres -c "CREATE DATABASE $DB" && psql_as -d "$DB" -c "CREATE EXTENSION vector"
  ENDPOINT=$((50000 + RANDOM % 5000 * 2))
  "$COORD" serve --database "postgresql://driftless@127.0.0.1:$PORT/$DB" --bind "tcp://127.0.0.1:$ENDPOINT" \
    --client-bind "tcp://127.0.0.1:$((ENDPOINT + 1))" --models "$DRIFTLESS_MODELS" >"$WORK/$1-coord.log" 2>&1 &
  PIDS+=($!)
  shift
  local n=0
  for models in "$@"; do
    n=$((n + 1))
    "$WORKER" serve --coordinator "tcp://127.0.0.1:$ENDPOINT" \
      --database "postgresql://driftless_worker@127.0.0.1:$PORT/$DB" --models "$models" --threads 1 \
      --id "drill-w$n" >"$WORK/$DB-w$n.log" 2>&1 &
    PIDS+=($!)
  done
  for _ in $(seq 60); do client status >/dev/null 2>&1 && break; sleep 1; done
}
client() { "$COORD" "$@" --coordinator "tcp://127.0.0.1:$((ENDPOINT + 1))"; }
corpus() { head -n "$1" "$DRIFTLESS_SHARED/data/scifact/corpus.jsonl" | tail -n "$2" > "$3"; }
wait_job() { # wait_job JOB SECONDS
  for _ in $(seq "$2"); do
    case "$(scalar "SELECT state FROM jobs WHERE id = $1")" in done | failed) return 0 ;; esac
    sleep 1
  done
  return 1
}
# check INDEX EXPECTED: every document once, one commit each, nothing rejected; prints a summary.
check() {
  local table vectors ones rejected split
  table=$(scalar "SELECT vector_table FROM indexes WHERE name = '$1'")
  vectors=$(scalar "SELECT count(DISTINCT doc_id) FROM $table")
  ones=$(scalar "SELECT count(*) FROM $table WHERE commits = 1")
  rejected=$(scalar "SELECT count(*) FROM rejected_documents")
  split=$(scalar "SELECT count(*) FROM shards WHERE state IN ('split', 'failed')")
  echo "documents $vectors of $2, written once $ones, rejected $rejected, shards split or failed $split"
  [ "$vectors" -eq "$2" ] && [ "$ones" -eq "$2" ] && [ "$rejected" -eq 0 ] && [ "$split" -eq 0 ]
}
stop_all() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; sleep 1; PIDS=(); }

drill_lock() {
  fresh lock "$DRIFTLESS_MODELS" "$DRIFTLESS_MODELS"
  corpus 8 8 "$WORK/warm.jsonl" && corpus 408 400 "$WORK/lock.jsonl"
  wait_job "$(client submit "$WORK/warm.jsonl" --index drill --model all-MiniLM-L6-v2 --detach)" 120
  local table job slowest=0 started released
  table=$(scalar "SELECT vector_table FROM indexes WHERE name = 'drill'")
  psql_as -d "$DB" -c "BEGIN; LOCK TABLE $table IN SHARE MODE; SELECT pg_sleep($LOCK_SECONDS); COMMIT" >/dev/null &
  local locker=$!
  sleep 1
  job=$(client submit "$WORK/lock.jsonl" --index drill --model all-MiniLM-L6-v2 --shard-size 16 --detach)
  local polls=0
  while kill -0 "$locker" 2>/dev/null; do
    started=$(date +%s.%N)
    client status "$job" >/dev/null || log "drills: coord status failed"
    slowest=$(awk -v a="$(date +%s.%N)" -v b="$started" -v s="$slowest" 'BEGIN { e = a - b; print (e > s ? e : s) }')
    polls=$((polls + 1))
    sleep 0.5
  done
  released=$(date +%s)
  wait_job "$job" 600 || die "lock drill: the job did not finish"
  local faults
  faults=$(cat "$WORK"/"$DB"-w*.log | grep -c "(database fault)" || true)
  local summary
  summary=$(check drill 408) || die "lock drill: $summary"
  log "lock drill: SHARE lock held ${LOCK_SECONDS} s: $polls status requests, slowest $(printf '%.3f' "$slowest") s; $faults commits gave up (database fault) and were dealt again; job done $(($(date +%s) - released)) s after the lock went; $summary"
  stop_all
}

drill_outage() {
  fresh outage "$DRIFTLESS_MODELS" "$DRIFTLESS_MODELS"
  corpus 1000 1000 "$WORK/outage.jsonl"
  local job started
  job=$(client submit "$WORK/outage.jsonl" --index drill --model all-MiniLM-L6-v2 --shard-size 16 --detach)
  for _ in $(seq 120); do [ "$(scalar "SELECT count(*) >= 3 FROM shards WHERE state = 'done'")" = t ] && break; sleep 1; done
  local done_before
  done_before=$(scalar "SELECT count(*) FROM shards WHERE state = 'done'")
  started=$(date +%s)
  "$DRIFTLESS_ROOT/Ops/postgres.sh" stop >/dev/null
  log "outage drill: PostgreSQL stopped for $OUTAGE_SECONDS s ($done_before shards done)"
  sleep "$OUTAGE_SECONDS"
  "$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null
  wait_job "$job" 900 || die "outage drill: the job did not finish"
  local faults
  faults=$(cat "$WORK"/"$DB"-w*.log | grep -c "(database fault)" || true)
  local summary
  summary=$(check drill 1000) || die "outage drill: $summary"
  log "outage drill: PostgreSQL down ${OUTAGE_SECONDS} s; job $(scalar "SELECT state FROM jobs WHERE id = $job") $(($(date +%s) - started - OUTAGE_SECONDS)) s after it came back; $faults commits given back as database faults; $summary"
  stop_all
}

drill_broken() {
  local broken="$WORK/broken-models/all-MiniLM-L6-v2"
  mkdir -p "$broken"
  for f in "$DRIFTLESS_MODELS"/all-MiniLM-L6-v2/*; do
    [ "$(basename "$f")" = tokenizer.json ] || ln -s "$f" "$broken/"
  done
  head -c 1000 "$DRIFTLESS_MODELS/all-MiniLM-L6-v2/tokenizer.json" > "$broken/tokenizer.json"
  fresh broken "$WORK/broken-models" "$DRIFTLESS_MODELS"
  corpus 200 200 "$WORK/broken.jsonl"
  local job status
  job=$(client submit "$WORK/broken.jsonl" --index drill --model all-MiniLM-L6-v2 --shard-size 8 --detach)
  wait_job "$job" 600 || die "broken drill: the job did not finish"
  status=$(client status)
  echo "$status" | grep -q UNHEALTHY || die "broken drill: the broken worker is not shown unhealthy: $status"
  local summary
  summary=$(check drill 200) || die "broken drill: $summary"
  log "broken drill: job $(scalar "SELECT state FROM jobs WHERE id = $job"); shards by worker: $(scalar "SELECT string_agg(worker || ' ' || n, ', ') FROM (SELECT worker, count(*) n FROM shards WHERE state = 'done' GROUP BY worker) s"); $summary"
  log "broken drill: coord status says: $(echo "$status" | grep -A1 UNHEALTHY | tr -s ' ' | tr '\n' ' ')"
  stop_all
}

for drill in "${DRILLS[@]}"; do
  case "$drill" in
    lock) drill_lock ;;
    outage) drill_outage ;;
    broken) drill_broken ;;
    *) die "unknown drill $drill (lock, outage, broken)" ;;
  esac
done
log "drills: all passed"
