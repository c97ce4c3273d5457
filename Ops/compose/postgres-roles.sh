#!/bin/sh
# Run once by the postgres image when it initialises its data folder
# (/docker-entrypoint-initdb.d): the workers' login role, with the password from
# DRIFTLESS_WORKER_PASSWORD. Its privileges come from Driftless's migration 0007.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$DRIFTLESS_WORKER_PASSWORD" <<'SQL'
CREATE ROLE driftless_worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL
