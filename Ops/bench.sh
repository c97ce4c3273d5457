#!/usr/bin/env bash
# Embedding throughput: Driftless's `worker bench` and the reference
# implementation (sentence-transformers on CPU torch, its best batch size),
# measured in the same run on the same documents and thread count.
#
#   Ops/bench.sh                 # all-MiniLM-L6-v2 and all-mpnet-base-v2 on 1000 SciFact docs
#   MINILM_DOCS=300 MPNET_DOCS=100 ROUNDS=1 Ops/bench.sh     # a quick look
#
# Driftless runs in each of PRECISIONS (fp32, bf16, int8); ONNX Runtime float32 and its
# int8 dynamic quantization (Ops/reference/bench_onnx.py, models exported once into
# .cache/onnx/) run beside sentence-transformers. The report names the CPU's features and the
# kernel each precision used.
#
# This machine's speed drifts by 10-20 % over minutes, so each model is measured
# in ROUNDS rounds (Driftless, then the reference at every batch size) and each
# side is credited with its best round; every round's figures are kept.
#
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for Driftless's command only,
# so OpenBLAS picks its kernel for this processor; the report names the kernel.
# Results (JSON) go to .cache/bench/, a Markdown table to standard output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

THREADS=${THREADS:-2}
MINILM_DOCS=${MINILM_DOCS:-1000}
MPNET_DOCS=${MPNET_DOCS:-1000}
PRECISIONS=${PRECISIONS:-fp32 bf16 int8}
ONNX_BATCH_SIZES=${ONNX_BATCH_SIZES:-16,32}
MPNET_ONNX_BATCH_SIZES=${MPNET_ONNX_BATCH_SIZES:-16}
ROUNDS=${ROUNDS:-2}
MPNET_ROUNDS=${MPNET_ROUNDS:-1}
BATCH_SIZES=${BATCH_SIZES:-8,16,32}
# all-mpnet-base-v2 is about five times slower; its sweeps are shorter by default.
MPNET_BATCH_SIZES=${MPNET_BATCH_SIZES:-16}
CORPUS=${CORPUS:-$DRIFTLESS_SHARED/data/scifact/corpus.jsonl}
OUT="$DRIFTLESS_CACHE/bench"
mkdir -p "$OUT"

Ops/install-system.sh
Ops/install-models.sh
PY=$(Ops/reference/setup.sh | tail -1)
log "building the worker (release)"
swift build -c release --product worker >&2
WORKER="$(swift build -c release --show-bin-path)/worker"

run_model() { # run_model NAME DOCS BATCH_SIZES ROUNDS ONNX_BATCH_SIZES
  local name=$1 docs=$2 sizes=$3 rounds=$4 onnx_sizes=$5 model="$DRIFTLESS_MODELS/$1" round
  rm -f "$OUT/$name".*.json
  for round in $(seq 1 "$rounds"); do
    for precision in $PRECISIONS; do
      log "$name, round $round/$rounds: Driftless $precision, $docs docs, $THREADS threads"
      env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$WORKER" bench --model "$model" --input "$CORPUS" \
        --limit "$docs" --threads "$THREADS" --precision "$precision" --json \
        > "$OUT/$name.driftless-$precision.$round.json"
    done
    log "$name, round $round/$rounds: reference, $docs docs, $THREADS threads, batch sizes $sizes"
    "$PY" Ops/reference/bench_reference.py --model "$model" --input "$CORPUS" --limit "$docs" \
      --threads "$THREADS" --batch-sizes "$sizes" --json > "$OUT/$name.reference.$round.json"
    log "$name, round $round/$rounds: ONNX Runtime fp32 and int8, batch sizes $onnx_sizes"
    "$PY" Ops/reference/bench_onnx.py --model "$model" --input "$CORPUS" --limit "$docs" \
      --threads "$THREADS" --batch-sizes "$onnx_sizes" --work "$DRIFTLESS_CACHE/onnx/$name" --json \
      > "$OUT/$name.onnx.$round.jsonl"
    sed -n 1p "$OUT/$name.onnx.$round.jsonl" > "$OUT/$name.onnx-fp32.$round.json"
    sed -n 2p "$OUT/$name.onnx.$round.jsonl" > "$OUT/$name.onnx-int8.$round.json"
  done
}

