#!/usr/bin/env bash
# Make RabbitMQ reachable for kat: use a running broker, start an installed one,
# install one with apt-get when we are root, or say what to do and exit non-zero.
set -euo pipefail

# The broker URL: the environment's, else the last KAT_BROKER_URL line of ./.env (what
# honcho gives the workers in `make run`), else the default.
url="${KAT_BROKER_URL:-}"
if [ -z "$url" ] && [ -f .env ]; then
    url="$(sed -n 's/^[[:space:]]*KAT_BROKER_URL=//p' .env | tail -n 1)"
    url="${url%\"}"; url="${url#\"}"; url="${url%\'}"; url="${url#\'}"
fi
url="${url:-amqp://guest:guest@127.0.0.1:5672/%2F}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=5672

reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

wait_up() {
    for _ in $(seq 1 60); do
        reachable && return 0
        sleep 1
    done
    return 1
}

if reachable; then
    echo "rabbitmq: reachable at $host:$port"
    exit 0
fi

case "$host" in
    127.*|localhost|::1) ;;
    *) echo "rabbitmq: $host:$port is not reachable; start the broker there or set KAT_BROKER_URL" >&2
       exit 1 ;;
esac

if ! command -v rabbitmq-server >/dev/null 2>&1 && [ -x /usr/sbin/rabbitmq-server ]; then
    PATH="$PATH:/usr/sbin"
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "rabbitmq: not installed; installing rabbitmq-server with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq rabbitmq-server >/dev/null
    else
        cat >&2 <<MSG
rabbitmq: no broker at $host:$port and rabbitmq-server is not installed.
  Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server), start it
  (sudo rabbitmq-server -detached), or point KAT_BROKER_URL at a running broker.
MSG
        exit 1
    fi
fi

echo "rabbitmq: starting rabbitmq-server -detached"
rabbitmq-server -detached >/dev/null 2>&1 || true
if wait_up; then
    echo "rabbitmq: reachable at $host:$port"
    exit 0
fi
echo "rabbitmq: started but $host:$port did not answer within 60 s; see /var/log/rabbitmq/" >&2
exit 1
