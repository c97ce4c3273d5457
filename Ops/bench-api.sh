#!/usr/bin/env bash
# The search service under load, side by side with the usual Python stack:
#
#   Ops/bench-api.sh [INDEX]        # default: scifact (all-MiniLM-L6-v2, built by Ops/demo.sh)
#
# Both services search the same PostgreSQL index with HNSW (the index's ef_search):
#   - Driftless: `coord api` (warm model, micro-batched model calls);
#   - reference: sentence-transformers + psycopg + pgvector behind FastAPI on uvicorn
#     (Ops/reference/api_reference.py, in the reference venv of Ops/reference/setup.sh with
#     fastapi, uvicorn, psycopg and pgvector added).
# The load: SciFact's 300 test queries, POST /v1/search with k = 10, cycled by wrk (one
# thread) at concurrency 1, 8 and 32 for BENCH_SECONDS each (default 20) after a warm-up;
# queries/s and p50/p99 latency from wrk. The two services' top-10 ids are compared first.
# Everything runs on this machine: wrk takes CPU from the service it measures, alike for both.
# JSON lines go to .cache/bench/api.jsonl, a table to standard output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

INDEX=${1:-scifact}
SECONDS_EACH=${BENCH_SECONDS:-20}
API_PORT=${BENCH_API_PORT:-18080}
REF_PORT=${BENCH_REF_PORT:-18081}
command -v wrk >/dev/null || {
  log "installing wrk"
  SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
}
DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" start | tail -1)
export DRIFTLESS_DATABASE_URL
BIN="$(release_binaries)"
PSQL=("$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin/psql" "$DRIFTLESS_DATABASE_URL" -Atq)
PY=$("$DRIFTLESS_ROOT/Ops/reference/setup.sh" | tail -1)
"$PY" -c 'import fastapi, uvicorn, psycopg, psycopg_pool, pgvector' 2>/dev/null || {
  log "reference service: installing fastapi, uvicorn, psycopg, pgvector into the reference venv"
  "$PY" -m pip install -q fastapi 'uvicorn[standard]' 'psycopg[binary]' psycopg-pool pgvector >&2
}
OUT="$DRIFTLESS_CACHE/bench"
mkdir -p "$OUT"
: > "$OUT/api.jsonl"

read -r MODEL TABLE COLLECTION EF < <("${PSQL[@]}" -F' ' -c \
  "SELECT m.name, i.vector_table, i.collection_id, i.ef_search FROM indexes i JOIN models m ON m.id = i.model_id WHERE i.name = '$INDEX'") \
  || die "no index $INDEX (build it with Ops/demo.sh)"
[ -n "${MODEL:-}" ] || die "no index $INDEX (build it with Ops/demo.sh)"
"$BIN/coord" index build --index "$INDEX" >&2

# The 300 test queries as request bodies, one per line.
BODIES="$OUT/api-bodies.txt"
python3 - "$DRIFTLESS_SHARED/data/scifact" "$INDEX" > "$BODIES" <<'PY'
import csv, json, sys
data, index = sys.argv[1], sys.argv[2]
texts = {q["_id"]: q["text"] for q in map(json.loads, open(f"{data}/queries.jsonl"))}
ids = []
for row in csv.DictReader(open(f"{data}/qrels/test.tsv"), delimiter="\t"):
    if row["query-id"] not in ids: ids.append(row["query-id"])
for i in ids: print(json.dumps({"index": index, "query": texts[i], "k": 10}))
PY
log "$(wc -l < "$BODIES") queries"
LUA="$OUT/api-load.lua"
cat > "$LUA" <<LUA
local bodies = {}
for line in io.lines("$BODIES") do bodies[#bodies + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/v1/search", { ["Content-Type"] = "application/json" }, bodies[(n % #bodies) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
LUA

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_for() { for _ in $(seq 240); do curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' -d "$(head -1 "$BODIES")" "$1/v1/search" 2>/dev/null && return 0; sleep 0.5; done; die "$1 did not answer"; }

LOGS="$DRIFTLESS_ROOT/var/log"; mkdir -p "$LOGS"
log "starting coord api on :$API_PORT (log: $LOGS/bench-api.log)"
"$BIN/coord" api --port "$API_PORT" --index "$INDEX" --models "$DRIFTLESS_MODELS" --coordinator none >"$LOGS/bench-api.log" 2>&1 &
PIDS+=($!)
log "starting the reference (FastAPI + sentence-transformers) on :$REF_PORT (log: $LOGS/bench-api-reference.log)"
"$PY" "$DRIFTLESS_ROOT/Ops/reference/api_reference.py" --model "$DRIFTLESS_MODELS/$MODEL" --database "$DRIFTLESS_DATABASE_URL" \
  --table "$TABLE" --collection "$COLLECTION" --ef-search "$EF" --port "$REF_PORT" >"$LOGS/bench-api-reference.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$API_PORT"
wait_for "http://127.0.0.1:$REF_PORT"

log "agreement: top-10 ids of both services for the 300 queries"
python3 - "$BODIES" "$API_PORT" "$REF_PORT" <<'PY' | tee -a "$OUT/api.jsonl"
import json, sys, urllib.request
bodies, api, ref = sys.argv[1], sys.argv[2], sys.argv[3]
def ask(port, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/search", data=body.encode(), headers={"Content-Type": "application/json"})
    return [r["id"] for r in json.load(urllib.request.urlopen(request))["results"]]
same = overlap = total = 0
for body in open(bodies):
    a, b = ask(api, body.strip()), ask(ref, body.strip())
    same += a == b; overlap += len(set(a) & set(b)); total += 1
print(json.dumps({"agreement": {"queries": total, "identical_top10": same, "overlap@10": overlap / (10 * total)}}))
PY

CPU=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
for c in 1 8 32; do
  for service in driftless reference; do
    port=$([ $service = driftless ] && echo "$API_PORT" || echo "$REF_PORT")
    wrk -t1 -c"$c" -d3s -s "$LUA" "http://127.0.0.1:$port" >/dev/null  # warm-up
    line=$(wrk -t1 -c"$c" -d"${SECONDS_EACH}s" --timeout 30s -s "$LUA" "http://127.0.0.1:$port" | sed -n 's/^RESULT //p')
    echo "{\"service\": \"$service\", \"concurrency\": $c, \"index\": \"$INDEX\", \"model\": \"$MODEL\", \"cpu\": \"$CPU\", \"wrk\": $line}" | tee -a "$OUT/api.jsonl" >&2
  done
done
curl -fsS "http://127.0.0.1:$API_PORT/metrics" | grep '^driftless_api_model_batch_texts_\(sum\|count\)' >&2 || true

python3 - "$OUT/api.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
agreement = next(r["agreement"] for r in rows if "agreement" in r)
runs = [r for r in rows if "service" in r]
print(f"top-10 identical for {agreement['identical_top10']}/{agreement['queries']} queries, overlap@10 {agreement['overlap@10']:.4f}")
print("| concurrency | service | queries/s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|")
for r in runs:
    w = r["wrk"]
    print(f"| {r['concurrency']} | {r['service']} | {w['requests'] / w['seconds']:.1f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} | {w['errors']} |")
for c in sorted({r["concurrency"] for r in runs}):
    d = next(r["wrk"] for r in runs if r["concurrency"] == c and r["service"] == "driftless")
    p = next(r["wrk"] for r in runs if r["concurrency"] == c and r["service"] == "reference")
    print(f"concurrency {c}: Driftless {d['requests'] / d['seconds'] / (p['requests'] / p['seconds']):.2f}x the reference's queries/s")
PY
