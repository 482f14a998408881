"""The write half of the ASGI middleware: buffered answers committed with the unit of work,
Idempotency-Key reservation, replay and release, and the raw problems it answers itself
(including 408 ``request_timeout`` for a body that stalled)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from gharart_core.shared.errors import DomainError
from gharart_core.shared.idempotency import (
    IDEMPOTENCY_TTL,
    Decision,
    IdempotencyRecord,
    IdempotencyState,
    body_fingerprint,
    decide,
)

from .asgi_parts import GUARD_KEY, Captured, Receive, Send, header, is_api, multipart_boundary, one_charset
from .context import RequestState, resolve_principal
from .problems import PROBLEM_JSON, problem_body, problem_bytes
from .runtime import Runtime

__all__ = ["FINGERPRINT_BYTES", "LOCK_LEASE", "WritesMixin", "timed_out"]

log = logging.getLogger("gharart.http")

FINGERPRINT_BYTES = 1024 * 1024
LOCK_LEASE = timedelta(minutes=5)


def timed_out(scope: dict[str, Any]) -> bool:
    """Whether the request body stalled longer than ``GHARART_BODY_TIMEOUT_S`` (see ``BodyGuard``)."""
    guard = scope.get("state", {}).get(GUARD_KEY)
    return guard is not None and bool(guard.timed_out)


class WritesMixin:
    app: Any
    rt: Runtime

    async def _write(self, scope: dict[str, Any], receive: Receive, send: Send, st: RequestState,
                     extra: list[tuple[bytes, bytes]]) -> int:
        key = header(scope, b"idempotency-key")
        if key is None or not is_api(scope.get("path", "")):
            captured = await self._run(scope, receive)
            if timed_out(scope):
                await st.uow.rollback()
                return await self._send_timeout(send, st, extra)
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
        if timed_out(scope):  # stalled before the key was taken: nothing to release
            return await self._send_timeout(send, st, extra)
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
        if timed_out(scope):  # the app saw a disconnect half-way: undo it and free the key for a retry
            await st.uow.rollback()
            await self._release(actor, route, key)
            return await self._send_timeout(send, st, extra)
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

    # -- problems the middleware answers itself ---------------------------
    async def _send_timeout(self, send: Send, st: RequestState, extra: list[tuple[bytes, bytes]]) -> int:
        seconds = getattr(self.rt.settings, "body_timeout_s", 0)
        return await self._send_raw_problem(
            send, 408, "request_timeout",
            f"The request body stalled for more than {seconds:g} s; nothing was saved. Send it again.",
            st, [*extra, (b"connection", b"close")])

    async def _send_raw_problem(self, send: Send, status: int, code: str, detail: str, st: RequestState,
                                extra: list[tuple[bytes, bytes]]) -> int:
        body = problem_body(status, code, detail, request_id=st.request_id)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", PROBLEM_JSON.encode()), *extra]})
        await send({"type": "http.response.body", "body": problem_bytes(body)})
        st.problem_code = code
        return status
