"""End-to-end fixtures: the scripted wire server, the app on a free port, and headless Chromium.

The app runs as `reflex run --env prod --single-port` in its own process group, with its own web
and state folders (`.web-e2e/`, a temp dir) so it never collides with a developer's instance,
a fresh migrated SQLite file, and the OpenAI preset pointed at the scripted server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import migrate
from tests.fakes.github import FakeGitHub
from tests.fakes.wire_server import ScriptedServer
from tests.support.app_process import NODE_BIN, AppProcess, clean_environment, free_port
from tests.support.oidc import OidcProvider

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / ".web-e2e"
CHROMIUM = os.environ.get("CHATAPP_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
STARTUP_TIMEOUT = float(os.environ.get("CHATAPP_E2E_STARTUP_TIMEOUT", "300"))
DEFAULT_MODEL = "openai/gpt-4.1-mini"  # served by the scripted server through the OpenAI preset
# Two runs sharing .web-e2e would rebuild it under each other (the build embeds the port).
LOCK_PATH = Path(tempfile.gettempdir()) / (
    f"chatapp-e2e-{hashlib.sha256(str(WEB_DIR).encode()).hexdigest()[:12]}.lock"
)

expect.set_options(timeout=10_000)
RunningApp = AppProcess  # what tests annotate the `app` fixture with


def _app_env(wire: ScriptedServer, auth: dict[str, str]) -> dict[str, str]:
    return {
        **clean_environment(),
        "CHATAPP_SECRET_KEY": secrets.token_urlsafe(32),
        "CHATAPP_OPENAI_API_KEY": "sk-test-e2e",
        "CHATAPP_OPENAI_BASE_URL": wire.base_url,
        # No server key for Anthropic: its models appear only with a user's own key.
        "CHATAPP_ANTHROPIC_BASE_URL": wire.anthropic_base_url,
        "CHATAPP_DEFAULT_MODEL": DEFAULT_MODEL,
        "CHATAPP_LOCAL_MODEL_ENABLED": "false",
        # Title requests would carry the test's [[directives]] too and muddy request counts.
        "CHATAPP_TITLE_GENERATION": "false",
        "CHATAPP_REQUEST_TIMEOUT_SECONDS": "30",
        # Two long GPT-4.1 replies fit a signed-in free user's allowance, a third does not.
        "CHATAPP_BUDGET_FREE_USD": "0.02",
        # Every browser context of the suite is a new visitor from 127.0.0.1.
        "CHATAPP_ANONYMOUS_USERS_PER_IP_PER_HOUR": "100000",
        **auth,
    }


@contextlib.contextmanager
def _exclusive_web_dir(timeout: float) -> Iterator[None]:
    with LOCK_PATH.open("w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another e2e run holds {LOCK_PATH} (it uses {WEB_DIR})")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def wire() -> Iterator[ScriptedServer]:
    """The scripted OpenAI-compatible server, in this process (tests can read its records)."""
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def oidc() -> Iterator[OidcProvider]:
    """A real OpenID Connect provider on loopback (oidc-provider-mock, PKCE enforced)."""
    with OidcProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def github() -> Iterator[FakeGitHub]:
    """A scripted GitHub OAuth app server speaking GitHub's wire format."""
    with FakeGitHub() as server:
        yield server


@pytest.fixture(scope="session")
def app(
    wire: ScriptedServer, oidc: OidcProvider, github: FakeGitHub,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppProcess]:
    """chatapp running from this checkout on a free loopback port, against a fresh database.
    A test may kill it and start it again (same port, database and state folder)."""
    if not (NODE_BIN / "node").exists() and shutil.which("node") is None:
        pytest.fail("Node 22 is not installed: run scripts/setup.sh")
    with _exclusive_web_dir(STARTUP_TIMEOUT):
        yield from _run_app(wire, oidc, github, tmp_path_factory.mktemp("e2e-app"))


def _run_app(
    wire: ScriptedServer, oidc: OidcProvider, github: FakeGitHub, tmp: Path
) -> Iterator[AppProcess]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    client = oidc.register_client([f"{url}/auth/callback/oidc"])
    auth = {
        "CHATAPP_OIDC_ISSUER": oidc.issuer,
        "CHATAPP_OIDC_CLIENT_ID": client.client_id,
        "CHATAPP_OIDC_CLIENT_SECRET": client.client_secret,
        "CHATAPP_OIDC_NAME": "Test SSO",
        "CHATAPP_GITHUB_CLIENT_ID": github.client_id,
        "CHATAPP_GITHUB_CLIENT_SECRET": github.client_secret,
        "CHATAPP_GITHUB_BASE_URL": github.base_url,
        "CHATAPP_GITHUB_API_URL": github.api_url,
    }
    app = AppProcess(env=_app_env(wire, auth), work_dir=tmp, web_dir=WEB_DIR, loglevel="info",
                     timeout=STARTUP_TIMEOUT, port=port)
    migrate(app.database_url)
    try:
        try:
            app.start()
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, app: AppProcess, request: pytest.FixtureRequest):
    """Factory for fresh browser contexts: each one is a different anonymous user."""
    contexts = []

    def make(**kwargs):
        options = {"base_url": app.url, "viewport": {"width": 1280, "height": 800}}
        options.update(kwargs)
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        sys.stderr.write(f"\n--- app log tail ---\n{app.log_tail(40)}\n")
    for ctx in contexts:
        with contextlib.suppress(Exception):
            ctx.close()


@pytest.fixture
def page(new_context):
    """A page in a fresh context (a new anonymous user), with dialogs turned into failures."""
    ctx = new_context()
    page = ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    yield page
    assert not dialogs, f"the page opened dialogs (script ran?): {dialogs}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
