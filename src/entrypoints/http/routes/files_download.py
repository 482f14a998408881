"""The public download route ``GET|HEAD /v2/public/files/{fileId}`` (SPEC §7, A.4).

The core decides and logs every attempt (``FilesService.open_download``); an allowed one is
answered here: ``304`` for a matching ``If-None-Match``, ``206``/``416`` for ``Range``, else the
whole file. With ``GHARART_S3_PRESIGNED_DOWNLOADS`` on and an S3 store, an allowed plain ``GET``
(no ``Range``) is a ``302`` to a presigned bucket URL instead of streaming the bytes; ``HEAD`` and
``Range`` requests are always answered here (docs/decisions/files-presigned-downloads.md).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from litestar import Response, route
from litestar.response import Stream

from gharart_core.files.downloads import download_media_type
from gharart_core.files.model import FileMode, content_disposition
from gharart_core.shared.ports import ObjectStore

from ...settings import presigned_download_ttl
from ..context import RequestContext
from ..problems import PROBLEM_JSON, problem_body, problem_bytes

__all__ = ["download_file", "on_startup"]


async def on_startup(runtime: Any) -> None:
    """Refuse to start with a bad ``GHARART_S3_PRESIGN_TTL_S`` rather than fail on a download."""
    presigned_download_ttl(runtime.settings.extra)


_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive; None for "send everything"; "unsatisfiable" for a 416."""
    if not header:
        return None
    m = _RANGE_RE.match(header)
    if not m:
        return None  # multiple or unknown ranges: a full answer is always allowed
    first, last = m.group(1), m.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignore the header (RFC 9110 §14.2)
    if start >= size:
        return "unsatisfiable"
    return start, end


async def _stream(store: ObjectStore, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
    async for chunk in store.get_stream(key, start=start, end=end, chunk_size=256 * 1024):
        yield chunk


async def _empty(_: Any = None) -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@route("/v2/public/files/{file_id:str}", http_method=["GET", "HEAD"], tags=["public-files"])
async def download_file(file_id: str, ctx: RequestContext) -> Response[Any]:
    """Download (GET) or only its headers (HEAD: link checkers, download managers)."""
    return await _download(file_id, ctx, head=ctx.request.method == "HEAD")


async def _download(file_id: str, ctx: RequestContext, *, head: bool) -> Response[Any]:
    token = ctx.request.query_params.get("token") or None
    service = ctx.container.files_service()
    f = await service.open_download(file_id, token, request_id=ctx.request_id)
    etag = f'"{f.sha256}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(f.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "public, no-cache" if f.mode is FileMode.PUBLIC else "private, no-store",
    }
    inm = ctx.request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or etag in [v.strip().removeprefix("W/") for v in inm.split(",")]):
        return Response(content=b"", status_code=304, headers=headers)
    rng_header = ctx.request.headers.get("range")
    if_range = ctx.request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        rng_header = None
    rng = _parse_range(rng_header, f.size)
    if rng == "unsatisfiable":
        body = problem_body(416, "range_not_satisfiable", f"The file has {f.size} bytes.", request_id=ctx.request_id)
        return Response(
            content=problem_bytes(body),
            status_code=416,
            media_type=PROBLEM_JSON,
            headers={"Content-Range": f"bytes */{f.size}"},
        )
    if not head and ctx.request.headers.get("range") is None:
        # every check passed and the access log has its entry: the bucket may serve the bytes
        url = await service.direct_download_url(f)
        if url is not None:
            return Response(content=b"", status_code=302, headers={
                "Location": url,
                "Cache-Control": "private, no-store",
                "Referrer-Policy": "no-referrer",
            })
    store = ctx.container.object_store()
    if rng is None:
        start, end, status = 0, None, 200
        headers["Content-Length"] = str(f.size)
    else:
        assert isinstance(rng, tuple)
        start, end = rng
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{f.size}"
        headers["Content-Length"] = str(end - start + 1)
    body = _empty() if head else _stream(store, f.object_key, start, end)
    return Stream(body, status_code=status, media_type=download_media_type(f), headers=headers)
