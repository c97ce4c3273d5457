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
# Settings: MODELS, PRECISIONS, DRIFTLESS_PORT (5575; client +1). Two workers, one thread each.
# Indexes are named precision-MODEL-PRECISION and re-used when present (a re-run embeds nothing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

MODELS=${MODELS:-all-MiniLM-L6-v2 all-mpnet-base-v2}
PRECISIONS=${PRECISIONS:-fp32 bf16 int8}
PORT=${DRIFTLESS_PORT:-5575}

Ops/install-system.sh
scifact_bench
OUT="$OUT/eval-precision"
mkdir -p "$OUT"
# Not timed, but long: OpenBLAS picks its own kernel for this processor (as the benchmarks do).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
log "starting a coordinator and two workers (logs: var/log/eval-precision-*.log)"
start_cluster "$BIN" eval-precision "$PORT"

for model in $MODELS; do
  for precision in $PRECISIONS; do
    index="precision-$model-$precision"
    log "$model $precision: indexing SciFact into $index"
    "$BIN/coord" submit "$DATA/corpus.jsonl" --index "$index" --model "$model" --precision "$precision" \
      --coordinator "tcp://127.0.0.1:$((PORT + 1))" >&2
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
