#!/usr/bin/env bash
# The main job, on the embedded default: a local PostgreSQL with pgvector, a
# coordinator and two workers started for you, and SciFact (5,183 documents)
# indexed with all-MiniLM-L6-v2 into the index "scifact", with progress shown.
# Installs what it needs first (system packages, models, the database), builds
# coord and worker in release mode. Re-running it embeds only changed documents.
#
#   Ops/demo.sh [CORPUS.jsonl]        (default: ../shared/data/scifact/corpus.jsonl)
#
# Settings: DRIFTLESS_WORKERS (2), DRIFTLESS_WORKER_THREADS (1 each: the two
# workers share the machine's cores), DRIFTLESS_INDEX (scifact),
# DRIFTLESS_MODEL (all-MiniLM-L6-v2), DRIFTLESS_PORT (5555; the client port is +1).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

"$DRIFTLESS_ROOT/Ops/install-system.sh"
"$DRIFTLESS_ROOT/Ops/install-models.sh"
CORPUS="${1:-$DRIFTLESS_SHARED/data/scifact/corpus.jsonl}"
[ -f "$CORPUS" ] || die "corpus not found at $CORPUS (set DRIFTLESS_SHARED to the shared folder)"
WORKERS=${DRIFTLESS_WORKERS:-2}
THREADS=${DRIFTLESS_WORKER_THREADS:-1}
INDEX=${DRIFTLESS_INDEX:-scifact}
MODEL=${DRIFTLESS_MODEL:-all-MiniLM-L6-v2}
PORT=${DRIFTLESS_PORT:-5555}

DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" start | tail -1)
export DRIFTLESS_DATABASE_URL

log "building coord and worker (release)"
swift build -c release --product coord >&2
swift build -c release --product worker >&2
BIN="$(swift build -c release --show-bin-path)"

LOGS="$DRIFTLESS_ROOT/var/log"
mkdir -p "$LOGS"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

log "starting the coordinator (log: $LOGS/coord.log)"
"$BIN/coord" serve --models "$DRIFTLESS_MODELS" --bind "tcp://127.0.0.1:$PORT" \
  --client-bind "tcp://127.0.0.1:$((PORT + 1))" >"$LOGS/coord.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do grep -q "coordinator ready" "$LOGS/coord.log" && break; sleep 0.5; done
grep -q "coordinator ready" "$LOGS/coord.log" || { tail -20 "$LOGS/coord.log" >&2; die "the coordinator did not start"; }

for n in $(seq "$WORKERS"); do
  log "starting worker $n ($THREADS thread(s); log: $LOGS/worker-$n.log)"
  # Workers connect as the least-privileged driftless_worker role (migration 0007).
  DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" url worker) \
    "$BIN/worker" serve --coordinator "tcp://127.0.0.1:$PORT" --models "$DRIFTLESS_MODELS" \
    --threads "$THREADS" >"$LOGS/worker-$n.log" 2>&1 &
  PIDS+=($!)
done

API_PORT=${DRIFTLESS_API_PORT:-8080}
log "starting the search service (log: $LOGS/api.log)"
"$BIN/coord" api --port "$API_PORT" --models "$DRIFTLESS_MODELS" --coordinator "tcp://127.0.0.1:$((PORT + 1))" \
  >"$LOGS/api.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null && break; sleep 0.5; done
log "status page: http://127.0.0.1:$API_PORT/ (jobs, workers, indexes, live)"

log "indexing $(wc -l < "$CORPUS") documents of $CORPUS into \"$INDEX\" with $MODEL"
"$BIN/coord" submit "$CORPUS" --index "$INDEX" --model "$MODEL" --coordinator "tcp://127.0.0.1:$((PORT + 1))"
"$BIN/coord" status --coordinator "tcp://127.0.0.1:$((PORT + 1))"
log "done: the vectors are in $DRIFTLESS_DATABASE_URL (index \"$INDEX\")"

QRELS="$DRIFTLESS_SHARED/data/scifact/qrels/test.tsv"
if [ "$CORPUS" -ef "$DRIFTLESS_SHARED/data/scifact/corpus.jsonl" ] && [ -f "$QRELS" ]; then
  log "a search: coord query --index $INDEX -k 3 \"…\""
  "$BIN/coord" query --index "$INDEX" --models "$DRIFTLESS_MODELS" -k 3 \
    "Vitamin D deficiency is associated with a higher risk of tuberculosis."
  log "retrieval quality on SciFact's test queries: coord eval --index $INDEX"
  "$BIN/coord" eval --index "$INDEX" --models "$DRIFTLESS_MODELS" \
    --queries "$DRIFTLESS_SHARED/data/scifact/queries.jsonl" --qrels "$QRELS"
fi
log "the same through the search service: curl -X POST http://127.0.0.1:$API_PORT/v1/search"
curl -fsS -X POST "http://127.0.0.1:$API_PORT/v1/search" -H 'Content-Type: application/json' \
  -d "{\"index\": \"$INDEX\", \"query\": \"Vitamin D deficiency is associated with a higher risk of tuberculosis.\", \"k\": 3}" \
  | python3 -c 'import json, sys; [print("%.4f  %s  %s" % (h["score"], h["id"], h["title"])) for h in json.load(sys.stdin)["results"]]'
log "search service: http://127.0.0.1:$API_PORT/ (status page), POST /v1/search, POST /v1/embeddings"
if [ -t 0 ] && [ -z "${CI:-}" ]; then
  log "the coordinator, workers and search service keep running: Ctrl-C stops them"
  while true; do sleep 3600; done
fi
