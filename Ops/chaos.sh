#!/usr/bin/env bash
# Partitions on real separate hosts. PostgreSQL, the coordinator and two workers each run in
# a network namespace of their own (ip netns), joined by point-to-point veth pairs, so any one
# link can be cut (`ip link set … down`) and healed without touching the others:
#
#        root (this script: submit, check) ── pg, ── coord
#        coord ── pg        w1 ── coord   w1 ── pg        w2 ── coord   w2 ── pg
#
# CURVE keys everywhere (the endpoints are not loopback). During an indexing job, and while a
# second job re-submits a tenth of the documents in a new version, the fault schedule:
#   1. w1 cut off from the coordinator, not from PostgreSQL (its leases lapse; late commits fenced)
#   2. w2 cut off from PostgreSQL, not from the coordinator (no document rejected; shards go elsewhere)
#   3. the coordinator cut off from PostgreSQL (dealing pauses, resumes)
#   4. w1's link to the coordinator flapping (down/up every 3 s)
# Then a checker prints what was lost, duplicated (committed more often than submitted),
# stale (not the newest version) or wrongly rejected, and exits 1 if anything was.
#
#   Ops/chaos.sh            # the full schedule: 3,000 documents, cuts of 25 s, 60 s, flapping for 60 s
#   Ops/chaos.sh --short    # the CI version: 600 documents, cuts of 12-15 s, flapping for 15 s
#
# Needs root (or CAP_NET_ADMIN) and permission to make namespaces: elsewhere it says so and
# exits 0, except under CI=true, where it fails. Only the addresses it creates (10.77.0.0/16)
# are used. Settings: CHAOS_DOCS, DRIFTLESS_BIN (a folder with coord and worker; default: a
# release build), CHAOS_KEEP=1 (keep the folder var/chaos with every log).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

MODE=full
[ "${1:-}" = "--short" ] && MODE=short
if [ "$MODE" = short ]; then
  DOCS=${CHAOS_DOCS:-600} CUT=12 PGCUT=15 FLAP=15
else
  DOCS=${CHAOS_DOCS:-3000} CUT=25 PGCUT=60 FLAP=60
fi

