#!/usr/bin/env bash
# PostgreSQL for the durable-run tests: Debian's postgresql, a private cluster on 127.0.0.1,
# a database and user for devbot; appends DEVBOT_TEST_POSTGRES_URL=... to the file in $1.
set -euo pipefail
out="${1:?usage: postgres.sh ENV_FILE}"
port="${DEVBOT_PG_PORT:-55432}"
data="${DEVBOT_PG_DATA:-/tmp/devbot-ci-pg}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
bin="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")"
as_pg() { runuser -u postgres -- "$@"; }
if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  rm -rf "$data"
  mkdir -p "$data"
  chown postgres:postgres "$data"
  as_pg "$bin/initdb" -D "$data" -A trust -U postgres >/dev/null
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c max_connections=300 -c fsync=off" start >/dev/null
fi
psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'devbot'")" != "1" ]; then
  "${psql[@]}" -c "CREATE ROLE devbot LOGIN PASSWORD 'devbot' CREATEDB"
fi
if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'devbot_test'")" != "1" ]; then
  "${psql[@]}" -c "CREATE DATABASE devbot_test OWNER devbot"
fi
echo "DEVBOT_TEST_POSTGRES_URL=postgresql://devbot:devbot@127.0.0.1:$port/devbot_test" >> "$out"
