#!/usr/bin/env bash
# Set everything up, start PostgreSQL and Redis on loopback, lint, and run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/services -x).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --test

PG_PORT="${CHATAPP_TEST_PG_PORT:-55432}"
REDIS_PORT="${CHATAPP_TEST_REDIS_PORT:-56379}"
RUN_DIR="$(mktemp -d /tmp/chatapp-test.XXXXXX)"
chmod 755 "$RUN_DIR"

cleanup() {
  [[ -f "$RUN_DIR/pg/postmaster.pid" ]] && \
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  [[ -f "$RUN_DIR/redis.pid" ]] && kill "$(cat "$RUN_DIR/redis.pid")" 2>/dev/null || true
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT

# --- PostgreSQL: a throwaway cluster owned by the postgres user --------------------------
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# The server (running as postgres) writes its log and socket into RUN_DIR.
[[ $(id -u) == 0 ]] && chown postgres "$RUN_DIR"
as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U chatapp -A trust --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg.log" -w \
  -o "-p $PG_PORT -k $RUN_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
export CHATAPP_TEST_POSTGRES_URL="postgresql+psycopg2://chatapp@127.0.0.1:$PG_PORT/postgres"

# --- Redis ---------------------------------------------------------------------------
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
  --daemonize yes --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/redis.log"
export CHATAPP_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

# --- lint and architecture -------------------------------------------------------------
echo "==> ruff"
ruff check chatapp tests bench alembic
echo "==> import-linter (layers of STYLE.md)"
lint-imports

echo "==> pytest"
python -m pytest "$@"
