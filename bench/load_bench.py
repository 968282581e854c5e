"""Many users streaming at once: how far behind the provider each of them reads the reply.

    python -m bench.load_bench                       # 1 worker, then 3 (Redis + PostgreSQL)
    python -m bench.load_bench --users 25,50,100 --workers 1

For each configuration the real app starts (`reflex run --env prod --single-port`), and a
provider of this script (OpenAI's wire format, in its own process) streams every reply at
`--rate` tokens per second, each token carrying the moment it was written. Each simulated user
is what a browser tab does, without the browser: it loads the page (its session cookie), opens
Reflex's websocket with the page's hydrate, sends its message as the composer does, and reads
the reply's feed (/api/live/<id>), where the tokens' stamps give the delay from the provider
writing each token to the user receiving it. All users of a round send within `--spread`
seconds and stream at the same time.

Reported per number of users: p50 / p99 delay, errors (a reply that did not end complete with
every token), the app's CPU per stream (fraction of a core) and memory per stream (PSS, the
memory each process really holds: pages shared after fork counted once), the load tools' own
CPU; then the number of users at which p99 passes 250 ms, and the app's idle memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import wsproto
import wsproto.events as ws_events

from tests.support.app_process import AppProcess, clean_environment, cpu_seconds, free_port
from tests.support.postgres_server import postgres_server

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
P99_LIMIT_MS = 250.0
STATE = "reflex___state____state"
SEND_EVENT = f"{STATE}.chatapp___state___composer____composer_state.send_message"
HYDRATE_EVENT = f"{STATE}.hydrate_and_load"
LIVE_STATE = f"{STATE}.chatapp___state___live____live_state"
MESSAGE_ID = re.compile(r'"message_id_rx_state_"\s*:\s*"([^"]+)"')
STAMP = re.compile(r"w(\d+) ")
APP_ENV = {
    "CHATAPP_LOCAL_MODEL_ENABLED": "false",
    "CHATAPP_OPENAI_API_KEY": "sk-bench-not-a-real-key",
    "CHATAPP_DEFAULT_MODEL": "openai/gpt-4.1-mini",
    "CHATAPP_TITLE_GENERATION": "false",
    "CHATAPP_ANONYMOUS_USERS_PER_IP_PER_HOUR": "1000000",  # every user comes from 127.0.0.1
    "CHATAPP_BUDGET_ANONYMOUS_USD": "100",
    "CHATAPP_BUDGET_ANONYMOUS_PER_IP_USD": "1000000",
    "CHATAPP_SECRET_KEY": "load-bench-secret-key-of-forty-characters",
}


# --- the provider: its own process, so its CPU is not the users' ---------------------------


def _provider_main(port: int, epoch: float, ready: multiprocessing.synchronize.Event) -> None:
    asyncio.run(_provider(port, epoch, ready))


async def _provider(port: int, epoch: float, ready: multiprocessing.synchronize.Event) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = next((int(h.split(":", 1)[1]) for h in lines[1:]
                               if h.lower().startswith("content-length:")), 0)
                body = json.loads(await reader.readexactly(length)) if length else {}
                if method == "GET" and path.endswith("/models"):
                    data = json.dumps({"object": "list", "data": [
                        {"id": "gpt-4.1-mini", "object": "model", "owned_by": "bench"}]}).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\n\r\n%s" % (len(data), data))
                    await writer.drain()
                    continue
                await _stream(writer, body, epoch)

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    ready.set()
    async with server:
        await server.serve_forever()


async def _stream(writer: asyncio.StreamWriter, body: dict, epoch: float) -> None:
    prompt = body["messages"][-1]["content"]
    tokens = int(re.search(r"tokens=(\d+)", prompt).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"rate=([\d.]+)", prompt).group(1))  # type: ignore[union-attr]
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                 b"transfer-encoding: chunked\r\n\r\n")

    def chunk(payload: dict) -> None:
        data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))

    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": body["model"]}
    start = time.monotonic()
    for i in range(tokens):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        stamp = int((time.time() - epoch) * 1000)
        text = f"w{stamp} " + ("\n\n" if i % 40 == 39 else "")
        chunk({**base, "choices": [{"index": 0, "delta": {"content": text}}]})
        await writer.drain()
    chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunk({**base, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": tokens,
                                            "total_tokens": tokens + 12}})
    data = b"data: [DONE]\n\n"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    await writer.drain()


# --- a user: the page's cookie, Reflex's websocket, the reply's feed ------------------------


class Socket:
    """A websocket client (wsproto over asyncio streams) speaking Engine.IO 4 / Socket.IO 5
    to Reflex's /_event namespace; it answers the server's pings by itself."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str] = asyncio.Queue()
        self._conn = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._text: list[str] = []

    async def connect(self, port: int, token: str, cookie: str, hydrate: dict) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        target = f"/_event/?token={token}&EIO=4&transport=websocket"
        self._writer.write(self._conn.send(ws_events.Request(
            host=f"127.0.0.1:{port}", target=target,
            extra_headers=[(b"cookie", cookie.encode()),
                           (b"origin", f"http://127.0.0.1:{port}".encode())])))
        self._task = asyncio.create_task(self._read())
        opened = await self.frames.get()
        assert opened.startswith("0"), opened
        self.send("40/_event," + json.dumps({"event": hydrate}, separators=(",", ":")))

    def send(self, text: str) -> None:
        assert self._writer is not None
        self._writer.write(self._conn.send(ws_events.Message(data=text)))

    def emit(self, event: dict) -> None:
        self.send("42/_event," + json.dumps(["event", event], separators=(",", ":")))

    async def _read(self) -> None:
        assert self._reader is not None and self._writer is not None
        while data := await self._reader.read(65536):
            self._conn.receive_data(data)
            for event in self._conn.events():
                if isinstance(event, ws_events.TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        frame, self._text = "".join(self._text), []
                        if frame == "2":
                            self.send("3")  # Engine.IO ping -> pong
                        else:
                            self.frames.put_nowait(frame)
                elif isinstance(event, ws_events.Ping):
                    self._writer.write(self._conn.send(event.response()))
                elif isinstance(event, ws_events.CloseConnection):
                    return

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self._writer:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()


@dataclass
class UserResult:
    delays_ms: list[float] = field(default_factory=list)
    tokens: int = 0
    status: str = ""
    error: str = ""


async def _cookie(url: str) -> str:
    """A first page load's session cookie (a client of its own: a shared cookie jar would
    send the first user's cookie with every later page load)."""
    async with httpx.AsyncClient(timeout=60) as pages:
        response = await pages.get(url + "/", headers={"accept": "text/html"})
    response.raise_for_status()
    for value in response.headers.get_list("set-cookie"):
        if value.startswith("chatapp_session="):
            return value.split(";", 1)[0]
    raise RuntimeError("the page set no session cookie")


async def connect_user(port: int) -> tuple[Socket, str]:
    url = f"http://127.0.0.1:{port}"
    cookie = await _cookie(url)
    socket = Socket()
    hydrate = {"name": HYDRATE_EVENT, "payload": {"hashes": []},
               "router_data": {"pathname": "/", "asPath": "/"}}
    await socket.connect(port, str(uuid.uuid4()), cookie, hydrate)
    # The page's on_load has run when the composer's model is set.
    while "model_id_rx_state_" not in await asyncio.wait_for(socket.frames.get(), 60):
        pass
    return socket, cookie


async def stream_one(client: httpx.AsyncClient, port: int, socket: Socket, cookie: str,
                     tokens: int, rate: float, epoch: float) -> UserResult:
    result = UserResult()
    try:
        socket.emit({"name": SEND_EVENT,
                     "payload": {"form_data": {"message": f"load [[tokens={tokens} rate={rate}]]"}},
                     "router_data": {"pathname": "/", "asPath": "/"}})
        message_id = ""
        while not message_id:
            frame = await asyncio.wait_for(socket.frames.get(), 60)
            if LIVE_STATE in frame and (found := MESSAGE_ID.search(frame)):
                message_id = found.group(1)
        url = f"http://127.0.0.1:{port}/api/live/{message_id}"
        async with client.stream("GET", url, headers={"cookie": cookie,
                                                      "accept": "text/event-stream"}) as feed:
            kind = ""
            async for line in feed.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "delta":
                    now = (time.time() - epoch) * 1000
                    for stamp in STAMP.findall(json.loads(line[6:])["t"]):
                        result.delays_ms.append(now - int(stamp))
                elif line.startswith("data: ") and kind == "end":
                    result.status = json.loads(line[6:])["status"]
                    break
        result.tokens = len(result.delays_ms)
        if result.status != "complete" or result.tokens != tokens:
            result.error = f"{result.status or 'no end'} after {result.tokens} of {tokens} tokens"
    except Exception as exc:  # a user that fails is counted, not fatal
        result.error = f"{type(exc).__name__}: {exc}"[:200]
    return result


# --- a round: N users at once --------------------------------------------------------------


def _memory(pgid: int) -> tuple[float, float]:
    """RSS and PSS (MiB) of every process of the app's group."""
    rss = pss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return rss / 1024, pss / 1024


@dataclass
class Round:
    users: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_per_stream: float  # the app's CPU per stream, in cores
    mib_per_stream: float  # the app's PSS at peak minus before, per stream
    load_cpu_s: float  # this process and the provider: the load tools' own CPU
    error_sample: str = ""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_round(app: AppProcess, provider_pid: int, users: int, tokens: int, rate: float,
                    spread: float, epoch: float) -> Round:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=users)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0)) as client:
        connected = []
        for i in range(0, users, 25):  # pages load 25 at a time, as they would over a minute
            connected += await asyncio.gather(*(connect_user(app.port)
                                                for _ in range(min(25, users - i))))
        _, pss_before = _memory(app.pgid)
        peak = pss_before
        cpu_before = cpu_seconds(app.pgid)
        load_before = time.process_time() + _process_cpu(provider_pid)
        started = time.monotonic()

        async def user(i: int, socket: Socket, cookie: str) -> UserResult:
            await asyncio.sleep(spread * i / users)
            return await stream_one(client, app.port, socket, cookie, tokens, rate, epoch)

        tasks = [asyncio.create_task(user(i, s, c)) for i, (s, c) in enumerate(connected)]
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=0.5)
            peak = max(peak, _memory(app.pgid)[1])
        results = [t.result() for t in tasks]
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(app.pgid) - cpu_before
        load = time.process_time() + _process_cpu(provider_pid) - load_before
        for socket, _ in connected:
            await socket.close()
    delays = [d for r in results for d in r.delays_ms] or [float("nan")]
    failed = [r for r in results if r.error]
    stream_seconds = tokens / rate
    return Round(
        users=users, p50_ms=round(statistics.median(delays), 1),
        p99_ms=round(_percentile(delays, 0.99), 1), max_ms=round(max(delays), 1),
        errors=len(failed),
        cpu_per_stream=round(cpu / users / max(stream_seconds, elapsed - spread), 4),
        mib_per_stream=round((peak - pss_before) / users, 2),
        load_cpu_s=round(load, 1), error_sample=failed[0].error if failed else "",
    )


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- configurations ------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server():  # type: ignore[no-untyped-def]
    port = free_port()
    folder = tempfile.mkdtemp(prefix="chatapp-bench-redis-")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", folder],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


