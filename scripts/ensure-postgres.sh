#!/usr/bin/env bash
# Make PostgreSQL reachable for kat's tests (and a shared store): use a running server,
# start an installed one, install one with apt-get when we are root, or say what to do
# and exit non-zero. The URL is KAT_TEST_DATABASE_URL (default: the local server).
set -euo pipefail

url="${KAT_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
hostport="${url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"; hostport="${hostport%%\?*}"
host="${hostport%%:*}"; port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=5432

reachable() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

wait_up() {
    for _ in $(seq 1 60); do
        reachable && return 0
        sleep 1
    done
    return 1
}

if reachable; then
    echo "postgresql: reachable at $host:$port"
    exit 0
fi

case "$host" in
    127.*|localhost|::1) ;;
    *) echo "postgresql: $host:$port is not reachable; start the server there or set KAT_TEST_DATABASE_URL" >&2
       exit 1 ;;
esac

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "postgresql: not installed; installing postgresql with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq postgresql >/dev/null
    else
        cat >&2 <<MSG
postgresql: no server at $host:$port and PostgreSQL is not installed.
  Install it (Debian/Ubuntu: sudo apt-get install postgresql), start it
  (sudo pg_ctlcluster <version> main start), or point KAT_TEST_DATABASE_URL at a server.
MSG
        exit 1
    fi
fi

# Debian's clusters: start the first one (trust for local TCP is what the tests use).
if command -v pg_lsclusters >/dev/null 2>&1; then
    read -r version cluster _ < <(pg_lsclusters --no-header | head -n1) || true
    if [ -z "${version:-}" ]; then
        version="$(ls /usr/lib/postgresql | sort -V | tail -n1)"; cluster=main
        pg_createcluster "$version" "$cluster" >/dev/null
    fi
    hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
    if [ -w "$hba" ] && ! grep -q "^host all postgres 127.0.0.1/32 trust" "$hba"; then
        sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
    fi
    echo "postgresql: starting cluster $version/$cluster"
    pg_ctlcluster "$version" "$cluster" start 2>/dev/null || true
fi
if wait_up; then
    echo "postgresql: reachable at $host:$port"
    exit 0
fi
echo "postgresql: started but $host:$port did not answer within 60 s; see /var/log/postgresql/" >&2
exit 1
