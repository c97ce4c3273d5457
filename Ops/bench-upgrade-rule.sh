#!/usr/bin/env bash
# Does `coord upgrade` switch only where it helps? On SciFact (test qrels), from all-MiniLM-L6-v2:
#   → all-MiniLM-L6-v2-scifact-ft: project (auto) and fuse, each with --eval;
#   → all-mpnet-base-v2: project (auto), which the rule should refuse (then --force, for its
#     figures), and fuse.
# Each prints the label-free prediction against the old model (paired bootstrap over the
# pseudo-queries) next to the nDCG@10 the test qrels give, with the same sample and seed as
# Ops/bench-upgrade.sh (--sample 2000, seed 42), so its figures are comparable.
#
#   Ops/bench-upgrade-rule.sh        # indexes scifact first when absent (about 4 minutes), then about 30 minutes
#
# Output: .cache/bench/upgrade-rule.txt (every upgrade's report). Leaves scifact serving natively.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

scifact_bench
PORT=${DRIFTLESS_PORT:-5595}
start_cluster "$BIN" rule "$PORT"
CLIENT=(--coordinator "tcp://127.0.0.1:$((PORT + 1))")
while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done  # start from native
# Indexed (or, when it is already, nothing embedded: every document unchanged); then no job may be open.
log "indexing SciFact with all-MiniLM-L6-v2"
"$BIN/coord" submit "$DATA/corpus.jsonl" --index scifact "${CLIENT[@]}" $("$BIN/coord" query --index scifact \
  --models "$DRIFTLESS_MODELS" -k 1 test >/dev/null 2>&1 || echo --model all-MiniLM-L6-v2)
until "$BIN/coord" status --json "${CLIENT[@]}" | python3 -c 'import json,sys; sys.exit(any(j["state"] in ("receiving","running","indexing") for j in json.load(sys.stdin)["jobs"]))'; do
  sleep 2
done
: > "$OUT/upgrade-rule.txt"
upgrade() { # upgrade ARGS...: the report, appended; never stops the script
  log "coord upgrade $*"
  { echo "=== coord upgrade --index scifact $*"; "$BIN/coord" upgrade --index scifact "${CLIENT[@]}" --models "$DRIFTLESS_MODELS" \
      --sample 2000 --seed 42 --eval "$DATA/queries.jsonl" "$DATA/qrels/test.tsv" "$@" 2>&1 || echo "(exit $?)"; } \
    | tee -a "$OUT/upgrade-rule.txt"
}
upgrade --to all-MiniLM-L6-v2-scifact-ft --mode project --method auto --refit
upgrade --to all-MiniLM-L6-v2-scifact-ft --mode fuse --method auto --refit
while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done
upgrade --to all-mpnet-base-v2 --mode project --method auto --refit
upgrade --to all-mpnet-base-v2 --mode project --method auto --refit --force  # what the refused switch would serve
while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done
upgrade --to all-mpnet-base-v2 --mode fuse --method auto --refit
while "$BIN/coord" upgrade --index scifact --rollback >/dev/null 2>&1; do :; done
grep -E "^===|predicted change|instead,|not switched|now serving|serving mode|native \(old vectors\)|, (project|fuse) " "$OUT/upgrade-rule.txt" >&2 || true
