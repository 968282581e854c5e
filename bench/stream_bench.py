"""Streaming cost, side by side: chatapp's batched, split live reply vs per-token flushing.

Streams a scripted 2,000-token reply at 200 tokens/s (the scripted OpenAI-compatible server on
loopback) into the running app in real Chromium, and reports for each configuration:
  * Enter → provider: the key press in the page to the scripted provider receiving the request
  * added first-token time: first text visible in the browser minus the server's first token
  * end lag: last token visible minus last token sent (also for a reply at each --lag-rates)
  * server CPU seconds (every process of the app) during the reply
  * bytes received over the websocket during the reply
  * browser main-thread time (CDP Performance: script + layout + style)
  * renderer CPU seconds (the page's renderer process, from CDP SystemInfo.getProcessInfo)

Usage: scripts/bench.sh [--tokens 2000] [--rate 200] [--lag-rates 1000,2000]
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
PER_TOKEN = {"CHATAPP_STREAM_FLUSH_SECONDS": "0.001"}
# With --baseline PATH (a checkout of an earlier commit): the same script against it, in the
# same run. Its per-token row is the Reflex tutorial's pattern (the whole text every token).
BASELINE_CONFIGS = {
    "baseline: flush every token, whole text": {**PER_TOKEN,
                                                "CHATAPP_STREAM_LIVE_SPLIT": "false"},
    "baseline: 50 ms batches": {},
}
CONFIGS = {
    "chatapp: 50 ms batches": {},
    "chatapp: flush every token": PER_TOKEN,
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
  window.__enter = 0;
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || window.__enter) return;
    window.__enter = performance.timeOrigin + performance.now();
  }, true);
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
  // The reply's own feed (server-sent events), where there is one.
  const NativeSource = window.EventSource;
  if (NativeSource) {
    window.EventSource = function (...args) {
      const source = new NativeSource(...args);
      source.addEventListener('delta', (e) => {
        window.__frames.push([performance.timeOrigin + performance.now(),
                              e.data.includes('Streaming')]);
      });
      return source;
    };
    window.EventSource.prototype = NativeSource.prototype;
    Object.assign(window.EventSource, NativeSource);
  }
})();
"""


@dataclass
class Result:
    config: str
    enter_to_provider_ms: float
    added_first_token_ms: float
    first_token_server_ms: float  # provider's first token → first websocket message with it
    end_lag_ms: float
    server_cpu_s: float
    ws_bytes: int
    browser_main_thread_s: float
    renderer_cpu_s: float
    reply_chars: int
    end_lag_at_ms: dict[str, float]  # tokens/s -> end lag of a reply at that rate
    later_enter_ms: list[float]  # Enter → provider of the later new chats (a warm server)


async def measure(config: str, env: dict[str, str], wire: ScriptedServer, tokens: int,
                  rate: float, lag_rates: list[float], root: Path) -> Result:
    app_env = {**clean_environment(), **APP_DEFAULTS, **env,
               "CHATAPP_OPENAI_BASE_URL": wire.base_url}
    with tempfile.TemporaryDirectory(prefix="chatapp-bench-") as tmp:
        return await _measure(config, app_env, wire, tokens, rate, lag_rates, Path(tmp), root)


async def _send(page, tokens: int, rate: float) -> None:  # type: ignore[no-untyped-def]
    # Headers at once and the first token 300 ms later, as a hosted model answers:
    # the app's own set-up overlaps that wait, as it would in real use.
    await page.fill("[data-testid=composer]", f"[[tokens={tokens} rate={rate} delay_first=0.3]]")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[data-testid=assistant-message][data-status=complete]",
                                 timeout=(tokens / rate + 60) * 1000)
    await page.wait_for_timeout(300)


def _end_lag(samples: list[list[float]], record: dict[str, float]) -> float:
    final_chars = max(n for _, n in samples)
    last_visible = next(t for t, n in samples if n == final_chars) / 1000
    return round((last_visible - record["last_token_at"]) * 1000, 1)


async def _renderer_cpu(browser) -> float:  # type: ignore[no-untyped-def]
    session = await browser.new_browser_cdp_session()
    info = await session.send("SystemInfo.getProcessInfo")
    await session.detach()
    return sum(p["cpuTime"] for p in info["processInfo"] if p["type"] == "renderer")


