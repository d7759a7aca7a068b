#!/usr/bin/env bash
# Make Redis reachable for kat's rate limits: use a running server, start an installed
# one, install one with apt-get when we are root, or say what to do and exit non-zero.
set -euo pipefail

url="${KAT_REDIS_URL-redis://127.0.0.1:6379/0}"
if [ -z "$url" ]; then
    echo "redis: KAT_REDIS_URL is empty; rate limits hold per worker process"
    exit 0
fi
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=6379

reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if reachable; then
    echo "redis: reachable at $host:$port"
    exit 0
fi

case "$host" in
    127.*|localhost|::1) ;;
    *) echo "redis: $host:$port is not reachable; start Redis there or set KAT_REDIS_URL" >&2
       exit 1 ;;
esac

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "redis: not installed; installing redis-server with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq redis-server >/dev/null
    else
        cat >&2 <<MSG
redis: no server at $host:$port and redis-server is not installed.
  Install it (Debian/Ubuntu: sudo apt-get install redis-server), start it, or point
  KAT_REDIS_URL at a running server (empty: rate limits per worker process only).
MSG
        exit 1
    fi
fi

echo "redis: starting redis-server on $host:$port"
redis-server --bind "$host" --port "$port" --daemonize yes --save '' --appendonly no >/dev/null
for _ in $(seq 1 30); do
    reachable && { echo "redis: reachable at $host:$port"; exit 0; }
    sleep 1
done
echo "redis: started but $host:$port did not answer within 30 s" >&2
exit 1
