"""Hand-written HTTP/1.1 on asyncio streams, so the fake can pace, flush and cut a body at will."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 32 * 1024 * 1024


class ClientGone(Exception):
    """The client closed its end while we were still answering."""


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


async def read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """One request off a keep-alive connection; None when the client closed it cleanly."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length > MAX_BODY:
        raise ValueError("request body too large")
    body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return HttpRequest(method.upper(), parts.path, parts.query, headers, body)


class HttpResponder:
    """Writes one response at a time on a connection and notices when the client leaves."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.keep_alive = True
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Each token must leave at once; Nagle would batch small writes and skew timings.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def client_gone(self) -> bool:
        # The client sends nothing while it reads a response, so EOF here means it hung up.
        return self.reader.at_eof() or self.writer.transport.is_closing()

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("connection: keep-alive" if self.keep_alive else "connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _write(self, data: bytes) -> None:
        if self.client_gone():
            raise ClientGone
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise ClientGone from exc

    async def send_json(
        self, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        all_headers = {"content-type": "application/json", "content-length": str(len(body))}
        all_headers.update(headers or {})
        await self._write(self._head(status, all_headers) + body)

    async def send_partial_json(self, status: int, payload: Any) -> None:
        """Announce the whole body, send half of it (the caller then drops the connection)."""
        body = json.dumps(payload).encode()
        head = self._head(
            status, {"content-type": "application/json", "content-length": str(len(body))}
        )
        await self._write(head + body[: len(body) // 2])

    async def start_stream(self, headers: dict[str, str] | None = None, status: int = 200) -> None:
        all_headers = {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
        }
        all_headers.update(headers or {})
        await self._write(self._head(status, all_headers))

    async def send_chunk(self, data: bytes) -> None:
        await self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    async def end_stream(self) -> None:
        await self._write(b"0\r\n\r\n")

    def drop(self, *, reset: bool = False) -> None:
        """Cut the connection without finishing the body: FIN by default, RST when asked."""
        self.keep_alive = False
        if reset:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                # Linger 0 turns close() into an RST, which the client sees as ECONNRESET.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.writer.transport.abort()
        else:
            self.writer.close()


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {text}\n\n".encode()
