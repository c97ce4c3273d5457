#!/usr/bin/env bash
# libFuzzer over the parsers that read what others send or write: the wire decoder, a corpus
# line, qrels, safetensors headers and tokenizer.json (Tests/Fuzz/README.md). Not in the
# default suite: each target runs for SECONDS (default 600) on one core.
#
#   Ops/fuzz.sh [SECONDS] [TARGET ...]     # targets: wire corpus-line qrels safetensors tokenizer
#
# Each target is compiled by the toolchain's swiftc with -sanitize=fuzzer,address together
# with the sources it exercises. Corpora grow in .cache/fuzz/TARGET (seeded from
# Tests/Fuzz/seeds/TARGET); a crashing input lands in .cache/fuzz/crashes/TARGET/ and the run
# exits 1: fix it, then keep the input in Tests/Fuzz/regressions/TARGET/ (FuzzRegressionTests).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire corpus-line qrels safetensors tokenizer)

S=Sources
sources_for() {
  case "$1" in
    wire) echo Tests/Fuzz/WireFuzz.swift $S/Wire/WireProtocol.swift $S/Wire/WorkerMessage.swift $S/Wire/ClientRequest.swift \
      $S/Wire/ClientReply.swift $S/Wire/CoordinatorMessage.swift $S/Wire/ShardAssignment.swift $S/Wire/StatusReport.swift \
      $S/Corpus/Document.swift $S/JobStates/JobStates.swift $S/Wire/WireLimits.swift ;;
    corpus-line) echo Tests/Fuzz/CorpusLineFuzz.swift $S/Corpus/*.swift ;;
    qrels) echo Tests/Fuzz/QrelsFuzz.swift $S/Retrieval/RelevanceJudgments.swift $S/Retrieval/RetrievalError.swift ;;
    safetensors) echo Tests/Fuzz/SafeTensorsFuzz.swift $S/Embedding/SafeTensors.swift $S/Embedding/EmbeddingError.swift ;;
    tokenizer) echo Tests/Fuzz/TokenizerFuzz.swift $S/Embedding/WordPieceTokenizer.swift $S/Embedding/BertNormalizer.swift \
      $S/Embedding/BertPreTokenizer.swift $S/Embedding/Vocabulary.swift $S/Embedding/EmbeddingError.swift $S/Embedding/JSONFile.swift ;;
    *) die "unknown fuzz target $1 (wire corpus-line qrels safetensors tokenizer)" ;;
  esac
}

mkdir -p .cache/fuzz/bin
status=0
for target in "${targets[@]}"; do
  binary=.cache/fuzz/bin/$target
  log "fuzz $target: compiling"
  # shellcheck disable=SC2046
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz_${target//-/_}" $(sources_for "$target") -o "$binary"
  corpus=.cache/fuzz/$target
  crashes=.cache/fuzz/crashes/$target
  mkdir -p "$corpus" "$crashes"
  cp -n Tests/Fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  cp -n Tests/Fuzz/regressions/"$target"/* "$corpus"/ 2>/dev/null || true
  log "fuzz $target: ${seconds}s from $(ls "$corpus" | wc -l) inputs"
  # No leak checks: Foundation leaks 4 KiB reading an empty file (Data(contentsOf:)), which is not
  # ours, and LeakSanitizer would report it at exit as a failure after a clean run.
  if ASAN_OPTIONS=detect_leaks=0 "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -max_len=65536 -detect_leaks=0 \
      -artifact_prefix="$crashes/" -print_final_stats=1 > ".cache/fuzz/$target.log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' ".cache/fuzz/$target.log" | grep -Eo '[0-9]+$' || echo "?")
    log "fuzz $target: no crash in ${seconds}s, $runs runs, corpus $(ls "$corpus" | wc -l) inputs"
  else
    status=1
    log "fuzz $target: CRASH — see .cache/fuzz/$target.log and $crashes/"
    grep -E "ERROR|Fatal|SUMMARY" ".cache/fuzz/$target.log" | head -5 >&2 || true
  fi
done
exit "$status"
