"""Streaming cost, side by side: chatapp's batched, split live reply vs per-token flushing.

Streams a scripted 2,000-token reply at 200 tokens/s (the scripted OpenAI-compatible server on
loopback) into the running app in real Chromium, and reports for each configuration:
  * added first-token time: first text visible in the browser minus the server's first token
  * end lag: last token visible minus last token sent
  * server CPU seconds (every process of the app) during the reply
  * bytes received over the websocket during the reply
  * browser main-thread time (CDP Performance: script + layout + style)

Usage: scripts/bench.sh [--tokens 2000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from tests.fakes.wire_server import ScriptedServer
from tests.support.app_process import AppProcess, clean_environment, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
APP_DEFAULTS = {  # the scripted OpenAI-compatible server stands in for a hosted model
    "CHATAPP_LOCAL_MODEL_ENABLED": "false",
    "CHATAPP_OPENAI_API_KEY": "sk-test-not-a-real-key",
    "CHATAPP_DEFAULT_MODEL": "openai/gpt-4.1-mini",
    "CHATAPP_TITLE_GENERATION": "false",
}
CONFIGS = {
    "chatapp (50 ms batches, split live text)": {},
    "baseline: flush every token, whole text": {
        "CHATAPP_STREAM_FLUSH_SECONDS": "0.001", "CHATAPP_STREAM_LIVE_SPLIT": "false",
    },
}

# Records (epoch ms, visible reply characters) on every DOM change of the conversation.
OBSERVER_JS = """
() => {
  window.__bench = [];
  const measure = () => {
    const replies = document.querySelectorAll('#messages .msg-assistant');
    const last = replies[replies.length - 1];
    if (!last) return 0;
    let n = 0;
    last.querySelectorAll('.md').forEach(md => {
      n += md.textContent.replace(/\\s+/g, '').length;
    });
    return n;
  };
  new MutationObserver(() => {
    window.__bench.push([performance.timeOrigin + performance.now(), measure()]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


# Records (epoch ms) when each websocket message reaches the page, and whether it carries
# the reply's first word: splits the first-token time into server+network and browser parts.
WEBSOCKET_JS = """
(() => {
  window.__frames = [];
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const text = typeof e.data === 'string' ? e.data : '';
      const now = performance.timeOrigin + performance.now();
      window.__frames.push([now, text.includes('Streaming')]);
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, Native);
})();
"""


@dataclass
class Result:
    config: str
    added_first_token_ms: float
    first_token_server_ms: float  # provider's first token → first websocket message with it
    end_lag_ms: float
    server_cpu_s: float
    ws_bytes: int
    browser_main_thread_s: float
    reply_chars: int


async def measure(config: str, env: dict[str, str], wire: ScriptedServer, tokens: int,
                  rate: float) -> Result:
    app_env = {**clean_environment(), **APP_DEFAULTS, **env,
               "CHATAPP_OPENAI_BASE_URL": wire.base_url}
    with tempfile.TemporaryDirectory(prefix="chatapp-bench-") as tmp:
        return await _measure(config, app_env, wire, tokens, rate, Path(tmp))


async def _measure(config: str, app_env: dict[str, str], wire: ScriptedServer, tokens: int,
                   rate: float, tmp: Path) -> Result:
    async with AppProcess(env=app_env, work_dir=tmp, web_dir=ROOT / ".web-bench") as app:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium",
                                               args=CHROMIUM_ARGS, headless=True)
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            ws_bytes = 0

            def on_ws(ws):  # type: ignore[no-untyped-def]
                def add(payload: str | bytes) -> None:
                    nonlocal ws_bytes
                    ws_bytes += len(payload.encode() if isinstance(payload, str) else payload)
                ws.on("framereceived", add)

            page.on("websocket", on_ws)
            await page.add_init_script(WEBSOCKET_JS)
            await page.goto(app.url)
            await page.wait_for_selector("[data-testid=composer]")
            await page.wait_for_timeout(500)
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Performance.enable")
            await page.evaluate(OBSERVER_JS)
            wire.clear()
            before_metrics = await _metrics(cdp)
            ws_bytes = 0
            cpu_before = cpu_seconds(app.pgid)
            # Headers at once and the first token 300 ms later, as a hosted model answers:
            # the app's own set-up overlaps that wait, as it would in real use.
            await page.fill("[data-testid=composer]",
                            f"[[tokens={tokens} rate={rate} delay_first=0.3]]")
            await page.keyboard.press("Enter")
            await page.wait_for_selector(
                "[data-testid=assistant-message][data-status=complete]",
                timeout=(tokens / rate + 60) * 1000,
            )
            await page.wait_for_timeout(300)
            cpu_after = cpu_seconds(app.pgid)
            after_metrics = await _metrics(cdp)
            samples = await page.evaluate("window.__bench")
            frames = await page.evaluate("window.__frames")
            await browser.close()
        stats = httpx.get(f"{wire.root_url}/_stats").json()
    record = stats[-1]
    final_chars = max(n for _, n in samples)
    first_visible = next(t for t, n in samples if n > 0) / 1000
    first_frame = next(t for t, has_token in frames if has_token) / 1000
    last_visible = next(t for t, n in samples if n == final_chars) / 1000
    busy = sum(after_metrics[k] - before_metrics[k]
               for k in ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration"))
    return Result(
        config=config,
        added_first_token_ms=round((first_visible - record["first_token_at"]) * 1000, 1),
        first_token_server_ms=round((first_frame - record["first_token_at"]) * 1000, 1),
        end_lag_ms=round((last_visible - record["last_token_at"]) * 1000, 1),
        server_cpu_s=round(cpu_after - cpu_before, 2),
        ws_bytes=ws_bytes,
        browser_main_thread_s=round(busy, 2),
        reply_chars=final_chars,
    )


async def _metrics(cdp) -> dict[str, float]:  # type: ignore[no-untyped-def]
    result = await cdp.send("Performance.getMetrics")
    return {m["name"]: m["value"] for m in result["metrics"]}


def report(results: list[Result], tokens: int, rate: float) -> str:
    ours, base = results[0], results[1]
    lines = [
        f"Reply: {tokens} tokens at {rate:g} tokens/s ({ours.reply_chars} visible characters).",
        "",
        "| configuration | added first-token ms (of which server) | end lag ms | server CPU s |"
        " websocket bytes | browser main-thread s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.config} | {r.added_first_token_ms} ({r.first_token_server_ms}) | "
                     f"{r.end_lag_ms} | "
                     f"{r.server_cpu_s} | {r.ws_bytes:,} | {r.browser_main_thread_s} |")

    def ratio(a: float, b: float) -> str:
        return f"{b / a:.1f}×" if a > 0 else "n/a"

    lines += [
        "",
        f"Baseline ÷ chatapp: websocket bytes {ratio(ours.ws_bytes, base.ws_bytes)}, "
        f"server CPU {ratio(ours.server_cpu_s, base.server_cpu_s)}, browser main thread "
        f"{ratio(ours.browser_main_thread_s, base.browser_main_thread_s)}.",
    ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    wire = ScriptedServer()
    wire.start()
    try:
        results = [await measure(name, env, wire, args.tokens, args.rate)
                   for name, env in CONFIGS.items()]
    finally:
        wire.stop()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"stream-{stamp}.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(report(results, args.tokens, args.rate))
    print(f"\n(machine: {os.cpu_count()} cores; raw numbers in bench/results/stream-{stamp}.json)")


if __name__ == "__main__":
    asyncio.run(main())
