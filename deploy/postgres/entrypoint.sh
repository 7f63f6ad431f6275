#!/bin/bash
# Entry point of the siamface-postgres image (deploy/postgres/Dockerfile): creates the cluster
# in $PGDATA on the first start (owner $POSTGRES_USER with $POSTGRES_PASSWORD, database
# $POSTGRES_DB, password logins over TCP), then runs the server in the foreground. Extra
# arguments go to postgres (e.g. -c shared_buffers=256MB).
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "siamface-postgres: set POSTGRES_PASSWORD (the gallery's database password)" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C \
    --auth-local=peer --auth-host=scram-sha-256 > /dev/null
  rm -f "$pwfile"
  # Other containers reach it over the compose network: password logins from any address.
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" |
      "$bin/postgres" --single -D "$PGDATA" postgres > /dev/null
  fi
  echo "siamface-postgres: created the cluster in $PGDATA (database $POSTGRES_DB, owner $POSTGRES_USER)"
fi
exec "$bin/postgres" -D "$PGDATA" -p "$POSTGRES_PORT" -c "listen_addresses=$POSTGRES_LISTEN" \
  -k /var/run/postgresql "$@"
