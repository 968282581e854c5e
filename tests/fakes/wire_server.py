"""Scripted OpenAI/Anthropic HTTP server on loopback: in-process for pytest, standalone for e2e."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from tests.fakes.wire_anthropic import anthropic_messages
from tests.fakes.wire_http import ClientGone, HttpRequest, HttpResponder, read_request
from tests.fakes.wire_openai import openai_chat
from tests.fakes.wire_scripts import anthropic_error, openai_error
from tests.fakes.wire_stream import RequestRecord

HOST = "127.0.0.1"  # loopback only: this server trusts every caller
DEFAULT_MODELS = ("smollm2-135m", "scripted-model")


class ScriptedServer:
    """Serves the scripted APIs; behaviour comes from `[[directives]]` in the last user message.

    With `accepted_keys` set (also assignable later), every API route, the model listings
    included, answers 401 in its protocol's format to a key not in it; None accepts any key.

    In-process: ``server = ScriptedServer(); server.start(); ...; server.stop()`` runs it on its
    own thread and event loop, so sync and async tests can share it. Standalone: ``serve()``.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        models: Sequence[str] = DEFAULT_MODELS,
        history: int = 1000,
        accepted_keys: Collection[str] | None = None,
    ) -> None:
        self._requested_port = port
        self.accepted_keys = None if accepted_keys is None else frozenset(accepted_keys)
        self._port: int | None = None
        self.models = tuple(models)
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=history)
        self._records_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._connections: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # --- addresses ---------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("ScriptedServer is not running")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (with /v1); the Anthropic routes answer under it too."""
        return f"{self.root_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """What the Anthropic SDK expects: the root, it adds /v1/messages itself."""
        return self.root_url

    # --- records -------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """API requests seen so far, oldest first (stats and model listings excluded)."""
        with self._records_lock:
            return list(self._records)

    @property
    def last_request(self) -> RequestRecord:
        with self._records_lock:
            if not self._records:
                raise LookupError("no request recorded yet")
            return self._records[-1]

    def clear(self) -> None:
        with self._records_lock:
            self._records.clear()

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> int:
        """Start on a background thread; returns the bound port."""
        if self._thread is not None:
            return self.port
        self._ready.clear()
        self._thread = threading.Thread(
            target=self._run_thread, name="scripted-wire-server", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("ScriptedServer did not start within 10 s")
        if self._startup_error is not None:
            self._thread = None
            raise RuntimeError("ScriptedServer failed to start") from self._startup_error
        return self.port

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stop_event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be gone
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> ScriptedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        try:
            asyncio.run(self.serve(on_ready=self._ready.set))
        except BaseException as exc:  # surface bind errors to start()
            self._startup_error = exc
            self._ready.set()

    async def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until stop() is called (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, HOST, self._requested_port)
        self._port = server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()
            self._port = None

    # --- HTTP ----------------------------------------------------------------------

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        resp = HttpResponder(reader, writer)
        try:
            while resp.keep_alive:
                request = await read_request(reader)
                if request is None:
                    break
                await self._dispatch(request, resp)
        except (ClientGone, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        except asyncio.CancelledError:
            # stop() cancels open connections; ending quietly keeps asyncio from logging each.
            pass
        finally:
            self._connections.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _dispatch(self, request: HttpRequest, resp: HttpResponder) -> None:
        path = request.path.rstrip("/")
        if request.method == "GET" and path == "/_stats":
            await resp.send_json(200, [r.to_json() for r in self.requests])
        elif request.method == "DELETE" and path == "/_stats":
            self.clear()
            await resp.send_json(200, {"cleared": True})
        elif request.method == "GET" and path == "/_health":
            await resp.send_json(200, {"ok": True})
        elif request.method == "GET" and path.endswith("/models"):
            if refusal := self._refusal(request):
                await resp.send_json(*refusal)
                return
            await resp.send_json(200, self._models_payload(request))
        elif request.method == "POST" and (
            path.endswith("/chat/completions") or path.endswith("/messages")
        ):
            await self._api_call(request, resp, path)
        else:
            await resp.send_json(
                404,
                {
                    "error": {
                        "message": f"No route {request.method} {request.path}",
                        "type": "not_found",
                    }
                },
            )

    async def _api_call(self, request: HttpRequest, resp: HttpResponder, path: str) -> None:
        try:
            body = request.json()
        except ValueError:
            body = None
        record = RequestRecord(
            next(self._ids), request.method, request.path, dict(request.headers), body
        )
        with self._records_lock:
            self._records.append(record)
        handler = openai_chat if path.endswith("/chat/completions") else anthropic_messages
        try:
            if refusal := self._refusal(request):
                record.status = refusal[0]
                await resp.send_json(*refusal)
                return
            if not isinstance(body, dict):
                record.status = 400
                await resp.send_json(
                    400,
                    {
                        "error": {
                            "message": "Body must be a JSON object.",
                            "type": "invalid_request_error",
                        }
                    },
                )
                return
            await handler(resp, record, body)
        except ClientGone:
            record.aborted = True
            resp.keep_alive = False
            raise
        finally:
            record.done.set()

    def _refusal(self, request: HttpRequest) -> tuple[int, dict[str, Any]] | None:
        """401 in the caller's protocol when its key is not an accepted one, else None."""
        accepted = self.accepted_keys
        if accepted is None:
            return None
        # Anthropic's SDK sends x-api-key or (newer versions) a bearer token, OpenAI's a bearer.
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        key = request.headers.get("x-api-key") or bearer
        if key in accepted:
            return None
        path = request.path.rstrip("/")
        if "anthropic-version" in request.headers or path.endswith("/messages"):
            return 401, anthropic_error(401)
        # Echoes the key back, as some compatible servers do: callers must not repeat it.
        return 401, openai_error(401, model="", api_key=key)

    def _models_payload(self, request: HttpRequest) -> dict[str, Any]:
        if "anthropic-version" in request.headers:
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models
            ]
            return {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "chatapp-tests"}
                for m in self.models
            ],
        }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        help="model id listed by GET /v1/models (repeatable)",
    )
    args = parser.parse_args(argv)
    server = ScriptedServer(port=args.port, models=args.models or DEFAULT_MODELS)

    def announce() -> None:
        sys.stdout.write(f"listening on {server.root_url}\n")
        sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(on_ready=announce))


if __name__ == "__main__":
    main()
