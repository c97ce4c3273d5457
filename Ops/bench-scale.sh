#!/usr/bin/env bash
# The pipeline's own ceiling, with a model so small that embedding is nearly free (the load-test
# model of Ops/loadtest.py: one BERT layer of width 32, all-MiniLM-L6-v2's tokenizer, 32 tokens),
# through the real engine, coordinator, ZeroMQ and PostgreSQL. For each worker count: a fresh
# index, N single-threaded `worker serve` processes started at once, `coord submit` of a
# synthetic corpus, and the figures of the run: docs/s end to end and per phase (upload, seal,
# embed + commit), coordinator CPU, PostgreSQL commits/s, peak RSS of `coord serve`, `coord
# submit` and the largest worker, the slowest `coord status` while the job ran (a new process each
# second, and the coordinator's answers to one `coord status --watch 1`), the HNSW
# build, and the checks: every document exactly once (SQL), every worker dealt work.
#
#   Ops/bench-scale.sh                       # 100k documents with 1 2 4 8 16 32 64 workers, then 1M with 2 and 64
#   SCALE_RUNS="100000:2 1000000:64" Ops/bench-scale.sh   # DOCS:WORKERS pairs
#
# Settings: SCALE_RUNS, SCALE_SHARD_SIZE (512), SCALE_STORAGE (vector), SCALE_MAINTENANCE_WORK_MEM
# (1GB, the coordinator's --maintenance-work-mem for the HNSW build; one host only), SCALE_CLUSTER=1 (PostgreSQL,
# the coordinator and each worker on hosts of their own: Ops/cluster.sh), DRIFTLESS_BIN (release
# binaries; else built), SCALE_WORKER_NICE (0: the workers' niceness on one host; 10 gives the
# coordinator, PostgreSQL and `coord status` the CPU first, as separate worker machines would). Corpora are cached in var/loadtest/. Output: a markdown table on stdout
# and in .cache/bench/scale.md, every run's logs in .cache/bench/scale/. Not part of the test suite.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

"$DRIFTLESS_ROOT/Ops/install-models.sh"
DRIFTLESS_DATABASE_URL=$("$DRIFTLESS_ROOT/Ops/postgres.sh" start | tail -1)
export DRIFTLESS_DATABASE_URL
BIN="$(release_binaries)"
RUNS=${SCALE_RUNS:-"100000:1 100000:2 100000:4 100000:8 100000:16 100000:32 100000:64 1000000:2 1000000:64"}
SHARD_SIZE=${SCALE_SHARD_SIZE:-512}
STORAGE=${SCALE_STORAGE:-vector}
# The coordinator's --maintenance-work-mem: the HNSW graph should fit in it.
MAINTENANCE_WORK_MEM=${SCALE_MAINTENANCE_WORK_MEM:-1GB}
PORT=${DRIFTLESS_PORT:-5605}
OUT="$DRIFTLESS_CACHE/bench/scale"
mkdir -p "$OUT" var/loadtest
PSQL=("$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin/psql" "$DRIFTLESS_DATABASE_URL" -Atq)
HOSTS="one host"
[ "${SCALE_CLUSTER:-0}" = 1 ] && HOSTS="separate hosts (Ops/cluster.sh: network namespaces, CURVE keys)"

# The model, alone in its own models folder (workers load every model of their folder).
MODELS="$OUT/models"
mkdir -p "$MODELS"
python3 Ops/loadtest.py model "$MODELS/driftless-loadtest-tiny" --tokenizer-from "$DRIFTLESS_MODELS/all-MiniLM-L6-v2"

