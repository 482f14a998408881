"""The ASGI layer around the Litestar app: request IDs, the request's unit of work, idempotency,
throttles, the body idle timeout, the request log and metrics.

It sits outside Litestar so it can buffer a write's response, commit the business transaction
together with the idempotency record, and only then send the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gharart_core.shared.errors import DomainError, RateLimited
from gharart_core.shared.ports import RequestLogEntry
from gharart_core.shared.tokens import sha256_hex

from .asgi_parts import GUARD_KEY, BodyGuard, Captured, Receive, Send, header, is_api, one_charset, valid_request_id
from .context import RequestState
from .problems import PROBLEM_JSON, STATUS_BY_KIND, problem_body, problem_bytes
from .runtime import Runtime, rate_limit_headers
from .writes import WritesMixin, timed_out

__all__ = ["FastPath", "GharartMiddleware"]

log = logging.getLogger("gharart.http")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths whose GET-only routes also answer HEAD (served files and previews declare HEAD themselves).
_HEAD_AS_GET = ("/v2/", "/api/v1/", "/healthz", "/readyz", "/metrics", "/schema")
FastPath = Callable[[dict[str, Any], Any, Any], Awaitable[bool]]


class GharartMiddleware(WritesMixin):
    def __init__(self, app: Any, runtime: Runtime, fast_paths: list[FastPath] | None = None) -> None:
        self.app = app
        self.rt = runtime
        self.fast_paths = list(fast_paths or [])
        self._actor_keys: dict[str, str] = {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and GUARD_KEY not in scope.get("state", {}) and (
                scope["method"] in WRITE_METHODS or header(scope, b"content-length")
                or header(scope, b"transfer-encoding")):
            guard = BodyGuard(scope, receive, send, getattr(self.rt.settings, "body_timeout_s", None))
            scope.setdefault("state", {})[GUARD_KEY] = guard
            try:
                await self._handle(scope, guard.guarded_receive, guard.guarded_send)
            finally:
                with contextlib.suppress(Exception):  # the client went away: nothing left to protect
                    await guard.drain()
            return
        await self._handle(scope, receive, send)

    async def _handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for fast in self.fast_paths:
            if await fast(scope, receive, send):
                return
        started = time.perf_counter()
        rid = header(scope, b"x-request-id")
        request_id = rid if rid and valid_request_id(rid) else self.rt.ids.new("req")
        method = scope["method"]
        write = method in WRITE_METHODS
        client = scope.get("client")
        st = RequestState(request_id, self.rt.uow_factory(write=write), client[0] if client else "")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["gharart"] = st
        status_box = [500]
        extra_headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        path = scope.get("path", "")
        await st.uow.__aenter__()
        try:
            if is_api(path):
                try:
                    throttled = await self._throttle(scope, st)
                except DomainError as exc:
                    status_box[0] = await self._send_problem(send, exc, request_id, extra_headers, scope)
                    return
                if throttled is not None:
                    extra_headers += [(k.lower().encode(), v.encode()) for k, v in throttled.items()]
            if write:
                status_box[0] = await self._write(scope, receive, send, st, extra_headers)
            else:
                status_box[0] = await self._read(scope, receive, send, st, extra_headers)
        finally:
            try:
                await st.uow.__aexit__(None, None, None)
            finally:
                await self._observe(scope, st, status_box[0], started)

    # -- throttles ---------------------------------------------------------
    async def _throttle(self, scope: dict[str, Any], st: RequestState) -> dict[str, str] | None:
        auth = header(scope, b"authorization")
        if auth:
            key = self._actor_keys.get(auth)
            if key is None:
                key = "tok:" + sha256_hex(auth)[:24]
                if len(self._actor_keys) > 10_000:
                    self._actor_keys.clear()
                self._actor_keys[auth] = key
            st.actor_key = key
        else:
            key = "ip:" + st.client_ip
        res = await self.rt.throttle("api", key)
        if res is None:
            return None
        limit, left, _wait = res
        return rate_limit_headers(limit, left, (limit.burst - left) / limit.per_second)

    # -- reads -------------------------------------------------------------
    async def _head(self, scope: dict[str, Any], receive: Receive, send: Send, st: RequestState,
                    extra: list[tuple[bytes, bytes]]) -> int:
        """HEAD on a GET-only route answers like GET without the body (RFC 9110 §9.3.2) instead of 405."""
        captured = Captured()

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured.start = message

        def no_body() -> Receive:
            # An empty request, then "disconnected": a streamed GET body stops after its start message.
            sent = [False]

            async def receive_() -> dict[str, Any]:
                if not sent[0]:
                    sent[0] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                return {"type": "http.disconnect"}
            return receive_

        await self.app(scope, no_body(), capture)
        if captured.status == 405:
            captured = Captured()
            await self.app({**scope, "method": "GET"}, no_body(), capture)
        if captured.status < 400:
            try:
                await st.uow.commit()
            except Exception:
                log.exception("commit failed on read")
        else:
            await st.uow.rollback()
        await send({"type": "http.response.start", "status": captured.status,
                    "headers": one_charset(captured.headers()) + extra})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return captured.status

    async def _read(self, scope: dict[str, Any], receive: Receive, send: Send, st: RequestState,
                    extra: list[tuple[bytes, bytes]]) -> int:
        if scope["method"] == "HEAD" and scope.get("path", "").startswith(_HEAD_AS_GET):
            return await self._head(scope, receive, send, st, extra)
        status = [500]
        replaced = [False]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if replaced[0]:
                return  # the app's own answer to a timed-out body is dropped
            if message["type"] == "http.response.start":
                if timed_out(scope):
                    replaced[0] = True
                    await st.uow.rollback()
                    status[0] = await self._send_timeout(send, st, extra)
                    return
                status[0] = int(message["status"])
                if status[0] < 400:
                    try:
                        await st.uow.commit()
                    except Exception:
                        log.exception("commit failed on read")
                else:
                    await st.uow.rollback()
                message = dict(message)
                message["headers"] = one_charset(list(message.get("headers", []))) + extra
            await send(message)

        await self.app(scope, receive, send_wrapper)
        return status[0]

    # -- problems ----------------------------------------------------------
    async def _send_problem(self, send: Send, exc: DomainError, request_id: str,
                            extra: list[tuple[bytes, bytes]], scope: dict[str, Any]) -> int:
        status = STATUS_BY_KIND.get(exc.kind, 400)
        body = problem_body(status, exc.code, exc.detail, request_id=request_id, extra=exc.extra)
        headers = [(b"content-type", PROBLEM_JSON.encode())]
        if isinstance(exc, RateLimited):
            headers.append((b"retry-after", str(max(1, exc.retry_after)).encode()))
        for k, v in (getattr(exc, "headers", None) or {}).items():
            headers.append((k.lower().encode(), v.encode()))
        scope.setdefault("state", {})["problem_code"] = exc.code
        st_obj = scope["state"].get("gharart")
        if st_obj is not None:
            st_obj.problem_code = exc.code
        await send({"type": "http.response.start", "status": status, "headers": headers + extra})
        await send({"type": "http.response.body", "body": problem_bytes(body)})
        return status

    # -- observation -------------------------------------------------------
    async def _observe(self, scope: dict[str, Any], st: RequestState, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = scope.get("path_template") or "unmatched"
        method = scope["method"]
        self.rt.metrics.observe(route, method, status, elapsed)
        path = scope.get("path", "")
        if not is_api(path) and not path.startswith(("/profiles/", "/_edge/")):
            return
        code = (st.problem_code or scope.get("state", {}).get("problem_code")) if status >= 400 else None
        principal = st.principal
        entry = RequestLogEntry(
            request_id=st.request_id, at=self.rt.clock.now(), method=method, route=f"{method} {route}",
            path=path[:2048], status=status, code=code, actor_id=principal.user_id if principal else None,
            handle=st.handle, duration_ms=round(elapsed * 1000, 3))
        if status >= 400 or method in WRITE_METHODS:
            await self.rt.request_log.write_now(entry)
        else:
            self.rt.request_log.add(entry)


async def drain(rt: Runtime) -> None:
    await rt.request_log.flush()
    await asyncio.sleep(0)
