"""A private PostgreSQL server a test may stop and start (the shared one must stay up)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()])
    return Path(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """initdb into a temp folder, serve on a free loopback port; `stop()` and `start()` it."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed: run the suite with `make test`")
        self._bin = bin_dir
        self.port = _free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="chatapp-pg-"))
        self._dir.chmod(0o755)
        self._as_root = os.geteuid() == 0
        if self._as_root:  # the server refuses to run as root: it runs as postgres
            shutil.chown(self._dir, "postgres")
        self.url = f"postgresql+psycopg2://chatapp@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self._dir / "data"), "-U", "chatapp", "-A", "trust",
                  "--no-sync")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self._dir / "data"), "-l", str(self._dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")

    def stop(self) -> None:
        """As an outage: immediately, connections cut."""
        self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "immediate", "-w", "stop")

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()