skip() {
  if [ "${CI:-}" = true ]; then die "chaos: $* (under CI=true the partition tests must run)"; fi
  log "chaos: SKIPPED: $*"
  exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and veth pairs"
command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"
ip netns add dlprobe 2>/dev/null || skip "network namespaces are not permitted here"
ip netns del dlprobe

STARTED=$(date +%s)
WORK="$DRIFTLESS_ROOT/var/chaos"
NS=(dlpg dlco dlw1 dlw2)
PGPORT=5432
PGBIN="$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin"
OS_USER=${DRIFTLESS_PG_USER:-driftless}
FAULTS=0

cleanup() {
  local status=$?
  for pidfile in "$WORK"/*.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -f "$WORK/pgdata/postmaster.pid" ]; then
    runuser -u "$OS_USER" -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip link del rp-r 2>/dev/null || true
  ip link del rc-r 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    log "chaos: failed; logs in $WORK (last lines below)"
    for f in "$WORK"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; } >&2; done
  elif [ "${CHAOS_KEEP:-0}" != 1 ]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# --- binaries, models, the server binaries and passwords (Ops/postgres.sh makes them) ---
DRIFTLESS_BIN=$(release_binaries)
COORD="$DRIFTLESS_BIN/coord"
WORKER="$DRIFTLESS_BIN/worker"
"$DRIFTLESS_ROOT/Ops/install-models.sh" >/dev/null
"$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null
export DRIFTLESS_SCHEMAS="$DRIFTLESS_ROOT/Schemas"

for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
ip link del rp-r 2>/dev/null || true
ip link del rc-r 2>/dev/null || true
rm -rf "$WORK" && mkdir -p "$WORK"

# --- the hosts and their links ---
for ns in "${NS[@]}"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
# link NAME NS_A ADDR_A NS_B ADDR_B: a veth pair NAME-a / NAME-b, a /30 between them ("root": this namespace).
link() {
  local name=$1 a=$2 addr_a=$3 b=$4 addr_b=$5
  ip link add "$name-a" type veth peer name "$name-b"
  for side in "a $a $addr_a" "b $b $addr_b"; do
    set -- $side
    if [ "$2" = root ]; then
      ip addr add "$3/30" dev "$name-$1"
      ip link set "$name-$1" up
    else
      ip link set "$name-$1" netns "$2"
      ip -n "$2" addr add "$3/30" dev "$name-$1"
      ip -n "$2" link set "$name-$1" up
    fi
  done
}
link cp dlco 10.77.1.1 dlpg 10.77.1.2  # coordinator - PostgreSQL
link w1c dlw1 10.77.2.1 dlco 10.77.2.2 # worker 1 - coordinator
link w1p dlw1 10.77.3.1 dlpg 10.77.3.2 # worker 1 - PostgreSQL
link w2c dlw2 10.77.4.1 dlco 10.77.4.2 # worker 2 - coordinator
link w2p dlw2 10.77.5.1 dlpg 10.77.5.2 # worker 2 - PostgreSQL
link rp root 10.77.9.1 dlpg 10.77.9.2  # this script - PostgreSQL
link rc root 10.77.8.1 dlco 10.77.8.2  # this script - coordinator
# cut NS DEVICE / heal NS DEVICE
cut() { ip -n "$1" link set "$2" down; FAULTS=$((FAULTS + 1)); log "chaos: cut $1 $2"; }
heal() { ip -n "$1" link set "$2" up; log "chaos: healed $1 $2"; }

# --- PostgreSQL on its own host ---
PGDATA="$WORK/pgdata"
mkdir -p "$WORK/run"
chown -R "$OS_USER" "$WORK"
pwfile=$(mktemp) && cat var/secrets/driftless.password > "$pwfile" && chown "$OS_USER" "$pwfile"
runuser -u "$OS_USER" -- "$PGBIN/initdb" -D "$PGDATA" -U driftless --auth=scram-sha-256 --pwfile="$pwfile" \
  --encoding=UTF8 --no-locale >/dev/null
rm -f "$pwfile"
printf 'local all all scram-sha-256\nhost all all 10.77.0.0/16 scram-sha-256\n' > "$PGDATA/pg_hba.conf"
chown "$OS_USER" "$PGDATA/pg_hba.conf"
ip netns exec dlpg runuser -u "$OS_USER" -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgres.log" -w -t 60 \
  -o "-p $PGPORT -h '*' -k $WORK/run" start >/dev/null
export PGPASSFILE="$WORK/pgpass"
(umask 077 && for role in driftless driftless_worker driftless_reader; do
  echo "*:$PGPORT:*:$role:$(cat "var/secrets/$role.password")"
done > "$PGPASSFILE")
psql_root() { "$PGBIN/psql" -h 10.77.9.2 -p "$PGPORT" -U driftless -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_root -d postgres -c "CREATE DATABASE driftless"
psql_root -d driftless -c "CREATE EXTENSION vector"
for role in driftless_worker driftless_reader; do
  psql_root -d postgres -c "SET client_min_messages = warning; DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role; END IF; END \$\$;
    ALTER ROLE $role LOGIN PASSWORD '$(cat "var/secrets/$role.password")'"
done

# --- keys, coordinator, workers ---
KEYS="$WORK/keys"
"$COORD" keys init "$KEYS" >/dev/null
for peer in w1:worker w2:worker chaos:admin; do "$COORD" keys add "${peer%%:*}" --role "${peer#*:}" --keys "$KEYS" >/dev/null; done
MODELS="$WORK/models"
mkdir -p "$MODELS" && ln -s "$DRIFTLESS_MODELS/all-MiniLM-L6-v2" "$MODELS/all-MiniLM-L6-v2"
# start NAME NS COMMAND...: in the background, logging to NAME.log, its pid in NAME.pid.
start() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
  echo $! > "$WORK/$name.pid"
  disown
}
start coord dlco "$COORD" serve --database "postgresql://driftless@10.77.1.2:$PGPORT/driftless" \
  --bind tcp://0.0.0.0:5555 --client-bind tcp://0.0.0.0:5556 --keys "$KEYS" --models "$MODELS" \
  --lease-seconds 6 --heartbeat-seconds 1
for i in 1 2; do
  coordinator=10.77.$((i * 2)).2 database=10.77.$((i * 2 + 1)).2
  start "w$i" "dlw$i" "$WORKER" serve --coordinator "tcp://$coordinator:5555" \
    --database "postgresql://driftless_worker@$database:$PGPORT/driftless" --models "$MODELS" \
    --keys "$KEYS/peers.d/w$i" --threads 1 --commit-retry-seconds 6 --id "w$i"
done
client() { "$COORD" "$@" --coordinator tcp://10.77.8.2:5556 --keys "$KEYS/peers.d/chaos"; }
for _ in $(seq 60); do client status >/dev/null 2>&1 && break; sleep 1; done
client status >/dev/null || die "chaos: the coordinator did not come up (see $WORK/coord.log)"

# --- the corpus: DOCS SciFact documents, then a newer version of every tenth ---
head -n "$DOCS" "$DRIFTLESS_SHARED/data/scifact/corpus.jsonl" > "$WORK/v1.jsonl"
python3 - "$WORK/v1.jsonl" "$WORK/v2.jsonl" "$WORK/expected.tsv" <<'PY'
import json, sys
v1, v2, expected = sys.argv[1:]
latest = {}
with open(v1) as f, open(v2, "w") as out:
    for n, line in enumerate(f):
        doc = json.loads(line)
        latest[doc["_id"]] = doc["text"]
        if n % 10 == 0:
            doc["text"] = "Revised. " + doc["text"]
            latest[doc["_id"]] = doc["text"]
            out.write(json.dumps(doc) + "\n")
with open(expected, "w") as out:
    for doc_id, text in latest.items():
        out.write(doc_id + "\t" + text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") + "\n")
PY

log "chaos: $MODE schedule, $DOCS documents (+$(wc -l < "$WORK/v2.jsonl") newer versions), hosts ${NS[*]}"
job1=$(client submit "$WORK/v1.jsonl" --index chaos --model all-MiniLM-L6-v2 --shard-size 16 --detach)
wait_for() { # wait_for SECONDS SQL: until the query prints t
  for _ in $(seq "$1"); do [ "$(psql_root -d driftless -c "$2" 2>/dev/null)" = t ] && return 0; sleep 1; done
  return 1
}
wait_for 120 "SELECT count(*) >= 3 FROM shards WHERE state = 'done'" || die "chaos: no shard committed in 2 minutes"

# 1. w1 cut off from the coordinator, not from PostgreSQL.
cut dlw1 w1c-a; sleep "$CUT"; heal dlw1 w1c-a
# The newer versions, while the first job still runs.
job2=$(client submit "$WORK/v2.jsonl" --index chaos --model all-MiniLM-L6-v2 --shard-size 8 --detach)
# 2. w2 cut off from PostgreSQL, not from the coordinator.
cut dlw2 w2p-a; sleep "$CUT"; heal dlw2 w2p-a
# 3. The coordinator cut off from PostgreSQL.
cut dlco cp-a; sleep "$PGCUT"; heal dlco cp-a
# 4. w1's link to the coordinator flapping.
end=$(($(date +%s) + FLAP))
while [ "$(date +%s)" -lt "$end" ]; do cut dlw1 w1c-a; sleep 1.5; heal dlw1 w1c-a; sleep 1.5; done

log "chaos: $FAULTS faults injected; waiting for jobs $job1 and $job2"
wait_for 900 "SELECT bool_and(state IN ('done', 'failed')) FROM jobs WHERE id IN ($job1, $job2)" \
  || die "chaos: the jobs did not finish in 15 minutes"

# --- the checker ---
psql_root -d driftless -c "CREATE TABLE chaos_expected (doc_id text PRIMARY KEY, body text NOT NULL)"
psql_root -d driftless -c "\\copy chaos_expected FROM '$WORK/expected.tsv'"
table=$(psql_root -d driftless -c "SELECT vector_table FROM indexes WHERE name = 'chaos'")
read -r lost duplicated stale rejected failed checked < <(psql_root -F ' ' -d driftless -c "
  SELECT
    (SELECT count(*) FROM chaos_expected e WHERE NOT EXISTS (SELECT 1 FROM $table v WHERE v.doc_id = e.doc_id)),
    (SELECT count(*) FROM $table v JOIN chaos_expected e USING (doc_id)
      WHERE v.commits > CASE WHEN e.body LIKE 'Revised. %' THEN 2 ELSE 1 END),
    (SELECT count(*) FROM chaos_expected e JOIN documents d USING (doc_id) JOIN $table v USING (doc_id)
      WHERE d.body <> e.body OR v.content_hash <> d.content_hash),
    (SELECT count(*) FROM rejected_documents),
    (SELECT count(*) FROM jobs WHERE id IN ($job1, $job2) AND state <> 'done'),
    (SELECT count(*) FROM chaos_expected)")
extra=$(psql_root -d driftless -c "SELECT count(*) FROM $table v WHERE NOT EXISTS (SELECT 1 FROM chaos_expected e WHERE e.doc_id = v.doc_id)")
fenced=$(cat "$WORK"/w*.log | grep -c "commit fenced" || true)
dbfaults=$(cat "$WORK"/w*.log | grep -c "(database fault)" || true)
lapsed=$(grep -c "lease lapsed" "$WORK/coord.log" || true)
outages=$(grep -c "database connection lost" "$WORK/coord.log" || true)
log "chaos: $checked documents checked in $(( $(date +%s) - STARTED )) s: lost $lost, duplicated $duplicated, stale $stale, wrongly rejected $rejected, unexpected $extra, jobs not done $failed (faults injected $FAULTS; leases lapsed $lapsed; commits fenced $fenced; commits given back as database faults $dbfaults; coordinator database losses $outages)"
if [ "$((lost + duplicated + stale + rejected + extra + failed))" -ne 0 ]; then
  psql_root -d driftless -c "SELECT doc_id, error FROM rejected_documents LIMIT 5" >&2 || true
  exit 1
fi
echo "chaos: passed"