async def measure(workers: int, levels: list[int], tokens: int, rate: float, spread: float,
                  provider_url: str, provider_pid: int, epoch: float) -> dict:
    env = {**clean_environment(), **APP_ENV, "CHATAPP_OPENAI_BASE_URL": provider_url,
           "GRANIAN_WORKERS": str(workers)}
    with contextlib.ExitStack() as stack:
        database_url = None
        if workers > 1:  # several workers: state in Redis, the database PostgreSQL
            env["CHATAPP_REDIS_URL"] = stack.enter_context(redis_server())
            database_url = stack.enter_context(postgres_server()).url
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatapp-load-")))
        app = AppProcess(env=env, work_dir=tmp, web_dir=ROOT / ".web-bench",
                         database_url=database_url)
        await asyncio.to_thread(app.migrate)
        await asyncio.to_thread(app.start)
        stack.callback(app.stop)
        await asyncio.sleep(5)  # warm-up imports done, memory settled
        idle_rss, idle_pss = _memory(app.pgid)
        rounds = []
        for users in levels:
            done = await run_round(app, provider_pid, users, tokens, rate, spread, epoch)
            rounds.append(done)
            print(f"  {workers} worker(s), {users} users: p50 {done.p50_ms} ms, "
                  f"p99 {done.p99_ms} ms, errors {done.errors} {done.error_sample}", flush=True)
            if done.p99_ms > 4 * P99_LIMIT_MS or done.errors > users // 2:
                break  # far past the limit: more users say nothing new
    passed = next((r.users for r in rounds if r.p99_ms > P99_LIMIT_MS or r.errors), None)
    return {"workers": workers, "idle_rss_mib": round(idle_rss), "idle_pss_mib": round(idle_pss),
            "rounds": [asdict(r) for r in rounds], "p99_passes_250_ms_at": passed}


