#!/usr/bin/env bash
# Decoder-only embedder throughput: Driftless's `worker bench` against transformers
# (AutoModel, CPU torch) on a model with Qwen3-Embedding-0.6B's shape, same run, same
# documents, same thread count, same BF16 weights (generated with a fixed seed: the real
# weights are not reachable here; the shape decides the work).
#
#   Ops/bench-decoder.sh                       # first 500 SciFact documents, 2 threads
#   DOCS=50 ROUNDS=1 Ops/bench-decoder.sh      # a quick look
#   MAX_SEQ_LENGTH=512 Ops/bench-decoder.sh    # longer windows (default 128)
#
# Driftless runs in each of PRECISIONS (fp32: BF16 weights widened at load; bf16: oneDNN's
# bfloat16 products; int8); transformers is measured in float32 and in bfloat16 (its own BF16
# kernels, where the CPU has them). Each side is credited with its best round. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for
# Driftless's command only; the report names the kernel OpenBLAS picked.
# Results (JSON) go to .cache/bench/, a Markdown table to standard output.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

THREADS=${THREADS:-2}
DOCS=${DOCS:-500}
ROUNDS=${ROUNDS:-1}
BATCH_SIZE=${BATCH_SIZE:-16}
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-128}
DTYPES=${DTYPES:-float32,bfloat16}
PRECISIONS=${PRECISIONS:-fp32 bf16 int8}
CORPUS=${CORPUS:-$DRIFTLESS_SHARED/data/scifact/corpus.jsonl}
OUT="$DRIFTLESS_CACHE/bench"
MODEL="$OUT/qwen3-0.6b-shape-$MAX_SEQ_LENGTH"
mkdir -p "$OUT"

Ops/install-system.sh
PY=$(Ops/reference/setup.sh | tail -1)
if [ ! -f "$MODEL/model.safetensors" ]; then
  log "writing a model with Qwen3-Embedding-0.6B's shape to $MODEL (seed 0, BF16)"
  "$PY" Ops/reference/make_decoder_model.py --out "$MODEL" --max-seq-length "$MAX_SEQ_LENGTH" \
    --tokenizer "$DRIFTLESS_SHARED/fixtures/tiny-qwen3-embedding"
fi
log "building the worker (release)"
swift build -c release --product worker >&2
WORKER="$(swift build -c release --show-bin-path)/worker"

# The two implementations agree on this model before either is timed (20 documents).
head -n 20 "$CORPUS" > "$OUT/decoder.first20.jsonl"
"$WORKER" embed --model "$MODEL" --input "$OUT/decoder.first20.jsonl" --output "$OUT/decoder.driftless.vectors.jsonl" \
  --threads "$THREADS" 2>/dev/null
"$PY" Ops/reference/bench_decoder_reference.py --model "$MODEL" --input "$CORPUS" --limit 20 --threads "$THREADS" \
  --dtype float32 --dump-embeddings "$OUT/decoder.reference.vectors.jsonl" 2>/dev/null
"$PY" - "$OUT" <<'PYEOF' >&2
import json, math, sys
out = sys.argv[1]
ours = {l["id"]: l["embedding"] for l in map(json.loads, open(f"{out}/decoder.driftless.vectors.jsonl"))}
ref = {l["id"]: l["embedding"] for l in map(json.loads, open(f"{out}/decoder.reference.vectors.jsonl"))}
worst = min(sum(a * b for a, b in zip(ours[i], ref[i])) / math.sqrt(sum(a * a for a in ours[i]) * sum(b * b for b in ref[i])) for i in ref)
print(f"agreement on 20 documents: worst cosine {worst:.7f} against transformers float32")
if worst < 0.9999:
    sys.exit("Driftless and transformers disagree on this model: the benchmark would compare different work")
PYEOF

rm -f "$OUT"/decoder.driftless*.[0-9]*.json "$OUT"/decoder.reference.*.[0-9]*.json
for round in $(seq 1 "$ROUNDS"); do
  for precision in $PRECISIONS; do
    log "round $round/$ROUNDS: Driftless $precision, $DOCS docs, $THREADS threads"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$WORKER" bench --model "$MODEL" --input "$CORPUS" \
      --limit "$DOCS" --threads "$THREADS" --precision "$precision" --json > "$OUT/decoder.driftless-$precision.$round.json"
  done
  for dtype in ${DTYPES//,/ }; do
    log "round $round/$ROUNDS: transformers $dtype, $DOCS docs, $THREADS threads, batch $BATCH_SIZE"
    "$PY" Ops/reference/bench_decoder_reference.py --model "$MODEL" --input "$CORPUS" --limit "$DOCS" \
      --threads "$THREADS" --batch-size "$BATCH_SIZE" --dtype "$dtype" --json > "$OUT/decoder.reference.$dtype.$round.json"
  done
done

"$PY" - "$OUT" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out, pattern)))]
refs = {}
for dtype in ("float32", "bfloat16"):
    runs = load(f"decoder.reference.{dtype}.[0-9]*.json")
    if runs:
        refs[dtype] = max(runs, key=lambda x: x["tokens_per_s"])
print("| side | docs | tokens | tokens/s (rounds) | docs/s | GFLOP/s | fraction of fp32 sgemm peak | × transformers float32 | × transformers bfloat16 |")
print("|---|---|---|---|---|---|---|---|---|")
def times(value, dtype):
    return f"**{value / refs[dtype]['tokens_per_s']:.2f}×**" if dtype in refs else "–"
d = None
for precision in ("fp32", "bf16", "int8"):
    ours = load(f"decoder.driftless-{precision}.[0-9]*.json")
    if not ours:
        continue
    d = max(ours, key=lambda x: x["tokensPerSecond"])
    print(f"| Driftless {precision} ({d['precisionKernel']}) | {d['documents']} | {d['tokens']} | "
          f"**{d['tokensPerSecond']:.0f}** ({', '.join('%.0f' % x['tokensPerSecond'] for x in ours)}) | "
          f"{d['documentsPerSecond']:.2f} | {d['gflopsPerSecond']:.1f} | {100 * d['fractionOfSgemmPeak']:.0f}% | "
          f"{times(d['tokensPerSecond'], 'float32')} | {times(d['tokensPerSecond'], 'bfloat16')} |")
for dtype, r in refs.items():
    gflops = d["gflop"] * r["tokens"] / d["tokens"] / r["seconds"]
    print(f"| transformers AutoModel ({dtype}, batch {r['batch_size']}) | {r['documents']} | {r['tokens']} | "
          f"**{r['tokens_per_s']:.0f}** ({', '.join('%.0f' % x['tokens_per_s'] for x in load(f'decoder.reference.{dtype}.[0-9]*.json'))}) | "
          f"{r['docs_per_s']:.2f} | {gflops:.1f} | {100 * gflops / d['sgemmPeakGflopsPerSecond']:.0f}% | "
          f"{times(r['tokens_per_s'], 'float32')} | {times(r['tokens_per_s'], 'bfloat16')} |")
print()
print(f"reference: torch {r['versions']['torch']}, transformers {r['versions']['transformers']}, "
      f"cpu capability {r['cpu_capability']}, {r['threads']} threads; max_seq_length {r['max_seq_length']}; "
      f"OpenBLAS {d['openblasCore']}, fp32 sgemm peak {d['sgemmPeakGflopsPerSecond']:.1f} GFLOP/s")
PYEOF
