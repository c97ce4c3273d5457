#!/usr/bin/env bash
# Retrieval quality of each precision: SciFact (5,183 documents) indexed by all-MiniLM-L6-v2 and
# all-mpnet-base-v2 in fp32, bf16 and int8 through a coordinator and workers, then `coord eval
# --exact` (a sequential scan, so that only the vectors differ) on SciFact's 300 test queries,
# whose queries are embedded in the index's precision too. Prints a Markdown table; JSON goes to
# .cache/bench/eval-precision/.
#
#   Ops/eval-precision.sh
#   MODELS="all-MiniLM-L6-v2" PRECISIONS="fp32 int8" Ops/eval-precision.sh
#
# Settings: MODELS, PRECISIONS, WORKERS (2, one thread each), DRIFTLESS_PORT (5575; client +1).
# Indexes are named precision-MODEL-PRECISION and re-used when present (a re-run embeds nothing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

MODELS=${MODELS:-all-MiniLM-L6-v2 all-mpnet-base-v2}
PRECISIONS=${PRECISIONS:-fp32 bf16 int8}
WORKERS=${WORKERS:-2}
PORT=${DRIFTLESS_PORT:-5575}
DATA="$DRIFTLESS_SHARED/data/scifact"
OUT="$DRIFTLESS_CACHE/bench/eval-precision"
mkdir -p "$OUT"

Ops/install-system.sh
Ops/install-models.sh
DRIFTLESS_DATABASE_URL=$(Ops/postgres.sh start | tail -1)
export DRIFTLESS_DATABASE_URL
log "building coord and worker (release)"
swift build -c release --product coord >&2
swift build -c release --product worker >&2
BIN="$(swift build -c release --show-bin-path)"

LOGS="$DRIFTLESS_ROOT/var/log/eval-precision"
mkdir -p "$LOGS"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
"$BIN/coord" serve --models "$DRIFTLESS_MODELS" --bind "tcp://127.0.0.1:$PORT" \
  --client-bind "tcp://127.0.0.1:$((PORT + 1))" >"$LOGS/coord.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do grep -q "coordinator ready" "$LOGS/coord.log" && break; sleep 0.5; done
grep -q "coordinator ready" "$LOGS/coord.log" || { tail -20 "$LOGS/coord.log" >&2; die "the coordinator did not start"; }
for n in $(seq "$WORKERS"); do
  # Not timed, but long: OpenBLAS picks its own kernel for this processor (as the benchmarks do).
  DRIFTLESS_DATABASE_URL=$(Ops/postgres.sh url worker) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
    "$BIN/worker" serve --coordinator "tcp://127.0.0.1:$PORT" --models "$DRIFTLESS_MODELS" --threads 1 \
    >"$LOGS/worker-$n.log" 2>&1 &
  PIDS+=($!)
done

for model in $MODELS; do
  for precision in $PRECISIONS; do
    index="precision-$model-$precision"
    log "$model $precision: indexing SciFact into $index (log: $LOGS/)"
    "$BIN/coord" submit "$DATA/corpus.jsonl" --index "$index" --model "$model" --precision "$precision" \
      --coordinator "tcp://127.0.0.1:$((PORT + 1))"
    log "$model $precision: coord eval --exact"
    "$BIN/coord" eval --index "$index" --models "$DRIFTLESS_MODELS" --exact --json --threads 2 \
      --queries "$DATA/queries.jsonl" --qrels "$DATA/qrels/test.tsv" > "$OUT/$model.$precision.json"
  done
done

python3 - "$OUT" $MODELS <<'PYEOF'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | precision | nDCG@10 (exact) | change from fp32 | recall@100 |")
print("|---|---|---|---|---|")
for model in models:
    base = None
    for precision in ["fp32", "bf16", "int8"]:
        path = os.path.join(out, f"{model}.{precision}.json")
        if not os.path.exists(path):
            continue
        r = json.load(open(path))
        ndcg, recall = r["ndcg@10"], r["recall@100"]
        base = ndcg if precision == "fp32" else base
        change = f"{ndcg - base:+.4f}" if base is not None and precision != "fp32" else "–"
        print(f"| {model} | {precision} | {ndcg:.4f} | {change} | {recall:.4f} |")
PYEOF
