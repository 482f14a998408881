"""Small ASGI helpers of the middleware: header reads, request-ID checks, response capture and the
guard that keeps keep-alive connections usable after an early answer and bounds a stalled body."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["DRAIN_LIMIT", "GUARD_KEY", "BodyGuard", "Captured", "Receive", "Send", "header", "is_api",
           "multipart_boundary", "one_charset", "valid_request_id"]

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            try:
                return v.decode("latin-1")
            except Exception:
                return None
    return None


def valid_request_id(value: str | None) -> bool:
    return bool(value) and len(value) <= 128 and all(33 <= ord(c) <= 126 for c in value)  # type: ignore[arg-type]


def multipart_boundary(content_type: str | None) -> bytes | None:
    if not content_type or not content_type.lower().startswith("multipart/"):
        return None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


def is_api(path: str) -> bool:
    return path.startswith("/v2/") or path.startswith("/api/v1/")


def one_charset(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Litestar appends `; charset=utf-8` to every text/* media type, even one that names its charset
    already (`text/html; charset=utf-8; charset=utf-8`): keep the first."""
    out = headers
    for i, (k, v) in enumerate(headers):
        if k.lower() == b"content-type" and v.lower().count(b"charset=") > 1:
            parts = [p.strip() for p in v.split(b";")]
            seen = False
            kept = []
            for part in parts:
                if part.lower().startswith(b"charset="):
                    if seen:
                        continue
                    seen = True
                kept.append(part)
            out = list(headers)
            out[i] = (k, b"; ".join(kept))
    return out


class Captured:
    def __init__(self) -> None:
        self.start: dict[str, Any] | None = None
        self.body: list[bytes] = []

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.start.get("headers", [])) if self.start else []


DRAIN_LIMIT = 1024 * 1024
GUARD_KEY = "gharart_body_guard"  # the request's guard in ``scope["state"]`` (nested middlewares share it)


class BodyGuard:
    """Keeps a keep-alive connection usable when an answer goes out before the request body was read,
    and bounds how long the app waits for the next body chunk.

    An early answer (401, 413, 415, 409 ...) leaves the rest of the body on the wire; the server
    then drops the connection and the client's next request on it fails. Small leftovers are read
    and discarded after the answer; for big or unknown ones the answer says ``Connection: close``.

    A client that stops sending in the middle of a body (slowloris) would hold a worker slot, a
    database transaction and possibly an Idempotency-Key forever: when no chunk arrives within
    ``timeout`` seconds (an idle bound, not a total one, so a slow but steady upload goes through),
    the app is told the client went away (``http.disconnect``) and ``timed_out`` is set, so the
    middleware rolls the request back and answers 408 ``request_timeout`` with ``Connection: close``.
    """

    __slots__ = ("done", "length", "read", "receive", "send", "timed_out", "timeout")

    def __init__(self, scope: dict[str, Any], receive: Receive, send: Send, timeout: float | None = None) -> None:
        declared = header(scope, b"content-length")
        self.length = int(declared) if declared and declared.isascii() and declared.isdigit() else None
        self.read = 0
        self.done = self.length == 0
        self.receive = receive
        self.send = send
        self.timeout = timeout if timeout and timeout > 0 else None
        self.timed_out = False

    async def guarded_receive(self) -> dict[str, Any]:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.done or self.timeout is None:
            # after the body, receive() waits for the disconnect (streamed answers listen for it)
            message = await self.receive()
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    message = await self.receive()
            except TimeoutError:
                self.timed_out = self.done = True
                return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.done = True
        elif message["type"] == "http.disconnect":
            self.done = True
        return message

    async def guarded_send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and (not self.done or self.timed_out):
            left = None if self.length is None else self.length - self.read
            if self.timed_out or left is None or left > DRAIN_LIMIT:
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await self.send(message)

    async def drain(self) -> None:
        left = None if self.length is None else self.length - self.read
        if self.done or left is None or left > DRAIN_LIMIT:
            return
        while not self.done and self.read <= (self.length or 0) + DRAIN_LIMIT:
            await self.guarded_receive()
