#!/usr/bin/env bash
# Separate hosts on one machine: PostgreSQL, the coordinator and N workers, each in a network
# namespace of its own (ip netns) with its own address, all joined to one switch (a bridge,
# dlx-br) as machines on a LAN are; CURVE keys between them, as off loopback they must be.
#
#        this namespace (10.78.0.1: clients, checks)
#              │ dlx-br
#   ┌──────────┼──────────────┬─────────────┬── …
#   dlx-pg     dlx-co         dlx-w1        dlx-w2
#   10.78.0.2  10.78.0.3      10.78.1.1     10.78.1.2 …
#   PostgreSQL coord serve    worker serve  worker serve
#
#   Ops/cluster.sh up --workers N [--models FOLDER]   # start it; prints the file of settings to source
#   Ops/cluster.sh down                               # stop every process, remove the hosts
#
# `up` writes var/cluster/env: DRIFTLESS_CLUSTER_CLIENT (the client endpoint), DRIFTLESS_CLUSTER_KEYS
# (an admin client's keys), DRIFTLESS_CLUSTER_DATABASE (the database, for checks), PGPASSFILE and
# DRIFTLESS_CLUSTER_DIR (logs; each process runs under GNU time, whose report, NAME.time, gives
# its peak RSS and CPU once `down` has stopped it). Ops/bench-scale.sh runs on it with
# SCALE_CLUSTER=1. Needs root (or CAP_NET_ADMIN); only the addresses 10.78.0.0/16 are used.
# Settings: DRIFTLESS_BIN (coord and worker; default: a release build).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$DRIFTLESS_ROOT"

WORK="$DRIFTLESS_ROOT/var/cluster"
PGBIN="$DRIFTLESS_CACHE/pgserver/pgserver/pginstall/bin"
OS_USER=${DRIFTLESS_PG_USER:-driftless}
PGPORT=5432
BRIDGE=dlx-br

hosts() { ip netns list 2>/dev/null | awk '/^dlx-/ {print $1}'; }

down() {
  # Workers first (their shards return), then the coordinator, then the database.
  for kind in w co; do
    for pidfile in "$WORK"/$kind*.pid; do
      [ -f "$pidfile" ] || continue
      pkill -TERM -P "$(cat "$pidfile")" 2>/dev/null || true
    done
    for pidfile in "$WORK"/$kind*.pid; do
      [ -f "$pidfile" ] || continue
      for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$(cat "$pidfile")" 2>/dev/null || true
      rm -f "$pidfile"
    done
  done
  if [ -f "$WORK/pgdata/postmaster.pid" ]; then
    runuser -u "$OS_USER" -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  for ns in $(hosts); do ip netns del "$ns" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^dlx-' || true); do
    ip link del "$link" 2>/dev/null || true
  done
}

# host NAME ADDRESS: a namespace dlx-NAME on the switch, at ADDRESS/16.
host() {
  local name=$1 address=$2
  ip netns add "dlx-$name"
  ip -n "dlx-$name" link set lo up
  ip link add "dlx-$name-s" type veth peer name "dlx-$name-h"
  ip link set "dlx-$name-s" master "$BRIDGE" up
  ip link set "dlx-$name-h" netns "dlx-$name"
  ip -n "dlx-$name" addr add "$address/16" dev "dlx-$name-h"
  ip -n "dlx-$name" link set "dlx-$name-h" up
}

# start NAME NAMESPACE COMMAND...: under GNU time (report NAME.time), logging to NAME.log.
start() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
  disown
}

