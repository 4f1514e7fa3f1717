#!/bin/sh
# Runs PostgreSQL as the postgres user on $PGDATA, creating the cluster on first start the way the official
# image does: superuser $POSTGRES_USER (postgres) with $POSTGRES_PASSWORD, scram-sha-256 over TCP from anywhere
# (the host reaches it through a published port), trust on the socket inside the container only, and
# $POSTGRES_DB created when it is not the default. The password comes from the environment (an env file),
# never from a command line; on a kept cluster it is set again, so the data always matches the current secret.
set -eu
if [ "${1:-postgres}" != postgres ]; then
  exec "$@"
fi
shift || true

: "${PGDATA:=/var/lib/postgresql/data}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "kiln-postgres: POSTGRES_PASSWORD is not set" >&2
  exit 1
fi

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
quoted_password=$(printf "%s" "$POSTGRES_PASSWORD" | sed "s/'/''/g")

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "kiln-postgres: initialising a database cluster in $PGDATA"
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  chown postgres "$pwfile"
  as_postgres initdb -D "$PGDATA" -U "$user" -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$database" != postgres ]; then
    echo "CREATE DATABASE \"$database\";" | as_postgres postgres --single -D "$PGDATA" -j postgres > /dev/null
  fi
else
  # The cluster was kept (a named volume): the superuser's password follows the secret given now.
  echo "ALTER ROLE \"$user\" PASSWORD '$quoted_password';" | as_postgres postgres --single -D "$PGDATA" -j postgres > /dev/null
fi

exec setpriv --reuid=postgres --regid=postgres --init-groups -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
