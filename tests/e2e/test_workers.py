"""Three workers on real Redis and PostgreSQL, as production runs them: a reply streaming on one
worker is followed live by a tab on another, stopped from either, and ended as interrupted
(not stuck) when its worker is killed, while the app goes on serving.

Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads connections by
their ports, so the test finds out where the second tab's feed landed: the reply's lease names
the writer's pid, and `ss` names the worker of each connection; the feed is the tab's
connection whose bytes grow most while the reply streams. A tab whose feed landed on the
writer is closed and another one opened.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import POSTGRES_URL, REDIS_URL, _drop_postgres_database, _postgres_database
from tests.e2e.conftest import STARTUP_TIMEOUT, WEB_DIR
from tests.e2e.ui import (
    LIVE,
    REPLY_TIMEOUT,
    marker,
    open_chat,
    reply_text,
    requests_for,
    scripted,
    send,
    thread_id,
    wait_for_growth,
)
from tests.support.app_process import AppProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
WORKERS = 3
TRIES = 16  # a feed lands off the writer with odds 2/3 each time: 16 misses are 1 in 10^7


@pytest.fixture(scope="module")
def workers(app: AppProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The suite's app, restarted on the same port with three workers, Reflex state and feeds
    in Redis, and a PostgreSQL database; the usual app comes back afterwards."""
    if not (POSTGRES_URL and REDIS_URL):
        pytest.skip("the test Redis and PostgreSQL servers are not set: run `make test`")
    database_url = _postgres_database()
    redis_url = REDIS_URL.rsplit("/", 1)[0] + "/14"
    redis.Redis.from_url(redis_url).flushdb()
    env = {**app.env, "CHATAPP_REDIS_URL": redis_url, "GRANIAN_WORKERS": str(WORKERS)}
    several = AppProcess(env=env, work_dir=tmp_path_factory.mktemp("e2e-workers"),
                         web_dir=WEB_DIR, database_url=database_url, loglevel="info",
                         timeout=STARTUP_TIMEOUT, port=app.port)
    app.stop()
    try:
        several.start()
        assert len(worker_pids(several)) == WORKERS, several.log_tail()
        yield several
    finally:
        several.stop()
        _drop_postgres_database(database_url)
        redis.Redis.from_url(redis_url).flushdb()
        app.start()


def worker_pids(app: AppProcess) -> set[int]:
    """The processes of the app's group that hold its listening socket, but the supervisor."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == app.pgid:
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != app.pgid:
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"python" in cmdline or b"reflex" in cmdline:
            found.add(int(entry.name))
    return found


def writer_pid(app: AppProcess, tid: str) -> int:
    """The pid of the worker writing the streaming reply of thread `tid` (from its lease)."""
    engine = sa.create_engine(app.database_url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                owner = conn.execute(sa.text(
                    "SELECT lease_owner FROM messages WHERE thread_id = :t AND role = 'assistant'"
                    " AND status = 'streaming' AND lease_owner IS NOT NULL"), {"t": tid}).scalar()
            if owner:
                return int(owner.split(":")[1])
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"no worker holds the lease of the reply in {tid}")


@dataclass(frozen=True)
class Connection:
    pid: int
    sent: int
    received: int


def connections(app: AppProcess) -> dict[int, Connection]:
    """The app's established connections, by the browser's port: which worker, bytes each way."""
    out = subprocess.run(["ss", "-tnpiH", "state", "established", f"( sport = :{app.port} )"],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for entry in re.split(r"\n(?=\S)", out.strip()):
        peer = re.search(r":\d+\s+\S+:(\d+)\s", entry)
        pid = re.search(r"pid=(\d+)", entry)
        if not (peer and pid):
            continue
        sent = re.search(r"bytes_(?:sent|acked):(\d+)", entry)
        received = re.search(r"bytes_received:(\d+)", entry)
        found[int(peer.group(1))] = Connection(int(pid.group(1)),
                                               int(sent.group(1)) if sent else 0,
                                               int(received.group(1)) if received else 0)
    return found


def follower_elsewhere(new_context, page: Page, app: AppProcess, tid: str) -> tuple[Page, int]:
    """A second tab of the same user on the thread, following the reply, whose feed is
    served by a worker that is not the writer."""
    writer = writer_pid(app, tid)
    for _ in range(TRIES):
        before = connections(app)
        context: BrowserContext = new_context()
        context.add_cookies(page.context.cookies())
        other = context.new_page()
        open_chat(other, f"/chat/{tid}")
        expect(other.get_by_test_id("live-reply")).to_contain_text("Streaming tokens")
        start = {port: c for port, c in connections(app).items() if port not in before}
        wait_for_growth(other, LIVE, len(other.locator(LIVE).inner_text()))
        other.wait_for_timeout(500)
        now = connections(app)
        grown = {port: now[port].sent - c.sent for port, c in start.items() if port in now}
        assert grown and max(grown.values()) > 0, f"no feed of the second tab found: {grown}"
        feed = max(grown, key=lambda port: grown[port])
        if now[feed].pid != writer:
            return other, writer
        context.close()
    raise AssertionError(f"no tab's feed landed off the writer in {TRIES} tries")


def followed_reply(page: Page, new_context, app: AppProcess, text: str,
                   shown: int = 0) -> tuple[Page, int]:
    """Send `text` in a new chat and, once more than `shown` characters of the reply are on
    screen, open a tab following it from another worker: that tab and the writer's pid."""
    open_chat(page)
    send(page, text)
    tid = thread_id(page)
    wait_for_growth(page, LIVE, shown)
    return follower_elsewhere(new_context, page, app, tid)