async def _measure(config: str, app_env: dict[str, str], wire: ScriptedServer, tokens: int,
                   rate: float, lag_rates: list[float], tmp: Path, root: Path) -> Result:
    async with (AppProcess(env=app_env, work_dir=tmp, web_dir=root / ".web-bench",
                           root=root) as app,
                async_playwright() as pw):
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
        # The reply's feed is an HTTP response, not a websocket frame: its bytes count too.
        await cdp.send("Network.enable")
        feeds: set[str] = set()
        feed_bytes = 0

        def on_request(event) -> None:  # type: ignore[no-untyped-def]
            if "/api/live/" in event["request"]["url"]:
                feeds.add(event["requestId"])

        def on_data(event) -> None:  # type: ignore[no-untyped-def]
            nonlocal feed_bytes
            if event["requestId"] in feeds:
                feed_bytes += event["dataLength"]

        cdp.on("Network.requestWillBeSent", on_request)
        cdp.on("Network.dataReceived", on_data)
        await page.evaluate(OBSERVER_JS)
        wire.clear()
        before_metrics = await _metrics(cdp)
        ws_bytes = feed_bytes = 0
        cpu_before = cpu_seconds(app.pgid)
        renderer_before = await _renderer_cpu(browser)
        await _send(page, tokens, rate)
        cpu_after = cpu_seconds(app.pgid)
        after_metrics = await _metrics(cdp)
        renderer_after = await _renderer_cpu(browser)
        reply_bytes = ws_bytes + feed_bytes
        samples = await page.evaluate("window.__bench")
        frames = await page.evaluate("window.__frames")
        enter = await page.evaluate("window.__enter") / 1000
        record = httpx.get(f"{wire.root_url}/_stats").json()[-1]
        lags: dict[str, float] = {}
        later_enter: list[float] = []
        for fast in lag_rates:  # a new chat each, in the same tab
            await page.goto(app.url)
            await page.wait_for_selector("[data-testid=composer]")
            await page.wait_for_timeout(300)
            await page.evaluate(OBSERVER_JS)
            await _send(page, tokens, fast)
            last = httpx.get(f"{wire.root_url}/_stats").json()[-1]
            lags[f"{fast:g}"] = _end_lag(await page.evaluate("window.__bench"), last)
            later_enter.append(round(
                (last["received_at"] - await page.evaluate("window.__enter") / 1000) * 1000, 1))
        await browser.close()
    final_chars = max(n for _, n in samples)
    first_visible = next(t for t, n in samples if n > 0) / 1000
    first_frame = next(t for t, has_token in frames if has_token) / 1000
    busy = sum(after_metrics[k] - before_metrics[k]
               for k in ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration"))
    return Result(
        config=config,
        enter_to_provider_ms=round((record["received_at"] - enter) * 1000, 1),
        added_first_token_ms=round((first_visible - record["first_token_at"]) * 1000, 1),
        first_token_server_ms=round((first_frame - record["first_token_at"]) * 1000, 1),
        end_lag_ms=_end_lag(samples, record),
        server_cpu_s=round(cpu_after - cpu_before, 2),
        ws_bytes=reply_bytes,
        browser_main_thread_s=round(busy, 2),
        renderer_cpu_s=round(renderer_after - renderer_before, 2),
        reply_chars=final_chars,
        end_lag_at_ms=lags,
        later_enter_ms=later_enter,
    )


async def _metrics(cdp) -> dict[str, float]:  # type: ignore[no-untyped-def]
    result = await cdp.send("Performance.getMetrics")
    return {m["name"]: m["value"] for m in result["metrics"]}


def report(results: list[Result], tokens: int, rate: float) -> str:
    ours = next(r for r in results if r.config == "chatapp: 50 ms batches")
    base = results[0]
    lines = [
        f"Reply: {tokens} tokens at {rate:g} tokens/s ({ours.reply_chars} visible characters).",
        "",
        "| configuration | Enter → provider ms, first chat (later chats) |"
        " added first-token ms (of which server) |"
        " end lag ms | server CPU s | wire bytes (websocket + feed) | browser main-thread s |"
        " renderer CPU s |" + "".join(f" end lag at {r} tokens/s ms |"
                                      for r in ours.end_lag_at_ms),
        "|---|---|---|---|---|---|---|---|" + "---|" * len(ours.end_lag_at_ms),
    ]
    for r in results:
        later = ", ".join(f"{ms:g}" for ms in r.later_enter_ms)
        lines.append(f"| {r.config} | {r.enter_to_provider_ms} ({later}) | "
                     f"{r.added_first_token_ms} ({r.first_token_server_ms}) | {r.end_lag_ms} | "
                     f"{r.server_cpu_s} | {r.ws_bytes:,} | {r.browser_main_thread_s} | "
                     f"{r.renderer_cpu_s} |"
                     + "".join(f" {lag} |" for lag in r.end_lag_at_ms.values()))

    def ratio(a: float, b: float) -> str:
        return f"{b / a:.1f}×" if a > 0 else "n/a"

    lines += [
        "",
        f"Wire bytes per visible character of the reply: "
        f"{ours.ws_bytes / max(1, ours.reply_chars):.2f}.",
        f"{base.config} ÷ chatapp: wire bytes {ratio(ours.ws_bytes, base.ws_bytes)}, "
        f"server CPU {ratio(ours.server_cpu_s, base.server_cpu_s)}, browser main thread "
        f"{ratio(ours.browser_main_thread_s, base.browser_main_thread_s)}, renderer CPU "
        f"{ratio(ours.renderer_cpu_s, base.renderer_cpu_s)}.",
    ]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--lag-rates", default="1000,2000",
                        help="tokens/s of the extra replies whose end lag is measured")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of an earlier commit to measure beside this one")
    args = parser.parse_args()
    wire = ScriptedServer()
    wire.start()
    try:
        lag_rates = [float(r) for r in args.lag_rates.split(",") if r.strip()]
        runs = [(name, env, ROOT) for name, env in CONFIGS.items()]
        if args.baseline:
            runs = [(name, env, args.baseline.resolve())
                    for name, env in BASELINE_CONFIGS.items()] + runs
        results = [await measure(name, env, wire, args.tokens, args.rate, lag_rates, root)
                   for name, env, root in runs]
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
