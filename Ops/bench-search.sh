#!/usr/bin/env bash
# Search quality and latency on SciFact's test queries, for the indexes that
# Ops/demo.sh builds (DRIFTLESS_MODEL=all-mpnet-base-v2 DRIFTLESS_INDEX=scifact-mpnet
# Ops/demo.sh builds the second):
#
#   Ops/bench-search.sh [INDEX ...]        # default: scifact scifact-mpnet
#
# For each index: `coord eval` with exact search and with HNSW (agreement with the
# exact top 10), queries embedded in batches of 32; then again one query at a time
# (--batch-size 1) for latencies with embedding included. Each run file is scored
# again by pytrec_eval (the reference's trec_eval), and the reference
# (sentence-transformers) embeds the same queries one at a time for its latency.
# JSON goes to .cache/bench/search-*, a summary to standard output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" start | tail -1)
export DRIFTLESS_DATABASE_URL
swift build -c release --product coord >&2
BIN="$(swift build -c release --show-bin-path)"
PY=$("$DRIFTLESS_ROOT/Ops/reference/setup.sh" | tail -1)
DATA="$DRIFTLESS_SHARED/data/scifact"
OUT="$DRIFTLESS_CACHE/bench"
mkdir -p "$OUT"
INDEXES=("$@")
[ ${#INDEXES[@]} -gt 0 ] || INDEXES=(scifact scifact-mpnet)

for index in "${INDEXES[@]}"; do
  model=$("$BIN/coord" index list | awk -v i="$index" '$1 == i { print $2 }')
  [ -n "$model" ] || die "no index $index (build it with Ops/demo.sh)"
  "$BIN/coord" index build --index "$index" >&2
  for mode in exact hnsw; do
    flags=(); [ "$mode" = exact ] && flags=(--exact) || flags=(--compare-exact)
    for batch in 32 1; do
      name="search-$index-$mode-b$batch"
      log "$name"
      "$BIN/coord" eval --index "$index" --models "$DRIFTLESS_MODELS" --queries "$DATA/queries.jsonl" \
        --qrels "$DATA/qrels/test.tsv" --json --batch-size "$batch" --run-file "$OUT/$name.trec" "${flags[@]}" \
        > "$OUT/$name.json"
    done
    "$PY" "$DRIFTLESS_ROOT/Ops/reference/eval_reference.py" --qrels "$DATA/qrels/test.tsv" \
      --run "$OUT/search-$index-$mode-b32.trec" > "$OUT/search-$index-$mode-pytrec_eval.json"
  done
  "$PY" "$DRIFTLESS_ROOT/Ops/reference/eval_reference.py" --qrels "$DATA/qrels/test.tsv" \
    --model "$DRIFTLESS_MODELS/$model" --queries "$DATA/queries.jsonl" --latency > "$OUT/search-$index-reference-latency.json"
done

python3 - "$OUT" "${INDEXES[@]}" <<'PY'
import json, sys
out, indexes = sys.argv[1], sys.argv[2:]
load = lambda name: json.load(open(f"{out}/{name}.json"))
print("| index | search | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | mAP@100 | pytrec_eval nDCG@10 | top-10 agreement with exact | search p50 / p99 ms | embedding (1 query) p50 / p99 ms | total p50 / p99 ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for index in indexes:
    for mode in ["exact", "hnsw"]:
        b32, b1, ref = load(f"search-{index}-{mode}-b32"), load(f"search-{index}-{mode}-b1"), load(f"search-{index}-{mode}-pytrec_eval")
        lat = b1["latency_ms"]
        agreement = f'{b32["overlap_with_exact@10"]:.4f}' if "overlap_with_exact@10" in b32 else "(is exact)"
        print(f'| {index} ({b32["model"]}) | {b32["method"]} | {b32["ndcg@10"]:.4f} | {b32["recall@10"]:.4f} | {b32["recall@100"]:.4f} | '
              f'{b32["mrr@10"]:.4f} | {b32["map@100"]:.4f} | {ref["ndcg@10"]:.4f} | {agreement} | '
              f'{lat["search"]["p50"]:.2f} / {lat["search"]["p99"]:.2f} | {lat["embedding"]["p50"]:.2f} / {lat["embedding"]["p99"]:.2f} | '
              f'{lat["total"]["p50"]:.2f} / {lat["total"]["p99"]:.2f} |')
    r = load(f"search-{index}-reference-latency")["embedding_ms"]
    print(f'| {index}: reference (sentence-transformers) query embedding, 1 query | | | | | | | | | | {r["p50"]:.2f} / {r["p99"]:.2f} | |')
PY