# start_run N: the coordinator and N workers (all at once), each under GNU time (NAME.time: peak
# RSS, CPU), logs NAME.log in $LOGS; sets CLIENT (coord's endpoint options) and PSQL. stop_run
# stops them, workers first. With SCALE_CLUSTER=1, on separate hosts (Ops/cluster.sh).
PIDS=()
# The `coord status` probe of the current run: stopped on any exit (a failed run too, or it
# would keep the script's caller waiting).
PROBE=""
WATCH=""
stop_probe() {
  [ -z "$PROBE" ] || kill "$PROBE" 2>/dev/null || true
  [ -z "$WATCH" ] || kill "$WATCH" 2>/dev/null || true
  PROBE=""
  WATCH=""
}
if [ "${SCALE_CLUSTER:-0}" = 1 ]; then
  start_run() {
    local env
    env=$(DRIFTLESS_BIN="$BIN" "$DRIFTLESS_ROOT/Ops/cluster.sh" up --workers "$1" --models "$MODELS" | tail -1)
    # shellcheck disable=SC1090
    source "$env"
    CLIENT=(--coordinator "$DRIFTLESS_CLUSTER_CLIENT" --keys "$DRIFTLESS_CLUSTER_KEYS")
    PSQL=("$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin/psql" "$DRIFTLESS_CLUSTER_DATABASE" -Atq)
  }
  stop_run() {
    "$DRIFTLESS_ROOT/Ops/cluster.sh" down
    cp "$DRIFTLESS_CLUSTER_DIR"/*.time "$DRIFTLESS_CLUSTER_DIR"/*.log "$LOGS/"
  }
  trap 'stop_probe; "$DRIFTLESS_ROOT/Ops/cluster.sh" down' EXIT
else
  CLIENT=(--coordinator "tcp://127.0.0.1:$((PORT + 1))")
  start_run() {
    /usr/bin/time -v -o "$LOGS/co.time" "$BIN/coord" serve --models "$MODELS" --bind "tcp://127.0.0.1:$PORT" \
      --client-bind "tcp://127.0.0.1:$((PORT + 1))" --maintenance-work-mem "$MAINTENANCE_WORK_MEM" >"$LOGS/co.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 120); do grep -q "coordinator ready" "$LOGS/co.log" && break; sleep 0.5; done
    grep -q "coordinator ready" "$LOGS/co.log" || die "the coordinator did not start (see $LOGS/co.log)"
    local url
    url=$("$DRIFTLESS_ROOT/Ops/postgres.sh" url worker)
    for n in $(seq "$1"); do
      DRIFTLESS_DATABASE_URL=$url nice -n "${SCALE_WORKER_NICE:-0}" /usr/bin/time -v -o "$LOGS/w$n.time" "$BIN/worker" serve \
        --coordinator "tcp://127.0.0.1:$PORT" --models "$MODELS" --threads 1 >"$LOGS/w$n.log" 2>&1 &
      PIDS+=($!)
    done
    for _ in $(seq 240); do
      [ "$(grep -c "worker joined" "$LOGS/co.log" || true)" -ge "$1" ] && break
      sleep 0.5
    done
  }
  stop_run() {
    # GNU time reports once its child exits: the children are signalled, workers first.
    for pid in "${PIDS[@]:1}"; do pkill -TERM -P "$pid" 2>/dev/null || true; done
    sleep 1
    pkill -TERM -P "${PIDS[0]}" 2>/dev/null || true
    wait 2>/dev/null || true
    PIDS=()
  }
  trap 'stop_probe; for pid in "${PIDS[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; done' EXIT
fi

# rss_and_cpu FILE: "peak-RSS-MiB cpu%" from a GNU time -v report.
rss_and_cpu() {
  awk -F': ' '/Maximum resident/ {r=$2} /Percent of CPU/ {c=$2} END {printf "%d %s", r/1024, c}' "$1"
}

ROWS=()
for run in $RUNS; do
  DOCS=${run%%:*}
  WORKERS=${run##*:}
  CORPUS="var/loadtest/synthetic-$DOCS.jsonl"
  [ -f "$CORPUS" ] || python3 Ops/loadtest.py corpus "$CORPUS" --documents "$DOCS" --progress
  NAME="scale-$DOCS-w$WORKERS-$(date +%s)"
  LOGS="$OUT/$NAME"
  mkdir -p "$LOGS"
  log "$NAME: $DOCS documents, $WORKERS workers (shard size $SHARD_SIZE, storage $STORAGE)"
  start_run "$WORKERS"
  # `coord status` answered while the job runs: the slowest answer, every second.
  (
    worst=0
    while true; do
      s=$(date +%s%N)
      "$BIN/coord" status "${CLIENT[@]}" --timeout 30 >/dev/null 2>&1 || echo "status failed" >>"$LOGS/status.err"
      ms=$((($(date +%s%N) - s) / 1000000))
      echo "$(date -u +%H:%M:%S) $ms" >>"$LOGS/status.log"
      [ "$ms" -gt "$worst" ] && worst=$ms && echo "$worst" >"$LOGS/status.worst"
      sleep 1
    done
  ) &
  PROBE=$!
  # The coordinator's own answer, timed by one `coord status --watch` process over one connection
  # (the probe above also times the start of a `coord` process on a machine the workers fill).
  "$BIN/coord" status "${CLIENT[@]}" --timeout 30 --watch 1 >"$LOGS/answers.txt" 2>"$LOGS/watch.err" &
  WATCH=$!
  COMMITS0=$("${PSQL[@]}" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
  START=$(date +%s.%N)
  /usr/bin/time -v -o "$LOGS/submit.time" "$BIN/coord" submit "$CORPUS" --index "$NAME" \
    --model driftless-loadtest-tiny --shard-size "$SHARD_SIZE" --storage "$STORAGE" \
    "${CLIENT[@]}" >"$LOGS/submit.out" 2>"$LOGS/submit.log" \
    || die "$NAME: coord submit failed (see $LOGS/submit.log)"
  END=$(date +%s.%N)
  COMMITS1=$("${PSQL[@]}" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
  PROBES=("$PROBE" "$WATCH")
  stop_probe
  wait "${PROBES[@]}" 2>/dev/null || true

  TABLE=$("${PSQL[@]}" -c "SELECT vector_table FROM indexes WHERE name = '$NAME'")
  JOB=$("${PSQL[@]}" -c "SELECT max(j.id) FROM jobs j JOIN indexes i ON i.id = j.index_id WHERE i.name = '$NAME'")
  # Exactly once: as many vector rows as corpus lines, each written by exactly one commit, each
  # with one document row; and the workers that committed shards.
  CHECK=$("${PSQL[@]}" -F ' ' -c "
    SELECT count(*), count(*) FILTER (WHERE commits <> 1),
           (SELECT count(*) FROM documents d JOIN indexes i ON i.collection_id = d.collection_id WHERE i.name = '$NAME'),
           (SELECT count(DISTINCT worker) FROM shards WHERE job_id = $JOB AND state = 'done'),
           pg_relation_size('$TABLE'), coalesce(pg_relation_size(to_regclass('${TABLE}_hnsw')), 0),
           (SELECT avg(pg_column_size(embedding))::int FROM (SELECT embedding FROM $TABLE LIMIT 1000) s)
    FROM $TABLE")
  read -r VECTORS NOT_ONCE DOCROWS DEALT TABLE_BYTES HNSW_BYTES VECTOR_BYTES <<<"$CHECK"
  stop_run
  [ "$VECTORS" = "$DOCS" ] && [ "$NOT_ONCE" = 0 ] && [ "$DOCROWS" = "$DOCS" ] \
    || die "$NAME: not exactly once: $VECTORS vectors for $DOCS documents, $NOT_ONCE not written once, $DOCROWS document rows"
  read -r COORD_RSS COORD_CPU <<<"$(rss_and_cpu "$LOGS/co.time")"
  read -r SUBMIT_RSS _ <<<"$(rss_and_cpu "$LOGS/submit.time")"
  WORKER_RSS=$(for f in "$LOGS"/w[0-9]*.time; do rss_and_cpu "$f" | cut -d' ' -f1; echo; done | sort -n | tail -1)
  ROW=$(python3 - "$LOGS/co.log" "$START" "$END" "$DOCS" "$COMMITS0" "$COMMITS1" <<'EOF'
import re, sys, datetime
log, start, end, docs, c0, c1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
marks, hnsw = {}, "-"
for line in open(log, errors="replace"):
    stamp = datetime.datetime.strptime(line[:24], "%Y-%m-%dT%H:%M:%S%z").timestamp() if line[:4].isdigit() else None
    for key, text in [("submitted", "job submitted"), ("sealing", "job sealing in steps"), ("sealed", "job sealed: dealing"),
                      ("embedded", "shards all done"), ("done", "job done")]:
        if text in line and key not in marks:
            marks[key] = stamp
    m = re.search(r"seconds=([0-9.]+) \[Coordinator\] HNSW index built", line)
    if m:
        hnsw = m.group(1)
upload = (marks.get("sealing") or marks["sealed"]) - marks["submitted"]
seal = marks["sealed"] - (marks.get("sealing") or marks["sealed"])
embed = marks["embedded"] - marks["sealed"]
total = end - start
print(f"{total:.0f} {docs / total:.0f} {upload:.0f} {docs / max(upload, 1):.0f} {seal:.0f} {embed:.0f} {docs / max(embed, 1):.0f} "
      f"{(c1 - c0) / max(embed, 1):.0f} {hnsw}")
EOF
)
  read -r TOTAL RATE UPLOAD UPLOAD_RATE SEAL EMBED EMBED_RATE COMMIT_RATE HNSW <<<"$ROW"
  WORST=$(cat "$LOGS/status.worst" 2>/dev/null || echo "-")
  # Requests of the watch that got no answer (it reports each on stderr with a timestamp).
  UNANSWERED=$(grep -c " UTC: " "$LOGS/watch.err" || true)
  ANSWER=$(awk -v unanswered="$UNANSWERED" '/^-- / {ms = $(NF - 1); if (ms > worst) worst = ms; n++; if (ms > 1000) slow++}
    END {if (n) printf "%d (%d of %d over 1 s, %d unanswered)", worst, slow, n, unanswered; else printf "- (%d unanswered)", unanswered}' "$LOGS/answers.txt")
  FAILED=0
  [ -f "$LOGS/status.err" ] && FAILED=$(wc -l <"$LOGS/status.err")
  LINE="| $DOCS | $WORKERS | $DEALT | $TOTAL | $RATE | $UPLOAD_RATE | $SEAL | $EMBED_RATE | $COORD_CPU | $COMMIT_RATE | $COORD_RSS | $SUBMIT_RSS | $WORKER_RSS | $WORST ($FAILED failed) | $ANSWER | $HNSW | $((TABLE_BYTES / 1048576)) / $((HNSW_BYTES / 1048576)) | $VECTOR_BYTES |"
  log "$LINE"
  ROWS+=("$LINE")
done

{
  echo "Ops/bench-scale.sh, $(date -u +%Y-%m-%d), $(git rev-parse --short HEAD), shard size $SHARD_SIZE, storage $STORAGE, $HOSTS, $(nproc) cores"
  echo
  echo "| docs | workers | workers dealt work | s end to end | docs/s end to end | upload docs/s | seal s | embed+commit docs/s | coord serve CPU | PG commits/s (embed) | coord serve RSS MiB | submit RSS MiB | worker RSS MiB (max) | slowest coord status ms (a new process each second) | slowest answer ms (status --watch 1) | HNSW build s | table / HNSW MiB | bytes/vector |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$DRIFTLESS_CACHE/bench/scale${SCALE_CLUSTER:+-cluster}.md"
