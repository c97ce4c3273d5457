#!/usr/bin/env bash
# vector against halfvec storage on SciFact (all-MiniLM-L6-v2, test qrels): nDCG@10 and
# recall@100 with exact search and through HNSW, bytes per stored vector, table and HNSW sizes,
# HNSW build time. Indexes "scifact" (vector) when absent and "scifact-halfvec" (`coord submit
# --storage halfvec`; about 3 minutes each with two workers).
#
#   Ops/bench-storage.sh        # output: .cache/bench/storage.md
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

scifact_bench
PORT=${DRIFTLESS_PORT:-5615}
start_cluster "$BIN" storage "$PORT"
CLIENT=(--coordinator "tcp://127.0.0.1:$((PORT + 1))")
PSQL=("$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin/psql" "$DRIFTLESS_DATABASE_URL" -Atq)
for pair in scifact:vector scifact-halfvec:halfvec; do
  index=${pair%%:*} storage=${pair##*:}
  log "indexing SciFact into $index ($storage)"
  "$BIN/coord" submit "$DATA/corpus.jsonl" --index "$index" --model all-MiniLM-L6-v2 --storage "$storage" "${CLIENT[@]}" >/dev/null
done
{
  echo "Ops/bench-storage.sh, $(date -u +%Y-%m-%d), $(git rev-parse --short HEAD): SciFact (5,183 documents, 300 test queries), all-MiniLM-L6-v2"
  echo
  echo "| storage | bytes/vector | table MiB | HNSW MiB | HNSW build s | nDCG@10 exact | nDCG@10 HNSW | recall@100 exact | recall@100 HNSW |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for pair in scifact:vector scifact-halfvec:halfvec; do
    index=${pair%%:*} storage=${pair##*:}
    table=$("${PSQL[@]}" -c "SELECT vector_table FROM indexes WHERE name = '$index'")
    sizes=$("${PSQL[@]}" -F ' ' -c "SELECT (SELECT avg(pg_column_size(embedding))::int FROM $table), round(pg_relation_size('$table') / 1048576.0, 1), round(pg_relation_size('${table}_hnsw') / 1048576.0, 1)")
    start=$(date +%s.%N)
    "$BIN/coord" index build --index "$index" --rebuild --database "$DRIFTLESS_DATABASE_URL" >/dev/null 2>&1
    build=$(echo "$(date +%s.%N) - $start" | bc)
    exact=$("$BIN/coord" eval --index "$index" --models "$DRIFTLESS_MODELS" --queries "$DATA/queries.jsonl" --qrels "$DATA/qrels/test.tsv" --exact --json)
    hnsw=$("$BIN/coord" eval --index "$index" --models "$DRIFTLESS_MODELS" --queries "$DATA/queries.jsonl" --qrels "$DATA/qrels/test.tsv" --json)
    python3 - "$storage" "$sizes" "$build" "$exact" "$hnsw" <<'PY'
import json, sys
storage, sizes, build, exact, hnsw = sys.argv[1], sys.argv[2].split(), float(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
print(f"| {storage} | {sizes[0]} | {sizes[1]} | {sizes[2]} | {build:.1f} | {exact['ndcg@10']:.4f} | {hnsw['ndcg@10']:.4f} | {exact['recall@100']:.4f} | {hnsw['recall@100']:.4f} |")
PY
  done
} | tee "$OUT/storage.md"
