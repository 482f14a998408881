"""The per-request context handlers receive as the ``ctx`` dependency."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
from litestar import Request, Response

from gharart_core.identity.model import HandleAccess, Principal
from gharart_core.shared.errors import (
    BadRequest,
    DomainError,
    FieldError,
    RateLimited,
    TooLarge,
    Unauthenticated,
    UnsupportedMedia,
    ValidationFailed,
)

from .auth import authenticate, bearer_token
from .runtime import Runtime, rate_limit_headers

__all__ = ["RequestContext", "RequestState", "provide_ctx"]

_ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')

QUOTA_SETTINGS = {
    "link_writes": "daily_link_writes",
    "deployments": "daily_deployments",
    "file_bytes": "daily_file_bytes",
}


MAX_JSON_DEPTH = 64
_INT64 = 2**63 - 1


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` nests at most ``limit`` arrays/objects deep (checked without recursion,
    so a hostile body cannot exhaust the stack later in validation, storage or rendering)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def oversized_integers(value: Any, limit: int = 5) -> list[FieldError]:
    """Integers no 64-bit column can hold, by dotted path (the first ``limit``)."""
    out: list[FieldError] = []
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack and len(out) < limit:
        item, path = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(item))
        elif isinstance(item, int) and not isinstance(item, bool) and not -_INT64 <= item <= _INT64:
            out.append(FieldError(path, "out_of_range", "the number is out of range"))
    return out


class RequestState:
    """What the middleware knows about a request; shared with the handler's context."""

    __slots__ = ("actor_key", "client_ip", "handle", "principal", "principal_error", "problem_code", "request_id",
                 "uow")

    def __init__(self, request_id: str, uow: Any, client_ip: str) -> None:
        self.request_id = request_id
        self.uow = uow
        self.client_ip = client_ip
        self.principal: Principal | None = None
        self.principal_error: DomainError | None = None
        self.actor_key: str | None = None
        self.handle: str | None = None
        self.problem_code: str | None = None


async def resolve_principal(rt: Runtime, st: RequestState, authorization: str | None) -> Principal | None:
    """Authenticate once per request; remembers the result (or the error) on the state."""
    if st.principal is not None:
        return st.principal
    if st.principal_error is not None:
        raise st.principal_error
    try:
        token = bearer_token(authorization)
        if token is None:
            return None
        st.principal = await authenticate(token, verifier=rt.verifier, identity=rt.identity,
                                          uow_factory=rt.uow_factory, user_cache=rt.user_cache,
                                          cache=rt.auth_cache, background=rt.background)
        return st.principal
    except DomainError as exc:
        st.principal_error = exc
        raise


