#!/usr/bin/env bash
# Run a benchmark (see docs/benchmarks.md): scripts/bench.sh [stream|search|thread] [args...]
# (stream by default; the rest goes to bench/<name>_bench.py). `search` also runs on a
# throwaway PostgreSQL server on loopback, as the test command starts one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --test
name="stream"
if [[ $# -gt 0 && "$1" != -* ]]; then name="$1"; shift; fi
if [[ "$name" == "search" && -z "${CHATAPP_BENCH_POSTGRES_URL:-}" ]]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  RUN_DIR="$(mktemp -d /tmp/chatapp-bench.XXXXXX)"
  chmod 755 "$RUN_DIR"
  as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  [[ $(id -u) == 0 ]] && chown postgres "$RUN_DIR"
  PORT="${CHATAPP_BENCH_PG_PORT:-55499}"
  trap 'as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1; rm -rf "$RUN_DIR"' EXIT
  as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U chatapp -A trust --no-sync >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg.log" -w \
    -o "-p $PORT -k $RUN_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export CHATAPP_BENCH_POSTGRES_URL="postgresql+psycopg2://chatapp@127.0.0.1:$PORT/postgres"
fi
python -m "bench.${name}_bench" "$@"
