#!/bin/sh
# Runs redis-server as the redis user with data in /data (append-only, like local mode), its password from
# REDIS_PASSWORD written to a configuration file only the redis user can read.
set -eu
if [ "${1:-redis-server}" != redis-server ]; then
  exec "$@"
fi
shift || true

if [ -z "${REDIS_PASSWORD:-}" ]; then
  echo "kiln-redis: REDIS_PASSWORD is not set" >&2
  exit 1
fi

mkdir -p /data /run/kiln-redis
chown redis:redis /data /run/kiln-redis
chmod 700 /run/kiln-redis
config=/run/kiln-redis/redis.conf
umask 077
cat > "$config" <<CONF
port 6379
bind 0.0.0.0
protected-mode no
requirepass $REDIS_PASSWORD
dir /data
save 60 1
appendonly yes
appendfsync everysec
daemonize no
CONF
chown redis:redis "$config"
exec setpriv --reuid=redis --regid=redis --init-groups -- redis-server "$config" "$@"
