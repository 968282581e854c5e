"""Long threads in real Chromium: opening a 5,000-message thread against a 2-message one,
each earlier page, and switching chats from the sidebar, measured side by side in one run.

The app runs as in production (`reflex run --env prod --single-port`, fresh SQLite file); the
threads are written straight to its database for a user made by one real send. Reports:
  * open: navigation start → the newest message on screen (median of 5, alternating)
  * earlier page: "Load earlier messages" pressed (what scrolling to the top presses) → the
    page above in the DOM, and the websocket bytes it took (median and worst of 6 pages)
  * switch: a click on the other chat in the sidebar → its newest message on screen (median
    of 10)

Usage: scripts/bench.sh thread [--messages 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright
from sqlmodel import Session, select

from chatapp.db import make_engine
from chatapp.models import Message, MessageRole, Thread
from tests.fakes.wire_server import ScriptedServer
from tests.support.app_process import AppProcess, clean_environment

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
APP_ENV = {
    "CHATAPP_LOCAL_MODEL_ENABLED": "false",
    "CHATAPP_OPENAI_API_KEY": "sk-test-not-a-real-key",
    "CHATAPP_DEFAULT_MODEL": "openai/gpt-4.1-mini",
    "CHATAPP_TITLE_GENERATION": "false",
}
MODEL = "openai/gpt-4.1-mini"
REPLY_TAIL = "\n\nA reply with **some** Markdown and a list:\n\n- one\n- two"


def write_thread(url: str, user_id: str, n: int, title: str) -> str:
    """A thread of `n` messages ("<title> 0" … "<title> n-1", a paragraph each)."""
    engine = make_engine(url)
    with Session(engine) as s:
        thread = Thread(user_id=user_id, title=title, model_id=MODEL, title_generated=True)
        s.add(thread)
        s.flush()
        parent, rows = None, []
        for i in range(n):
            role = MessageRole.USER if i % 2 == 0 else MessageRole.ASSISTANT
            body = f"{title} {i}" + ("" if role == MessageRole.USER else REPLY_TAIL)
            rows.append(Message(thread_id=thread.id, parent_id=parent, role=role, content=body,
                                model=MODEL))
            parent = rows[-1].id
        s.add_all(rows)
        thread.leaf_message_id = parent
        s.add(thread)
        s.commit()
        ident = thread.id
    engine.dispose()
    return ident


def owner(url: str) -> str:
    engine = make_engine(url)
    with Session(engine) as s:
        user_id = s.exec(select(Thread.user_id)).first()
    engine.dispose()
    assert user_id
    return user_id


# Counts the bytes the page receives over its websocket (from inside the page, so every
# socket of every navigation counts).
WS_BYTES_JS = """(() => {
  window.__wsBytes = 0;
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      window.__wsBytes += typeof e.data === 'string' ? new Blob([e.data]).size
                                                     : (e.data.byteLength || e.data.size || 0);
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, Native);
})();"""
# Resolves (returns the ms since the last click, or since navigation start) once `text`
# is on screen: timed inside the page, so the driver's own overhead is not counted.
SINCE_JS = """([text, sinceClick]) => {
  const box = document.getElementById('messages');
  if (!box) return false;
  for (const el of box.querySelectorAll('.md, .user-text')) {
    if (el.textContent.trim().split('\\n')[0].trim() !== text) continue;
    const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
    if (sinceClick === 'attached' || (r.bottom > b.top && r.top < b.bottom)) {
      return performance.now() - (sinceClick ? window.__clickAt : 0);
    }
  }
  return false;
}"""
PRESS_EARLIER_JS = """(() => {
  const button = [...document.querySelectorAll('#messages button')]
    .find(b => b.textContent.includes('Load earlier'));
  window.__clickAt = performance.now();
  button.click();
})()"""
CLICKS_JS = """document.addEventListener('pointerdown',
  () => { window.__clickAt = performance.now(); }, true);"""
async def run(messages: int) -> dict[str, list[float]]:
    wire = ScriptedServer()
    wire.start()
    out: dict[str, list[float]] = {"open long": [], "open short": [], "earlier": [],
                                   "earlier bytes": [], "switch": []}
    try:
        with tempfile.TemporaryDirectory(prefix="chatapp-thread-bench-") as tmp:
            env = {**clean_environment(), **APP_ENV, "CHATAPP_OPENAI_BASE_URL": wire.base_url}
            web = ROOT / ".web-bench"
            async with AppProcess(env=env, work_dir=Path(tmp), web_dir=web) as app, \
                    async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                                   args=CHROMIUM_ARGS, headless=True)
                page = await browser.new_page(viewport={"width": 1200, "height": 900})
                await _measure(page, app, messages, out)
                await browser.close()
    finally:
        wire.stop()
    return out


async def _measure(page, app: AppProcess, messages: int,  # type: ignore[no-untyped-def]
                   out: dict[str, list[float]]) -> None:
    await page.add_init_script(WS_BYTES_JS)
    await page.add_init_script(CLICKS_JS)
    await page.goto(app.url)
    await page.fill("[data-testid=composer]", "hello [[tokens=8]]")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[data-testid=assistant-message][data-status=complete]",
                                 timeout=30_000)
    user_id = owner(app.database_url)
    long_id = write_thread(app.database_url, user_id, messages, "long")
    short_id = write_thread(app.database_url, user_id, 2, "short")

    async def open_timed(thread_id: str, newest: str) -> float:
        await page.goto("about:blank")
        await page.goto(f"{app.url}/chat/{thread_id}")
        handle = await page.wait_for_function(SINCE_JS, arg=[newest, False], timeout=30_000,
                                              polling="raf")
        return float(await handle.json_value())

    for _ in range(5):
        out["open long"].append(await open_timed(long_id, f"long {messages - 1}"))
        out["open short"].append(await open_timed(short_id, "short 1"))

    # Earlier pages: the "Load earlier messages" button pressed from inside the page (what
    # scrolling to the top presses), with the view kept far from the top so nothing else
    # loads meanwhile; until the page above is in the DOM.
    await open_timed(long_id, f"long {messages - 1}")
    oldest = messages - 60
    for _ in range(6):
        await page.evaluate("document.getElementById('messages').scrollTop = 3000")
        await page.wait_for_timeout(300)
        before = await page.evaluate("window.__wsBytes")
        await page.evaluate(PRESS_EARLIER_JS)
        handle = await page.wait_for_function(SINCE_JS, arg=[f"long {oldest - 1}", "attached"],
                                              timeout=30_000, polling="raf")
        out["earlier"].append(float(await handle.json_value()))
        await page.wait_for_timeout(500)
        out["earlier bytes"].append(await page.evaluate("window.__wsBytes") - before)
        oldest -= 60

    # Switching between the two chats from the sidebar.
    await open_timed(short_id, "short 1")
    targets = [("long", f"long {messages - 1}"), ("short", "short 1")]
    for i in range(10):
        title, newest = targets[i % 2]
        link = page.locator("[data-testid=thread-link]", has_text=title).first
        await link.click()
        handle = await page.wait_for_function(SINCE_JS, arg=[newest, True], timeout=30_000,
                                              polling="raf")
        out["switch"].append(float(await handle.json_value()))
        await page.wait_for_timeout(300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    r = asyncio.run(run(args.messages))
    med = statistics.median
    print("\n| measure | median ms | worst ms |\n|---|---|---|")
    print(f"| open a {args.messages:,}-message thread | {med(r['open long']):.0f} | "
          f"{max(r['open long']):.0f} |")
    print(f"| open a 2-message thread | {med(r['open short']):.0f} | {max(r['open short']):.0f} |")
    print(f"| each earlier page (60 messages) | {med(r['earlier']):.0f} | "
          f"{max(r['earlier']):.0f} |")
    print(f"| switch chats from the sidebar | {med(r['switch']):.0f} | {max(r['switch']):.0f} |")
    print(f"\nlong ÷ short open: {med(r['open long']) / med(r['open short']):.2f}×; "
          f"websocket bytes per earlier page: median {med(r['earlier bytes']):,.0f}, "
          f"last {r['earlier bytes'][-1]:,}")


if __name__ == "__main__":
    main()