up() {
  local workers=2 models=$DRIFTLESS_MODELS
  while [ $# -gt 0 ]; do
    case $1 in
      --workers) workers=$2; shift 2 ;;
      --models) models=$2; shift 2 ;;
      *) die "cluster: unknown option $1 (up --workers N [--models FOLDER])" ;;
    esac
  done
  [[ "$workers" =~ ^[0-9]+$ ]] && [ "$workers" -ge 1 ] && [ "$workers" -le 2000 ] \
    || die "cluster: --workers must be a number from 1 to 2000, not $workers"
  [ "$(id -u)" -eq 0 ] || die "cluster: needs root for network namespaces and veth pairs"
  command -v ip >/dev/null || die "cluster: no ip command (Debian package iproute2)"
  [ -d "$models" ] || die "cluster: no models folder at $models"
  local bin
  bin=$(release_binaries)
  "$DRIFTLESS_ROOT/Ops/postgres.sh" start >/dev/null # the server binaries and the role passwords
  down
  rm -rf "$WORK" && mkdir -p "$WORK/run"

  ip link add "$BRIDGE" type bridge
  ip addr add 10.78.0.1/16 dev "$BRIDGE"
  ip link set "$BRIDGE" up
  host pg 10.78.0.2
  host co 10.78.0.3
  for i in $(seq "$workers"); do host "w$i" "10.78.$((1 + (i - 1) / 250)).$((1 + (i - 1) % 250))"; done

  # PostgreSQL on its own host, with the embedded server's settings and enough connections.
  local pgdata="$WORK/pgdata" pwfile
  chown -R "$OS_USER" "$WORK"
  pwfile=$(mktemp) && cat var/secrets/driftless.password >"$pwfile" && chown "$OS_USER" "$pwfile"
  runuser -u "$OS_USER" -- "$PGBIN/initdb" -D "$pgdata" -U driftless --auth=scram-sha-256 --pwfile="$pwfile" \
    --encoding=UTF8 --no-locale >/dev/null
  rm -f "$pwfile"
  printf 'local all all scram-sha-256\nhost all all 10.78.0.0/16 scram-sha-256\n' >"$pgdata/pg_hba.conf"
  chown "$OS_USER" "$pgdata/pg_hba.conf"
  ip netns exec dlx-pg runuser -u "$OS_USER" -- "$PGBIN/pg_ctl" -D "$pgdata" -l "$WORK/postgres.log" -w -t 60 \
    -o "-p $PGPORT -h '*' -k $WORK/run -c max_connections=$((workers * 2 + 50)) -c shared_buffers=1GB -c max_wal_size=4GB -c checkpoint_timeout=15min" \
    start >/dev/null
  (umask 077 && for role in driftless driftless_worker driftless_reader; do
    echo "*:$PGPORT:*:$role:$(cat "var/secrets/$role.password")"
  done >"$WORK/pgpass")
  export PGPASSFILE="$WORK/pgpass"
  local psql=("$PGBIN/psql" -h 10.78.0.2 -p "$PGPORT" -U driftless -v ON_ERROR_STOP=1 -qtA)
  "${psql[@]}" -d postgres -c "CREATE DATABASE driftless"
  "${psql[@]}" -d driftless -c "CREATE EXTENSION vector"
  for role in driftless_worker driftless_reader; do
    "${psql[@]}" -d postgres -c "SET client_min_messages = warning; DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role; END IF; END \$\$;
      ALTER ROLE $role LOGIN PASSWORD '$(cat "var/secrets/$role.password")'"
  done

  # Keys: one per worker host, one admin client; the coordinator's own.
  local keys="$WORK/keys"
  "$bin/coord" keys init "$keys" >/dev/null
  for i in $(seq "$workers"); do "$bin/coord" keys add "w$i" --role worker --keys "$keys" >/dev/null; done
  "$bin/coord" keys add client --role admin --keys "$keys" >/dev/null
  export DRIFTLESS_SCHEMAS="$DRIFTLESS_ROOT/Schemas"
  start co dlx-co "$bin/coord" serve --database "postgresql://driftless@10.78.0.2:$PGPORT/driftless" \
    --bind tcp://10.78.0.3:5555 --client-bind tcp://10.78.0.3:5556 --keys "$keys" --models "$models"
  local client=(--coordinator tcp://10.78.0.3:5556 --keys "$keys/peers.d/client")
  for _ in $(seq 120); do "$bin/coord" status "${client[@]}" --timeout 1 >/dev/null 2>&1 && break; sleep 0.5; done
  "$bin/coord" status "${client[@]}" --timeout 5 >/dev/null || die "cluster: the coordinator did not come up (see $WORK/co.log)"
  # Every worker at once, as a fleet of machines booting together would.
  for i in $(seq "$workers"); do
    start "w$i" "dlx-w$i" "$bin/worker" serve --coordinator tcp://10.78.0.3:5555 \
      --database "postgresql://driftless_worker@10.78.0.2:$PGPORT/driftless" --models "$models" \
      --keys "$keys/peers.d/w$i" --threads 1 --id "w$i"
  done
  for _ in $(seq 240); do
    [ "$(grep -c "worker joined" "$WORK/co.log" || true)" -ge "$workers" ] && break
    sleep 0.5
  done
  local joined
  joined=$(grep -c "worker joined" "$WORK/co.log" || true)
  [ "$joined" -ge "$workers" ] || die "cluster: only $joined of $workers workers joined (see $WORK/w*.log)"
  cat >"$WORK/env" <<EOF
export DRIFTLESS_CLUSTER_DIR=$WORK
export DRIFTLESS_CLUSTER_CLIENT=tcp://10.78.0.3:5556
export DRIFTLESS_CLUSTER_KEYS=$keys/peers.d/client
export DRIFTLESS_CLUSTER_DATABASE=postgresql://driftless@10.78.0.2:$PGPORT/driftless
export PGPASSFILE=$WORK/pgpass
EOF
  log "cluster: up: PostgreSQL 10.78.0.2, coordinator 10.78.0.3, $workers workers (10.78.1.1…); settings in $WORK/env"
  echo "$WORK/env"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down; log "cluster: down" ;;
  *) die "usage: Ops/cluster.sh up --workers N [--models FOLDER] | down" ;;
esac
