#!/usr/bin/env bash
# The main job, on the embedded default: embeds the SciFact corpus with
# all-MiniLM-L6-v2 and writes one vector per document. Installs what it needs
# first (system packages, models), builds the worker in release mode.
#
#   Ops/demo.sh [extra worker embed flags]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

"$DRIFTLESS_ROOT/Ops/install-system.sh"
"$DRIFTLESS_ROOT/Ops/install-models.sh"
CORPUS="$DRIFTLESS_SHARED/data/scifact/corpus.jsonl"
[ -f "$CORPUS" ] || die "SciFact corpus not found at $CORPUS (set DRIFTLESS_SHARED to the shared folder)"

log "building the worker (release)"
swift build -c release --product worker >&2
WORKER="$(swift build -c release --show-bin-path)/worker"

OUT="$DRIFTLESS_CACHE/demo"
mkdir -p "$OUT"
log "embedding $(wc -l < "$CORPUS") SciFact documents with all-MiniLM-L6-v2"
"$WORKER" embed --model "$DRIFTLESS_MODELS/all-MiniLM-L6-v2" --input "$CORPUS" \
  --output "$OUT/scifact.minilm.jsonl" "$@"
log "done: $OUT/scifact.minilm.jsonl ($(wc -l < "$OUT/scifact.minilm.jsonl") vectors)"
