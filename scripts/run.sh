#!/usr/bin/env bash
# Set everything up, start the local model and the app (SQLite, in-memory state), print the URL.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"

PORT="${CHATAPP_PORT:-3000}"
MODEL_PORT="${CHATAPP_LOCAL_MODEL_PORT:-8765}"
mkdir -p "$ROOT/.data"

model_pid=""
if [[ "${CHATAPP_LOCAL_MODEL_ENABLED:-true}" != "false" ]] && \
   ! curl -sf "http://127.0.0.1:$MODEL_PORT/v1/models" >/dev/null 2>&1; then
  echo "==> Starting the local model on 127.0.0.1:$MODEL_PORT (log: .data/local-model.log)"
  python -m chatapp.cli local-model >"$ROOT/.data/local-model.log" 2>&1 &
  model_pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$MODEL_PORT/v1/models" >/dev/null 2>&1 && break
    kill -0 "$model_pid" 2>/dev/null || { echo "The local model failed to start: see .data/local-model.log"; model_pid=""; break; }
    sleep 0.5
  done
fi
trap '[[ -n "$model_pid" ]] && kill "$model_pid" 2>/dev/null' EXIT

echo
echo "==> chatapp will be at http://127.0.0.1:$PORT  (first start compiles the frontend: ~1 min)"
echo
# rxconfig.py binds CHATAPP_HOST (loopback unless set).
reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT" \
  --loglevel warning