class RequestContext:
    def __init__(self, request: Request[Any, Any, Any], rt: Runtime, st: RequestState) -> None:
        self.request = request
        self.rt = rt
        self.st = st
        self._throttles: dict[str, tuple[Any, float, float]] = {}

    # -- plumbing ----------------------------------------------------------
    @property
    def uow(self) -> Any:
        return self.st.uow

    @property
    def request_id(self) -> str:
        return self.st.request_id

    @property
    def container(self) -> Any:
        return self.rt.container

    @property
    def settings(self) -> Any:
        return self.rt.settings

    @property
    def clock(self) -> Any:
        return self.rt.clock

    @property
    def client_ip(self) -> str:
        return self.st.client_ip

    @property
    def base_url(self) -> str:
        if self.rt.settings.public_url:
            return self.rt.settings.public_url.rstrip("/")
        return str(self.request.base_url).rstrip("/")

    # -- identity ----------------------------------------------------------
    async def optional_principal(self) -> Principal | None:
        if self.st.principal is not None:
            return self.st.principal
        auth = None
        for k, v in self.request.scope.get("headers", ()):
            if k == b"authorization":
                auth = v.decode("latin-1")
                break
        return await resolve_principal(self.rt, self.st, auth)

    async def principal(self) -> Principal:
        p = await self.optional_principal()
        if p is None:
            raise Unauthenticated(detail="Authentication is required: send `Authorization: Bearer <token>`.")
        return p

    async def access(self, handle: str) -> HandleAccess:
        principal = await self.principal()
        self.st.handle = handle if isinstance(handle, str) and len(handle) <= 40 else None
        key = (principal.user_id, handle, principal.credential_id) if isinstance(handle, str) else None
        if key is not None and principal.kind == "pat":
            cached = self.rt.auth_cache.get_access(key)
            if cached is not None:
                return attrs.evolve(cached, request_id=self.request_id)
        async with self.rt.uow_factory(write=False) as uow:
            access = await self.rt.identity.resolve(uow, principal, handle, self.request_id)
        if key is not None and principal.kind == "pat":
            self.rt.auth_cache.put_access(key, access)
        return access

    def identity_changed(self) -> None:
        """Invalidate cached credentials/memberships once this request's transaction commits."""

        async def bump() -> None:
            self.rt.identity_changed()

        self.uow.after_commit(bump)

    # -- input -------------------------------------------------------------
    async def body_bytes(self, max_bytes: int | None = None) -> bytes:
        limit = max_bytes or self.rt.settings.max_json_bytes
        declared = self.request.headers.get("content-length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise TooLarge("body_too_large", f"The body is larger than {limit} bytes.")
        chunks = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge("body_too_large", f"The body is larger than {limit} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)

    async def json(self, *, max_bytes: int | None = None, required: bool = True) -> Any:
        ctype = (self.request.headers.get("content-type") or "").split(";")[0].strip().lower()
        raw = await self.body_bytes(max_bytes)
        if not raw.strip():
            if not required:
                return None
            raise BadRequest("malformed_body", "A JSON body is required.")
        if ctype and ctype != "application/json" and not ctype.endswith("+json"):
            raise UnsupportedMedia("unsupported_media_type", "Send the body as application/json.")
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("malformed_body", f"The body is not valid JSON: {exc}"[:300]) from exc
        except RecursionError as exc:
            raise BadRequest("malformed_body", f"The body nests deeper than {MAX_JSON_DEPTH} levels.") from exc
        if not json_depth_ok(value):
            raise BadRequest("malformed_body", f"The body nests deeper than {MAX_JSON_DEPTH} levels.")
        huge = oversized_integers(value)
        if huge:
            raise ValidationFailed(detail="A number in the body is out of range.", errors=huge)
        return value

    async def json_object(self, **kw: Any) -> dict[str, Any]:
        body = await self.json(**kw)
        if not isinstance(body, dict):
            raise ValidationFailed(detail="The body must be a JSON object.",
                                   errors=[FieldError("", "invalid_type", "expected an object")])
        return body

    def if_match(self) -> int | None:
        value = self.request.headers.get("if-match")
        if value is None:
            return None
        m = _ETAG_RE.match(value)
        if not m:
            raise BadRequest("invalid_if_match", 'If-Match takes a quoted version, e.g. "3".')
        return int(m.group(1))

    # -- limits ------------------------------------------------------------
    async def throttle(self, cls: str, key: str | None = None) -> None:
        """Take a token from ``cls``'s bucket (429 ``rate_limited`` when empty).

        The answer then carries that class's ``RateLimit-Policy``/``RateLimit`` headers; when a
        request takes several buckets of one class, the one with the fewest tokens left is reported.
        """
        taken = await self.rt.throttle(cls, key or self.client_ip)
        if taken is None:
            return
        previous = self._throttles.get(cls)
        if previous is None or taken[1] <= previous[1]:
            self._throttles[cls] = taken

    async def quota(self, handle: str, kind: str, amount: int = 1) -> None:
        """Count ``amount`` against the handle's daily ``kind`` quota in this request's transaction."""
        setting = QUOTA_SETTINGS.get(kind)
        limit = int(getattr(self.rt.settings, setting)) if setting else None
        if limit is None or amount <= 0:
            return
        now = self.rt.clock.now().astimezone(UTC)
        day = now.strftime("%Y-%m-%d")
        ok, used = await self.uow.quotas.add_daily(handle, kind, day, amount, limit)
        if not ok:
            reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            raise RateLimited(
                "daily_quota_exceeded",
                f"The daily `{kind}` quota of {limit} for `{handle}` is used up ({used} used).",
                retry_after=int((reset - now).total_seconds()) + 1,
                extra={"quota": kind, "limit": limit, "used": used,
                       "resetAt": reset.strftime("%Y-%m-%dT%H:%M:%SZ")})

    # -- output ------------------------------------------------------------
    def respond(self, data: Any, status: int = 200, *, etag: int | str | None = None,
                headers: dict[str, str] | None = None) -> Response[Any]:
        hdrs = dict(headers or {})
        for limit, left, wait in self._throttles.values():
            for name, value in rate_limit_headers(limit, left, wait).items():
                hdrs[name] = f"{hdrs[name]}, {value}" if name in hdrs else value
        if etag is not None:
            hdrs["ETag"] = f'"{etag}"'
        if status == 204:
            return Response(content=b"", status_code=204, headers=hdrs)
        return Response(content=json.dumps(data, separators=(",", ":"), default=str).encode(),
                        status_code=status, media_type="application/json", headers=hdrs)


def now_utc() -> datetime:
    return datetime.now(UTC)


def provide_ctx(request: Request[Any, Any, Any]) -> RequestContext:
    rt: Runtime = request.app.state.runtime
    st: RequestState | None = request.scope.get("state", {}).get("gharart")
    if st is None:  # a request that bypassed the middleware (internal use)
        st = RequestState(rt.ids.new("req"), rt.uow_factory(write=True), request.client.host if request.client else "")
        request.scope.setdefault("state", {})["gharart"] = st
    return RequestContext(request, rt, st)