def test_a_tab_on_another_worker_follows_the_reply_live_and_stops_it(
    page: Page, workers: AppProcess, new_context, wire
) -> None:
    tag = marker()
    other, _ = followed_reply(page, new_context, workers, f"workers {tag} [[tokens=2000 rate=40]]")
    live = other.locator(LIVE)
    for _ in range(3):  # batch by batch, through Redis, from another process
        wait_for_growth(other, LIVE, len(live.inner_text()))

    other.get_by_test_id("stop-button").click()
    for tab in (other, page):
        reply = tab.get_by_test_id("assistant-message")
        expect(reply).to_have_attribute("data-status", "cancelled", timeout=REPLY_TIMEOUT)
    assert reply_text(other.get_by_test_id("assistant-message")) == reply_text(
        page.get_by_test_id("assistant-message"))
    (request,) = requests_for(wire, tag)
    assert request.wait(10) and not request.completed


def test_the_writing_tab_stops_a_reply_followed_on_another_worker(
    page: Page, workers: AppProcess, new_context
) -> None:
    other, _ = followed_reply(page, new_context, workers,
                              f"workers {marker()} [[tokens=2000 rate=40]]")
    wait_for_growth(other, LIVE, len(other.locator(LIVE).inner_text()))

    page.get_by_test_id("stop-button").click()
    for tab in (page, other):
        expect(tab.get_by_test_id("assistant-message")).to_have_attribute(
            "data-status", "cancelled", timeout=REPLY_TIMEOUT)
    expect(other.get_by_test_id("stop-button")).to_have_count(0)


def test_a_reply_whose_worker_is_killed_ends_interrupted_and_the_app_serves_on(
    page: Page, workers: AppProcess, new_context
) -> None:
    tag = marker()
    other, writer = followed_reply(page, new_context, workers,
                                   f"killed {tag} [[tokens=3000 rate=40]]", shown=200)
    page.wait_for_timeout(1_500)  # a checkpoint (one a second) holds some text
    os.kill(writer, signal.SIGKILL)  # that worker alone, mid-reply

    # Both tabs end it as interrupted once its lease runs out, with the kept text, no reload.
    for tab in (other, page):
        reply = tab.get_by_test_id("assistant-message")
        expect(reply).to_have_attribute("data-status", "interrupted", timeout=30_000)
        expect(tab.get_by_test_id("reply-interrupted").get_by_test_id(
            "regenerate-button")).to_be_visible()
    kept = reply_text(page.get_by_test_id("assistant-message"))
    assert kept and scripted(3000).startswith(kept)

    # The other workers serve on; a dead one is replaced.
    assert workers.running
    deadline = time.monotonic() + 30
    while len(worker_pids(workers) - {writer}) < WORKERS and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(worker_pids(workers) - {writer}) == WORKERS, workers.log_tail()
    send(page, f"after the kill {tag}")
    last = page.get_by_test_id("assistant-message").last
    expect(last).to_have_attribute("data-status", "complete", timeout=REPLY_TIMEOUT)
    expect(last).to_contain_text(f"after the kill {tag}")
