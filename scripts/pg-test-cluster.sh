#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests.
#
#   scripts/pg-test-cluster.sh start DIR   initdb (first time) and start it
#   scripts/pg-test-cluster.sh url DIR     print its URL
#   scripts/pg-test-cluster.sh stop DIR    stop it (fine if it is not running)
#
# Uses the binaries of Debian's postgresql package (/usr/lib/postgresql/*/bin),
# keeps everything (data, socket, log, port) in DIR, listens on 127.0.0.1 only
# on the first free port from 55432, trusts loopback connections, and creates
# the database loka_test. Run as root, the server runs as the `postgres`
# system user (DIR is chowned to it, so DIR must be reachable by it: /tmp is).
# The URL is postgresql://postgres@127.0.0.1:PORT/loka_test.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|url DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$cmd" in start | stop | url) ;; *) usage ;; esac

die() {
  echo "pg-test-cluster: $*" >&2
  exit 1
}

# The newest installed server version (numerically: 9.6 < 15).
bindir=$(for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
done | sort -t/ -k5,5n | tail -n 1)
if [ -z "$bindir" ]; then
  die "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
fi

# Run a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$dir/data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

port_free() {
  # Something answers on 127.0.0.1:$1: taken.
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

case "$cmd" in
stop)
  if running; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    echo "pg-test-cluster: stopped ($dir)"
  fi
  exit 0
  ;;
url)
  running || die "no cluster running in $dir"
  echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/loka_test"
  exit 0
  ;;
esac

# start
if running; then
  echo "pg-test-cluster: already running on port $(cat "$dir/port") ($dir)"
  exit 0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "no postgres system user (apt-get install postgresql)"
  chown postgres: "$dir"
  runuser -u postgres -- test -w "$dir" ||
    die "the postgres user cannot write $dir (a parent directory is closed to it: use one under /tmp)"
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  }
fi
# Loopback only, trusted; the socket in DIR (no /var/run/postgresql needed).
as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
host all all 127.0.0.1/32 trust
HBA

port=55432
for _ in $(seq 1 200); do
  if port_free "$port"; then
    as_owner tee "$dir/data/postgresql.auto.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
CONF
    rm -f "$dir/server.log"
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      start >/dev/null 2>&1; then
      break
    fi
    # Lost a race for the port (or another failure: the log says).
    if ! grep -q "could not bind\|Address already in use" "$dir/server.log" 2>/dev/null; then
      tail -n 20 "$dir/server.log" >&2 || true
      die "the server did not start"
    fi
  fi
  port=$((port + 1))
done
running || die "no free port found from 55432"
echo "$port" | as_owner tee "$dir/port" >/dev/null

if ! as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
  "SELECT 1 FROM pg_database WHERE datname = 'loka_test'" | grep -q 1; then
  as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres loka_test
fi
echo "pg-test-cluster: running on 127.0.0.1:$port ($dir)"
