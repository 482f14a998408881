"""The ASGI layer around the Litestar app: request IDs, the request's unit of work, idempotency,
throttles, the request log and metrics.

It sits outside Litestar so it can buffer a write's response, commit the business transaction
together with the idempotency record, and only then send the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from gharart_core.shared.errors import DomainError, RateLimited
from gharart_core.shared.idempotency import (
    IDEMPOTENCY_TTL,
    Decision,
    IdempotencyRecord,
    IdempotencyState,
    body_fingerprint,
    decide,
)
from gharart_core.shared.ports import RequestLogEntry
from gharart_core.shared.tokens import sha256_hex

from .asgi_parts import (
    BodyGuard,
    Captured,
    Receive,
    Send,
    header,
    is_api,
    multipart_boundary,
    one_charset,
    valid_request_id,
)
from .context import RequestState, resolve_principal
from .problems import PROBLEM_JSON, STATUS_BY_KIND, problem_body, problem_bytes
from .runtime import Runtime, rate_limit_headers

__all__ = ["FastPath", "GharartMiddleware"]

log = logging.getLogger("gharart.http")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FINGERPRINT_BYTES = 1024 * 1024
LOCK_LEASE = timedelta(minutes=5)
# Paths whose GET-only routes also answer HEAD (served files and previews declare HEAD themselves).
_HEAD_AS_GET = ("/v2/", "/api/v1/", "/healthz", "/readyz", "/metrics", "/schema")
FastPath = Callable[[dict[str, Any], Any, Any], Awaitable[bool]]



class GharartMiddleware:
    def __init__(self, app: Any, runtime: Runtime, fast_paths: list[FastPath] | None = None) -> None:
        self.app = app
        self.rt = runtime
        self.fast_paths = list(fast_paths or [])
        self._actor_keys: dict[str, str] = {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["method"] in WRITE_METHODS or header(scope, b"content-length")
                                        or header(scope, b"transfer-encoding")):
            guard = BodyGuard(scope, receive, send)
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

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
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

    # -- writes ------------------------------------------------------------
    async def _write(self, scope: dict[str, Any], receive: Receive, send: Send, st: RequestState,
                     extra: list[tuple[bytes, bytes]]) -> int:
        key = header(scope, b"idempotency-key")
        if key is None or not is_api(scope.get("path", "")):
            captured = await self._run(scope, receive)
            if captured.status < 400:
                try:
                    await st.uow.commit()
                except Exception:
                    log.exception("commit failed")
                    await st.uow.rollback()
                    return await self._send_raw_problem(send, 500, "internal_error",
                                                        "The change could not be saved; retry.", st, extra)
            else:
                await st.uow.rollback()
            await self._send_captured(send, captured, extra)
            return captured.status
        return await self._idempotent(scope, receive, send, st, extra, key)

    async def _run(self, scope: dict[str, Any], receive: Receive) -> Captured:
        captured = Captured()

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured.start = message
            elif message["type"] == "http.response.body":
                captured.body.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return captured

    async def _send_captured(self, send: Send, captured: Captured, extra: list[tuple[bytes, bytes]],
                             replayed: bool = False) -> None:
        headers = one_charset(captured.headers()) + extra
        if replayed:
            headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": captured.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"".join(captured.body), "more_body": False})

    async def _idempotent(self, scope: dict[str, Any], receive: Receive, send: Send, st: RequestState,
                          extra: list[tuple[bytes, bytes]], key: str) -> int:
        if not key or len(key) > 255 or not all(32 <= ord(c) <= 126 for c in key):
            return await self._send_raw_problem(send, 400, "invalid_idempotency_key",
                                                "Idempotency-Key must be 1-255 printable ASCII characters.",
                                                st, extra)
        # Buffer (a prefix of) the body for the fingerprint, then replay it to the app.
        buffered: list[dict[str, Any]] = []
        size = 0
        more = True
        while more and size <= FINGERPRINT_BYTES:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            more = bool(message.get("more_body", False))
        prefix = b"".join(m.get("body", b"") for m in buffered if m["type"] == "http.request")
        boundary = multipart_boundary(header(scope, b"content-type"))
        if boundary:
            # clients pick a fresh multipart boundary per attempt: the same upload must still match
            prefix = prefix.replace(boundary, b"gharart-boundary")
        length = header(scope, b"content-length") or ""
        fingerprint = body_fingerprint(scope["method"], scope.get("path", ""),
                                       scope.get("query_string", b"").decode("latin-1"),
                                       prefix[:FINGERPRINT_BYTES] + (b"" if not more else f"|{length}".encode()))

        async def replay_receive() -> dict[str, Any]:
            if buffered:
                return buffered.pop(0)
            return await receive()

        actor = await self._actor(scope, st)
        route = f"{scope['method']} {scope.get('path', '')}"
        now = self.rt.clock.now()
        async with self.rt.uow_factory(write=True) as uow:
            existing = await uow.idempotency.get(actor, route, key)
            decision = decide(existing, fingerprint, now)
            if decision is Decision.PROCEED:
                record = IdempotencyRecord(actor, route, key, fingerprint, IdempotencyState.IN_FLIGHT, now,
                                           now + IDEMPOTENCY_TTL, now + self._lease())
                if not await uow.idempotency.reserve(record, replace=existing is not None):
                    decision = Decision.IN_PROGRESS
                else:
                    await uow.commit()
        if decision is Decision.REPLAY:
            assert existing is not None
            captured = Captured()
            captured.start = {"type": "http.response.start", "status": existing.status or 200,
                              "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in existing.headers]}
            captured.body = [existing.body]
            await self._send_captured(send, captured, extra, replayed=True)
            return existing.status or 200
        if decision is Decision.REUSED:
            return await self._send_raw_problem(
                send, 422, "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.", st, extra)
        if decision is Decision.IN_PROGRESS:
            return await self._send_raw_problem(
                send, 409, "idempotency_in_progress",
                "A request with this Idempotency-Key is still in progress; retry shortly.", st, extra)

        try:
            captured = await self._run(scope, replay_receive)
        except BaseException:
            await st.uow.rollback()
            await self._release(actor, route, key)
            raise
        stored_headers = tuple(
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in captured.headers()
            if k.lower() not in (b"x-request-id", b"ratelimit", b"ratelimit-policy", b"date", b"server"))
        done = IdempotencyRecord(actor, route, key, fingerprint, IdempotencyState.COMPLETED, now,
                                 now + IDEMPOTENCY_TTL, None, captured.status, stored_headers,
                                 b"".join(captured.body))
        status = captured.status
        if status < 400:
            try:
                await st.uow.idempotency.complete(done)
                await st.uow.commit()
            except Exception:
                log.exception("commit failed")
                await st.uow.rollback()
                await self._release(actor, route, key)
                return await self._send_raw_problem(send, 500, "internal_error",
                                                    "The change could not be saved; retry.", st, extra)
        else:
            await st.uow.rollback()
            if status >= 500 or status in (409, 429) or status == 401:
                await self._release(actor, route, key)
            else:
                async with self.rt.uow_factory(write=True) as uow:
                    await uow.idempotency.complete(done)
                    await uow.commit()
        await self._send_captured(send, captured, extra)
        return status

    def _lease(self) -> timedelta:
        seconds = getattr(self.rt.settings, "idempotency_lease_s", None)
        return timedelta(seconds=seconds) if seconds else LOCK_LEASE

    async def _release(self, actor: str, route: str, key: str) -> None:
        try:
            async with self.rt.uow_factory(write=True) as uow:
                await uow.idempotency.release(actor, route, key)
                await uow.commit()
        except Exception:
            log.exception("could not release an idempotency key")

    async def _actor(self, scope: dict[str, Any], st: RequestState) -> str:
        try:
            principal = await resolve_principal(self.rt, st, header(scope, b"authorization"))
        except DomainError:
            principal = None
        if principal is not None:
            return principal.user_id
        return st.actor_key or ("ip:" + st.client_ip)

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

    async def _send_raw_problem(self, send: Send, status: int, code: str, detail: str, st: RequestState,
                                extra: list[tuple[bytes, bytes]]) -> int:
        body = problem_body(status, code, detail, request_id=st.request_id)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), *extra]})
        await send({"type": "http.response.body", "body": problem_bytes(body)})
        st.problem_code = code
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