run_model all-MiniLM-L6-v2 "$MINILM_DOCS" "$BATCH_SIZES" "$ROUNDS" "$ONNX_BATCH_SIZES"
run_model all-mpnet-base-v2 "$MPNET_DOCS" "$MPNET_BATCH_SIZES" "$MPNET_ROUNDS" "$MPNET_ONNX_BATCH_SIZES"

"$PY" - "$OUT" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, pattern)))]
print("| model | docs | tokens | Driftless docs/s (rounds) | reference docs/s, best batch (rounds) | speed-up, best vs best | Driftless GFLOP/s | sgemm peak GFLOP/s | fraction of peak | OpenBLAS kernel |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]:
    ours, refs = load(f"{name}.driftless-fp32.*.json"), load(f"{name}.reference.*.json")
    d = max(ours, key=lambda x: x["documentsPerSecond"])
    r = max(refs, key=lambda x: x["docs_per_s"])
    rounds_d = ", ".join(f"{x['documentsPerSecond']:.1f}" for x in ours)
    rounds_r = "; ".join(", ".join(f"b{b} {v:.1f}" for b, v in x["by_batch_size"].items()) for x in refs)
    print(f"| {name} | {d['documents']} | {d['tokens']} | **{d['documentsPerSecond']:.1f}** ({rounds_d}) | "
          f"**{r['docs_per_s']:.1f}**, batch {r['best_batch_size']} ({rounds_r}) | "
          f"**{d['documentsPerSecond'] / r['docs_per_s']:.2f}×** | {d['gflopsPerSecond']:.1f} | "
          f"{d['sgemmPeakGflopsPerSecond']:.1f} | {100 * d['fractionOfSgemmPeak']:.0f}% | {d['openblasCore']} |")
print()
print(f"reference: torch {r['versions']['torch']}, sentence-transformers {r['versions']['sentence_transformers']}, "
      f"transformers {r['versions']['transformers']}, cpu capability {r['cpu_capability']}, {r['threads']} threads")
print()
# Every precision side by side: best round of each, as multiples of Driftless fp32 and of ONNX Runtime int8.
print("| model | implementation | docs/s, best (rounds) | × Driftless fp32 | × ONNX Runtime int8 | kernel |")
print("|---|---|---|---|---|---|")
onnx_version = ""
for name in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]:
    rows = []
    for precision in ["fp32", "bf16", "int8"]:
        runs = load(f"{name}.driftless-{precision}.*.json")
        if runs:
            best = max(x["documentsPerSecond"] for x in runs)
            rows.append((f"Driftless {precision}", best, [x["documentsPerSecond"] for x in runs],
                         runs[0]["precisionKernel"]))
    for label, pattern in [("sentence-transformers", "reference"), ("ONNX Runtime fp32", "onnx-fp32"),
                           ("ONNX Runtime int8", "onnx-int8")]:
        runs = [x for x in load(f"{name}.{pattern}.*.json") if x]
        if runs:
            best = max(runs, key=lambda x: x["docs_per_s"])
            onnx_version = best["versions"].get("onnxruntime", onnx_version)
            rows.append((label, best["docs_per_s"], [x["docs_per_s"] for x in runs], f"batch {best['best_batch_size']}"))
    base = next((v for label, v, _, _ in rows if label == "Driftless fp32"), None)
    onnx8 = next((v for label, v, _, _ in rows if label == "ONNX Runtime int8"), None)
    for label, value, rounds, kernel in rows:
        times = lambda b: f"{value / b:.2f}×" if b else "–"
        print(f"| {name} | {label} | **{value:.1f}** ({', '.join(f'{x:.1f}' for x in rounds)}) | "
              f"{times(base)} | {times(onnx8)} | {kernel} |")
print()
flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split()
wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8"]
print(f"CPU features: {', '.join(f for f in wanted if f in flags)}; onnxruntime {onnx_version}")
PYEOF
