"""The project names no package registry: the machine's own npm configuration decides."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from reflex.utils import frontend_skeleton

ROOT = Path(__file__).resolve().parent.parent
# A registry address, or a variable that would pin one for every npm and Reflex call.
PINNED = re.compile(r"registry\.npmjs\.org|npmmirror|NPM_CONFIG_REGISTRY\s*=|^\s*registry\s*=",
                    re.IGNORECASE | re.MULTILINE)


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_no_tracked_file_pins_an_npm_registry() -> None:
    this = Path(__file__).resolve()
    offenders = []
    for path in tracked_files():
        if path == this or path.suffix in {".png", ".lock"} or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if PINNED.search(text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_reflex_copies_the_projects_npm_files_instead_of_probing_registries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def probe() -> str:
        raise AssertionError("Reflex tried to pick a registry by reaching the internet")

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(tmp_path))
    monkeypatch.setattr(frontend_skeleton, "get_npm_registry", probe)

    frontend_skeleton.initialize_npmrc()
    frontend_skeleton.initialize_bun_config()

    npmrc = (tmp_path / ".npmrc").read_text()
    bunfig = (tmp_path / "bunfig.toml").read_text()
    assert npmrc == (ROOT / ".npmrc").read_text()
    assert bunfig == (ROOT / "bunfig.toml").read_text()
    assert not PINNED.search(npmrc) and not PINNED.search(bunfig)
