"""Per-request bookkeeping and token pacing shared by the scripted APIs."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import wire_scripts as ws
from tests.fakes.wire_http import HttpResponder


@dataclass(eq=False)
class RequestRecord:
    """What one request asked for and how the answer went (times are time.time() floats)."""

    id: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api: str = "other"  # openai | anthropic | other
    stream: bool = False
    received_at: float = field(default_factory=time.time)
    status: int | None = None
    tokens_total: int = 0
    tokens_sent: int = 0
    first_token_at: float | None = None
    last_token_at: float | None = None
    completed: bool = False  # the whole answer went out
    dropped: bool = False  # the script cut the connection on purpose
    aborted: bool = False  # the client hung up before the end
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float = 5.0) -> bool:
        """Block until the server has finished with this request (safe from any thread)."""
        return self.done.wait(timeout)

    def mark_token(self, count: int = 1) -> None:
        now = time.time()
        if self.first_token_at is None:
            self.first_token_at = now
        self.last_token_at = now
        self.tokens_sent += count

    def to_json(self) -> dict[str, Any]:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "api": self.api,
            "model": model,
            "stream": self.stream,
            "status": self.status,
            "received_at": self.received_at,
            "first_token_at": self.first_token_at,
            "last_token_at": self.last_token_at,
            "tokens_sent": self.tokens_sent,
            "tokens_total": self.tokens_total,
            "completed": self.completed,
            "dropped": self.dropped,
            "aborted": self.aborted,
            "done": self.done.is_set(),
        }


class StreamCut(Exception):
    """The script's drop_after point: cut the TCP connection."""


class StreamFail(Exception):
    """The script's stream_error point: send an in-stream error event."""


class Emitter:
    """Sends token events on a monotonic schedule, so pacing never drifts."""

    def __init__(self, resp: HttpResponder, record: RequestRecord, script: ws.Script) -> None:
        self.resp, self.record, self.script = resp, record, script
        self._loop = asyncio.get_running_loop()
        self._start = self._loop.time()

    async def _wait_for_slot(self) -> None:
        i = self.record.tokens_sent
        offset = i / self.script.rate if self.script.rate > 0 else 0.0
        delay = self._start + self.script.delay_first + offset - self._loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def token(self, data: bytes) -> None:
        sent, script = self.record.tokens_sent, self.script
        if script.drop_after is not None and sent >= script.drop_after:
            raise StreamCut
        if script.stream_error is not None and sent >= script.stream_error:
            raise StreamFail
        await self._wait_for_slot()
        await self.resp.send_chunk(data)
        self.record.mark_token()

    async def meta(self, data: bytes) -> None:
        await self.resp.send_chunk(data)

    async def whole_body_delay(self) -> None:
        """Non-streaming answers arrive when the last token would have."""
        total, rate = self.record.tokens_total, self.script.rate
        await asyncio.sleep(self.script.delay_first + (total / rate if rate > 0 else 0.0))


def truncate(thinking: list[str], text: list[str], limit: Any) -> tuple[list[str], list[str], bool]:
    if not isinstance(limit, int) or len(thinking) + len(text) <= limit:
        return thinking, text, False
    kept_thinking = thinking[:limit]
    return kept_thinking, text[: max(0, limit - len(kept_thinking))], True
