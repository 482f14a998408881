"""HTTP routes for files and sharing (SPEC §7, A.4).

Uploads are parsed incrementally (``multipart.PushMultipartParser`` over ``request.stream()``) and
streamed into the object store by the core; the public download route is in ``files_download``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import multipart
from litestar import Response, delete, get, patch, post

from gharart_core.files.model import AccessLogEntry, File, Share
from gharart_core.files.service import UploadField, UploadFile
from gharart_core.shared.clock import format_ts
from gharart_core.shared.errors import BadRequest, FieldError, TooLarge, UnsupportedMedia, ValidationFailed

from ..context import RequestContext
from ..render import page, parse_limit
from .files_download import download_file
from .files_download import on_startup as on_startup

__all__ = ["ROUTES", "render_access", "render_file", "render_share"]

MAX_FIELD_BYTES = 64 * 1024
MULTIPART_SLACK = 1024 * 1024  # headers and small fields around the file part


# -- rendering -------------------------------------------------------------------------------------


def render_file(f: File, now: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "handle": f.handle,
        "name": f.name,
        "contentType": f.content_type,
        "size": f.size,
        "sha256": f.sha256,
        "mode": f.mode.value,
        "expiresAt": format_ts(f.expires_at),
        "accessVersion": f.access_version,
        "version": f.version,
        "tags": list(f.tags),
        "shareCount": f.share_count,
        "createdBy": f.created_by,
        "createdAt": format_ts(f.created_at),
        "updatedAt": format_ts(f.updated_at),
        "deletedAt": format_ts(f.deleted_at),
    }
    if now is not None:
        out["expired"] = f.is_expired(now)
    return out


def render_share(s: Share) -> dict[str, Any]:
    return {
        "id": s.id,
        "fileId": s.file_id,
        "email": s.email,
        "expiresAt": format_ts(s.expires_at),
        "note": s.note,
        "createdAt": format_ts(s.created_at),
        "revokedAt": format_ts(s.revoked_at),
    }


def render_access(e: AccessLogEntry) -> dict[str, Any]:
    return {
        "at": format_ts(e.at),
        "email": e.email,
        "shareId": e.share_id,
        "outcome": e.outcome,
        "requestId": e.request_id,
    }


# -- streaming multipart ---------------------------------------------------------------------------


def _boundary(content_type: str | None) -> str:
    ctype, options = multipart.parse_options_header(content_type or "")
    if ctype != "multipart/form-data":
        raise UnsupportedMedia("unsupported_media_type", "Upload files as multipart/form-data with a `file` part.")
    boundary = options.get("boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("malformed_body", "The multipart body has no usable boundary.")
    return str(boundary)


class MultipartStream:
    """Turns a byte stream into :class:`UploadField` / :class:`UploadFile` parts, incrementally.

    Memory stays bounded by the chunk size: file bodies are handed on chunk by chunk and never
    collected. Plain fields are capped at ``MAX_FIELD_BYTES``.
    """

    def __init__(self, stream: AsyncIterator[bytes], boundary: str) -> None:
        self.parser = multipart.PushMultipartParser(boundary, max_header_count=16, max_segment_count=64)
        self.stream = stream

    async def _events(self) -> AsyncIterator[Any]:
        try:
            async for chunk in self.stream:
                if chunk:
                    for event in self.parser.parse(chunk):
                        yield event
            for event in self.parser.parse(b""):
                yield event
            if not self.parser.closed or self.parser.error is not None:
                raise BadRequest("malformed_body", "The multipart body ended early.")
        except multipart.MultipartError as exc:
            raise BadRequest("malformed_body", f"The multipart body is malformed: {exc}"[:300]) from None

    async def parts(self) -> AsyncIterator[UploadField | UploadFile]:
        events = self._events()
        seen_any = False
        async for event in events:
            if not isinstance(event, multipart.MultipartSegment):
                continue  # body bytes of a part the consumer left early
            seen_any = True
            name = event.name or ""
            if event.filename is None and name != "file":
                buf = bytearray()
                async for ev in events:
                    if ev is None:
                        break
                    buf += ev
                    if len(buf) > MAX_FIELD_BYTES:
                        raise ValidationFailed(errors=[FieldError(name, "too_long", "form field too long")])
                try:
                    value = buf.decode(event.charset or "utf-8")
                except (UnicodeDecodeError, LookupError):
                    raise ValidationFailed(errors=[FieldError(name, "invalid_encoding", "not UTF-8")]) from None
                yield UploadField(name, value)
                continue
            done = [False]

            async def body(events: AsyncIterator[Any] = events, done: list[bool] = done) -> AsyncIterator[bytes]:
                async for ev in events:
                    if ev is None:
                        done[0] = True
                        return
                    yield bytes(ev)

            yield UploadFile(name, event.filename, event.content_type, body())
            if not done[0]:  # the consumer stopped early: skip the rest of this part
                async for ev in events:
                    if ev is None:
                        break
        if not seen_any:
            raise BadRequest("malformed_body", "The multipart body has no parts.")


# -- handle routes ---------------------------------------------------------------------------------


def _files(ctx: RequestContext) -> Any:
    return ctx.container.files_service()


@post("/v2/handles/{handle:str}/files", status_code=201, tags=["files"])
async def upload_file(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    service = _files(ctx)
    boundary = _boundary(ctx.request.headers.get("content-type"))
    declared = ctx.request.headers.get("content-length")
    too_big = service.max_file_bytes + MULTIPART_SLACK
    if declared and declared.isascii() and declared.isdigit() and int(declared) > too_big:
        raise TooLarge(
            "file_too_large",
            f"Files are limited to {service.max_file_bytes} bytes.",
            extra={"maxBytes": service.max_file_bytes},
        )
    parts = MultipartStream(ctx.request.stream(), boundary).parts()

    async def quota(size: int) -> None:
        await ctx.quota(access.handle, "file_bytes", size)

    f = await service.upload(ctx.uow, access, parts, quota=quota)
    return ctx.respond(
        render_file(f, ctx.clock.now()),
        status=201,
        etag=f.version,
        headers={"Location": f"/v2/handles/{access.handle}/files/{f.id}"},
    )


@get("/v2/handles/{handle:str}/files", tags=["files"])
async def list_files(handle: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    q = ctx.request.query_params
    result = await _files(ctx).list_files(
        ctx.uow,
        access,
        mode=q.get("mode"),
        expired=q.get("expired"),
        tag=q.get("tag"),
        cursor=q.get("cursor"),
        limit=parse_limit(q.get("limit")),
    )
    now = ctx.clock.now()
    return ctx.respond(page(result, lambda f: render_file(f, now)))


@get("/v2/handles/{handle:str}/files/{file_id:str}", tags=["files"])
async def get_file(handle: str, file_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    f = await _files(ctx).get(ctx.uow, access, file_id)
    return ctx.respond(render_file(f, ctx.clock.now()), etag=f.version)


@patch("/v2/handles/{handle:str}/files/{file_id:str}", tags=["files"])
async def update_file(handle: str, file_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    if_match = ctx.if_match()
    body = await ctx.json()
    f = await _files(ctx).update(ctx.uow, access, file_id, body, if_match=if_match)
    return ctx.respond(render_file(f, ctx.clock.now()), etag=f.version)


@delete("/v2/handles/{handle:str}/files/{file_id:str}", status_code=204, tags=["files"])
async def delete_file(handle: str, file_id: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await _files(ctx).delete(ctx.uow, access, file_id)


@post("/v2/handles/{handle:str}/files/{file_id:str}/shares", status_code=201, tags=["files"])
async def create_shares(handle: str, file_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    body = await ctx.json()
    shares = await _files(ctx).create_shares(ctx.uow, access, file_id, body, base_url=ctx.base_url)
    return ctx.respond({"items": [render_share(s) for s in shares], "nextCursor": None}, status=201)


@get("/v2/handles/{handle:str}/files/{file_id:str}/shares", tags=["files"])
async def list_shares(handle: str, file_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    q = ctx.request.query_params
    result = await _files(ctx).list_shares(
        ctx.uow, access, file_id, cursor=q.get("cursor"), limit=parse_limit(q.get("limit"))
    )
    return ctx.respond(page(result, render_share))


@delete("/v2/handles/{handle:str}/files/{file_id:str}/shares/{share_id:str}", status_code=204, tags=["files"])
async def revoke_share(handle: str, file_id: str, share_id: str, ctx: RequestContext) -> None:
    access = await ctx.access(handle)
    await _files(ctx).revoke_share(ctx.uow, access, file_id, share_id)


@get("/v2/handles/{handle:str}/files/{file_id:str}/access-log", tags=["files"])
async def access_log(handle: str, file_id: str, ctx: RequestContext) -> Response[Any]:
    access = await ctx.access(handle)
    q = ctx.request.query_params
    result = await _files(ctx).access_log(
        ctx.uow, access, file_id, cursor=q.get("cursor"), limit=parse_limit(q.get("limit"))
    )
    return ctx.respond(page(result, render_access))


# -- public routes ---------------------------------------------------------------------------------


@post("/v2/public/files/{file_id:str}/magic-link", status_code=202, tags=["public-files"])
async def request_magic_link(file_id: str, ctx: RequestContext) -> Response[Any]:
    """Always 202 for a well-formed body: whether a link was mailed is never revealed."""
    await ctx.throttle("magic_link", "ip:" + ctx.client_ip)
    raw = await ctx.body_bytes(16 * 1024)
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if body is None:
        raise BadRequest("malformed_body", 'Send a JSON body: {"email": "you@example.com"}.')
    service = _files(ctx)
    email = service.magic_link_email(body)
    await ctx.throttle("magic_link", "email:" + email.lower())  # same class, keyed per recipient
    await service.send_magic_link(ctx.uow, file_id, email, base_url=ctx.base_url)
    return ctx.respond({"status": "accepted"}, status=202)


ROUTES: list[Any] = [
    upload_file,
    list_files,
    get_file,
    update_file,
    delete_file,
    create_shares,
    list_shares,
    revoke_share,
    access_log,
    request_magic_link,
    download_file,
]
