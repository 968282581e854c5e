"""Every package the code imports directly is declared in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Import name → distribution name, where they differ.
DISTRIBUTION = {"pydantic_settings": "pydantic-settings", "reflex_base": "reflex-base",
                "reflex_components_core": "reflex-components-core",
                "reflex_components_sonner": "reflex-components-sonner", "sqlalchemy": "sqlalchemy"}


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "chatapp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in ("chatapp",)}


def test_every_direct_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower()
                for d in project["dependencies"]}
    missing = sorted(m for m in _imported_top_levels()
                     if DISTRIBUTION.get(m, m).replace("_", "-").lower() not in declared)
    assert missing == []