def report(configs: list[dict], tokens: int, rate: float) -> str:
    lines = [f"Each user: one reply of {tokens} tokens at {rate:g} tokens/s.", ""]
    for c in configs:
        label = "1 worker (SQLite, state in memory)" if c["workers"] == 1 else (
            f"{c['workers']} workers (Redis, PostgreSQL)")
        lines += [f"**{label}**: idle memory {c['idle_pss_mib']} MiB PSS "
                  f"({c['idle_rss_mib']} MiB RSS); p99 passes {P99_LIMIT_MS:g} ms at "
                  f"{c['p99_passes_250_ms_at'] or 'more than ' + str(c['rounds'][-1]['users'])}"
                  " users.", "",
                  "| users | p50 ms | p99 ms | max ms | errors | app CPU per stream (cores) |"
                  " app MiB per stream | load tools' CPU s |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['users']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                  f"{r['errors']} | {r['cpu_per_stream']} | {r['mib_per_stream']} | "
                  f"{r['load_cpu_s']} |" for r in c["rounds"]]
        lines.append("")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    epoch = time.time()
    port = free_port()
    ready = multiprocessing.get_context("spawn").Event()
    provider = multiprocessing.get_context("spawn").Process(
        target=_provider_main, args=(port, epoch, ready), daemon=True)
    provider.start()
    if not ready.wait(30):
        raise RuntimeError("the bench's provider did not start")
    levels = [int(n) for n in args.users.split(",")]
    configs = []
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            configs.append(await measure(workers, levels, args.tokens, args.rate, args.spread,
                                         f"http://127.0.0.1:{port}/v1", provider.pid, epoch))
    finally:
        provider.terminate()
    text = report(configs, args.tokens, args.rate)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"tokens": args.tokens, "rate": args.rate, "configs": configs,
                               "cores": os.cpu_count()}, indent=2))
    print(f"(machine: {os.cpu_count()} cores; raw numbers in {out.relative_to(ROOT)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="25,50,100,150,200,250,300")
    parser.add_argument("--workers", default="1,3")
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--spread", type=float, default=2.0,
                        help="seconds over which a round's users send")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
