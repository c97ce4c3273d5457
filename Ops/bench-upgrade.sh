#!/usr/bin/env bash
# Model upgrades on SciFact (test qrels): the old model on its own index, each serving
# mode and projection method, and the new model on native vectors, for
#   all-MiniLM-L6-v2 → all-MiniLM-L6-v2-scifact-ft   (same architecture, fine-tuned)
#   all-MiniLM-L6-v2 → all-mpnet-base-v2             (768-d → 384-d)
#
#   Ops/bench-upgrade.sh        # needs the index "scifact" (Ops/demo.sh); about 75 minutes on 2 cores
#
# Starts a coordinator and two workers (they embed the samples, the on-demand documents and the
# re-indexes), runs `coord upgrade --sample 2000` per method with `coord eval` after each, then:
#   successor: `coord reindex` fills scifact@MODEL, then native and rescore rows;
#   MPNet: the successor index is emptied, 20 queries are re-scored cold (their missing
#   candidates embedded by the workers, urgent jobs) and warm, then `coord reindex` fills it
#   (about 35 minutes) for the native and full rescore rows.
# It leaves scifact serving natively (rolled back). Results: .cache/bench/upgrade-*.json and
# Markdown tables on standard output. SKIP_MPNET_REINDEX=1 stops before the MPNet re-index.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

scifact_bench
PORT=${DRIFTLESS_PORT:-5585}
SAMPLE=${SAMPLE:-2000}
start_cluster "$BIN" upgrade "$PORT"
CLIENT=(--coordinator "tcp://127.0.0.1:$((PORT + 1))" --models "$DRIFTLESS_MODELS")
evaluate() { # evaluate NAME INDEX [flags...]: nDCG@10 etc. as JSON in $OUT/upgrade-NAME.json
  local name=$1 index=$2; shift 2
  "$BIN/coord" eval --index "$index" --models "$DRIFTLESS_MODELS" --queries "$DATA/queries.jsonl" \
    --qrels "$DATA/qrels/test.tsv" --exact --json --threads 2 "$@" > "$OUT/upgrade-$name.json"
  log "$name: nDCG@10 $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['ndcg@10'], 4))" "$OUT/upgrade-$name.json")"
}
upgrade() { "$BIN/coord" upgrade --index scifact "${CLIENT[@]}" --sample "$SAMPLE" "$@" | tee -a "$OUT/upgrade-log.txt"; }

while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done  # start from native
evaluate minilm-native scifact

# 1. The fine-tuned successor.
FT=all-MiniLM-L6-v2-scifact-ft
for method in drift procrustes affine lowrank mlp auto; do
  upgrade --to "$FT" --mode project --method "$method" --refit
  evaluate "ft-project-$method" scifact
done
upgrade --to "$FT" --mode fuse --method auto
evaluate ft-fuse scifact
"$BIN/coord" reindex --index scifact --to "$FT" "${CLIENT[@]}"
evaluate ft-native "scifact@$FT"
upgrade --to "$FT" --mode rescore --rescore-depth 20
evaluate ft-rescore scifact

# 2. Across architectures: the projections on the sample first.
MP=all-mpnet-base-v2
for method in procrustes affine lowrank mlp auto; do
  upgrade --to "$MP" --mode project --method "$method" --refit
  evaluate "mpnet-project-$method" scifact
done
upgrade --to "$MP" --mode fuse --method auto
evaluate mpnet-fuse scifact
# Re-scoring from cold: no new vectors beforehand (the successor index emptied), 20 queries one at a time.
"$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin/psql" "$DRIFTLESS_DATABASE_URL" -qtA -c "DO \$\$ DECLARE dst text; BEGIN
  SELECT vector_table INTO dst FROM indexes WHERE name = 'scifact@$MP';
  EXECUTE format('TRUNCATE %I', dst);
END \$\$"
upgrade --to "$MP" --mode rescore --rescore-depth 20 >/dev/null
awk -F'\t' 'NR == 1 { print; next } !($1 in seen) { seen[$1] = 1; n++ } n <= 20 { print }' "$DATA/qrels/test.tsv" > "$OUT/upgrade-qrels-20.tsv"
# Cold: the 20 queries' missing candidates are embedded by the two workers (urgent jobs); warm: all are there.
for state in cold warm; do
  "$BIN/coord" eval --index scifact --models "$DRIFTLESS_MODELS" --queries "$DATA/queries.jsonl" \
    --qrels "$OUT/upgrade-qrels-20.tsv" --exact --json --batch-size 1 --threads 2 \
    --on-demand-workers --coordinator "tcp://127.0.0.1:$((PORT + 1))" > "$OUT/upgrade-mpnet-rescore-20-$state.json"
done
if [ -z "${SKIP_MPNET_REINDEX:-}" ]; then
  "$BIN/coord" reindex --index scifact --to "$MP" "${CLIENT[@]}"
  evaluate mpnet-rescore scifact
  evaluate mpnet-native "scifact@$MP"
fi
"$BIN/coord" upgrade --index scifact --rollback >/dev/null
while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done  # back to native

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
get = lambda name: json.load(open(f"{out}/upgrade-{name}.json"))
old = get("minilm-native")["ndcg@10"]
import os
for new, label, rows in [
    ("ft", "all-MiniLM-L6-v2 → all-MiniLM-L6-v2-scifact-ft",
     ["project-drift", "project-procrustes", "project-affine", "project-lowrank", "project-mlp", "project-auto", "fuse", "rescore", "native"]),
    ("mpnet", "all-MiniLM-L6-v2 → all-mpnet-base-v2",
     ["project-procrustes", "project-affine", "project-lowrank", "project-mlp", "project-auto", "fuse", "rescore", "native"]),
]:
    if not os.path.exists(f"{out}/upgrade-{new}-native.json"):
        print(f"\n{label}: no native row (SKIP_MPNET_REINDEX)"); continue
    native = get(f"{new}-native")["ndcg@10"]
    print(f"\n{label}: old model on its own index nDCG@10 {old:.4f}, new model on native vectors {native:.4f}\n")
    print("| serving | nDCG@10 | × old | × new native | search p50 ms (embedding included) |")
    print("|---|---|---|---|---|")
    for row in rows:
        r = get(f"{new}-{row}")
        print(f'| {row} | {r["ndcg@10"]:.4f} | {r["ndcg@10"] / old:.3f} | {r["ndcg@10"] / native:.3f} | {r["latency_ms"]["total"]["p50"]:.2f} |')
for state in ["cold", "warm"]:
    r = json.load(open(f"{out}/upgrade-mpnet-rescore-20-{state}.json"))
    l = r["latency_ms"]
    print(f'\nrescore, 20 queries, {state}: nDCG@10 {r["ndcg@10"]:.4f}, documents embedded on demand {r.get("embedded_on_demand", 0)} (by the workers {r.get("embedded_by_workers", 0)}), '
          f'per query total p50 {l["total"]["p50"]:.1f} ms p99 {l["total"]["p99"]:.1f} ms (search incl. re-scoring p50 {l["search"]["p50"]:.1f} ms)')
PY
