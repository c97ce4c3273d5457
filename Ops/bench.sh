#!/usr/bin/env bash
# Embedding throughput: Driftless's `worker bench` and the reference
# implementation (sentence-transformers on CPU torch, its best batch size),
# measured in the same run on the same documents and thread count.
#
#   Ops/bench.sh                 # all-MiniLM-L6-v2 on 2000 SciFact docs, all-mpnet-base-v2 on 500
#   MINILM_DOCS=300 MPNET_DOCS=100 Ops/bench.sh     # a quick look
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for Driftless's command only,
# so OpenBLAS picks its kernel for this processor; the report names the kernel.
# Results (JSON) go to .cache/bench/, a Markdown table to standard output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

THREADS=${THREADS:-2}
MINILM_DOCS=${MINILM_DOCS:-2000}
MPNET_DOCS=${MPNET_DOCS:-500}
BATCH_SIZES=${BATCH_SIZES:-8,16,32,64}
# all-mpnet-base-v2 is about five times slower; its sweep is shorter by default.
MPNET_BATCH_SIZES=${MPNET_BATCH_SIZES:-8,16,32}
CORPUS=${CORPUS:-$DRIFTLESS_SHARED/data/scifact/corpus.jsonl}
OUT="$DRIFTLESS_CACHE/bench"
mkdir -p "$OUT"

Ops/install-system.sh
Ops/install-models.sh
PY=$(Ops/reference/setup.sh | tail -1)
log "building the worker (release)"
swift build -c release --product worker >&2
WORKER="$(swift build -c release --show-bin-path)/worker"

run_model() { # run_model NAME DOCS BATCH_SIZES
  local name=$1 docs=$2 sizes=$3 model="$DRIFTLESS_MODELS/$1"
  log "$name: Driftless, $docs docs, $THREADS threads"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$WORKER" bench --model "$model" --input "$CORPUS" \
    --limit "$docs" --threads "$THREADS" --json > "$OUT/$name.driftless.json"
  log "$name: reference, $docs docs, $THREADS threads, batch sizes $sizes"
  "$PY" Ops/reference/bench_reference.py --model "$model" --input "$CORPUS" --limit "$docs" \
    --threads "$THREADS" --batch-sizes "$sizes" --json > "$OUT/$name.reference.json"
}

run_model all-MiniLM-L6-v2 "$MINILM_DOCS" "$BATCH_SIZES"
run_model all-mpnet-base-v2 "$MPNET_DOCS" "$MPNET_BATCH_SIZES"

"$PY" - "$OUT" <<'PYEOF'
import json, sys, os
out = sys.argv[1]
print("| model | docs | tokens | Driftless docs/s | reference docs/s (best batch) | speed-up | Driftless GFLOP/s | sgemm peak GFLOP/s | fraction of peak | OpenBLAS kernel |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]:
    d = json.load(open(os.path.join(out, f"{name}.driftless.json")))
    r = json.load(open(os.path.join(out, f"{name}.reference.json")))
    print(f"| {name} | {d['documents']} | {d['tokens']} | {d['documentsPerSecond']:.1f} | "
          f"{r['docs_per_s']:.1f} (batch {r['best_batch_size']}; all: {r['by_batch_size']}) | "
          f"{d['documentsPerSecond'] / r['docs_per_s']:.2f}× | {d['gflopsPerSecond']:.1f} | "
          f"{d['sgemmPeakGflopsPerSecond']:.1f} | {100 * d['fractionOfSgemmPeak']:.0f}% | {d['openblasCore']} |")
print()
print(f"reference: torch {r['versions']['torch']}, sentence-transformers {r['versions']['sentence_transformers']}, "
      f"transformers {r['versions']['transformers']}, cpu capability {r['cpu_capability']}, {r['threads']} threads")
PYEOF
