#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback for tests and benchmarks. Source it, then call:
#   pg_cluster_start   → exports OTPGATE_TEST_POSTGRES_URL (database otpgate, user otpgate, trust auth, 127.0.0.1)
#   pg_cluster_stop    → stops the server and removes its directory (also registered on EXIT by pg_cluster_start)
#   pg_cluster_ctl stop|start → stop or start the same cluster again (outage tests)
# Installs the server packages from Debian if the machine lacks them. Runs the server as the `postgres` user
# (PostgreSQL refuses to run as root).

pg_cluster_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

pg_cluster_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_cluster_start() {
  if ! PG_BIN=$(pg_cluster_bin); then
    echo "installing PostgreSQL server packages"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(pg_cluster_bin)
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  PG_DIR=$(mktemp -d /tmp/otpgate-pg.XXXXXX)
  chmod 755 "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  pg_cluster_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U otpgate --auth=trust -E UTF8 >/dev/null
  pg_cluster_ctl start
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U otpgate -d postgres -qc "CREATE DATABASE otpgate" >/dev/null
  export PG_BIN PG_DIR PG_PORT
  export OTPGATE_TEST_POSTGRES_URL="postgres://otpgate@127.0.0.1:$PG_PORT/otpgate?sslmode=disable"
  trap pg_cluster_stop EXIT
  echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

pg_cluster_ctl() {
  case "$1" in
    start)
      pg_cluster_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=1000 -c shared_buffers=128MB" start >/dev/null ;;
    stop)
      pg_cluster_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -m fast stop >/dev/null ;;
  esac
}

pg_cluster_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    pg_cluster_ctl stop 2>/dev/null || true
    rm -rf "$PG_DIR"
  fi
}

# Command-line use, for tests that need a cluster of their own (an outage test stops it):
#   bash scripts/postgres-cluster.sh start   → prints "DIR URL"
#   bash scripts/postgres-cluster.sh stop|restart DIR
#   bash scripts/postgres-cluster.sh remove DIR
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      pg_cluster_start >/dev/null
      trap - EXIT
      echo "$PG_PORT" > "$PG_DIR/port"
      echo "$PG_DIR $OTPGATE_TEST_POSTGRES_URL" ;;
    stop|restart|remove)
      PG_BIN=$(pg_cluster_bin); PG_DIR="$2"; PG_PORT=$(cat "$PG_DIR/port")
      case "$1" in
        stop) pg_cluster_ctl stop ;;
        restart) pg_cluster_ctl start ;;
        remove) pg_cluster_stop ;;
      esac ;;
    *) echo "usage: $0 start | stop DIR | restart DIR | remove DIR" >&2; exit 2 ;;
  esac
fi
