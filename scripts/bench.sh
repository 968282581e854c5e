#!/usr/bin/env bash
# Run the streaming benchmark (see docs/benchmarks.md). Arguments go to bench/stream_bench.py.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --test
python -m bench.stream_bench "$@"
