"""Run the real app (reflex prod, single port) as a subprocess on a fresh database."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class AppProcess:
    """`reflex run --env prod --single-port` with its own database, web folder and port.

    `web_dir` is kept between runs (it holds the npm install), so later starts are fast.
    """

    def __init__(self, *, env: dict[str, str] | None = None, web_dir: str = ".web-test",
                 timeout: float = 600.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = Path(tempfile.mkdtemp(prefix="chatapp-app-"))
        self.database_url = f"sqlite:///{self._tmp / 'app.db'}"
        self.log_path = self._tmp / "app.log"
        self._web_dir = ROOT / web_dir
        self._timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "REFLEX_WEB_WORKDIR": str(self._web_dir),
            "REFLEX_STATES_WORKDIR": str(self._tmp / "states"),
            "CHATAPP_DATABASE_URL": self.database_url,
            "CHATAPP_PORT": str(self.port),
            "CHATAPP_LOCAL_MODEL_ENABLED": "false",
            "CHATAPP_OPENAI_API_KEY": "sk-test-not-a-real-key",
            "CHATAPP_DEFAULT_MODEL": "openai/gpt-4.1-mini",
            "CHATAPP_TITLE_GENERATION": "false",
            **(env or {}),
        }

    @property
    def pgid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        venv_bin = Path(sys.executable).parent
        subprocess.run([str(venv_bin / "alembic"), "upgrade", "head"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [str(venv_bin / "reflex"), "run", "--env", "prod", "--single-port",
             "--frontend-port", str(self.port), "--backend-port", str(self.port),
             "--backend-host", "127.0.0.1", "--loglevel", "warning"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{self.log_tail()}")
            try:
                page = httpx.get(self.url + "/", headers={"Accept": "text/html"}, timeout=2)
                if page.status_code == 200 and "<html" in page.text.lower():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not start in {self._timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def __aenter__(self) -> AppProcess:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)
