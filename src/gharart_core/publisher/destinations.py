"""Built-in publishing destinations: ``site`` (a new deployment of the handle's site) and
``webhook`` (a JSON POST through the SSRF-guarded fetcher)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..identity.model import HandleAccess, Role
from ..shared.errors import DomainError, FieldError, ValidationFailed
from .model import PublishingRecord
from .ports import DeliveryResult, PublisherUoW, SitesGateway, WebhookResponse, WebhookTransport

__all__ = ["MAX_CONTENT_CHARS", "FetcherTransport", "SiteDestination", "WebhookDestination", "validate_site_path"]

MAX_CONTENT_CHARS = 1_000_000
_URL_MAX = 2048
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")
_RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "idempotency-key", "transfer-encoding",
                               "connection"})


def _fail(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(errors=[FieldError(field, code, message)])


def validate_site_path(path: object, field: str = "config.path") -> str:
    """A manifest path as SPEC A.3 defines it: relative, no ``..``, no empty segments, no ``\\``."""
    if not isinstance(path, str) or not path or len(path) > 512:
        raise _fail(field, "invalid", "A path is a relative file path such as `blog/post.html`.")
    segments = path.split("/")
    if (path.startswith("/") or "\\" in path or any(s in ("", ".", "..") for s in segments)
            or any(ord(c) < 32 for c in path)):
        raise _fail(field, "invalid", "A path is relative, without `..`, empty segments or `\\`.")
    return path


def _content(content: str | None, *, required: bool) -> None:
    if content is None:
        if required:
            raise _fail("content", "required", "This field is required for this destination.")
        return
    if len(content) > MAX_CONTENT_CHARS:
        raise _fail("content", "max_length", f"Ensure this field has no more than {MAX_CONTENT_CHARS} characters.")


class SiteDestination:
    """Publishes the content as one file of a new deployment of the record's site.

    The new deployment carries the live deployment's files plus this one, so the site keeps
    every page it had. Config: ``path`` (default ``content/{content_id}.html``), ``content_type``
    (default ``text/html; charset=utf-8``), ``promote`` (default false: the page is reachable on
    the deployment's preview URL; true also makes the deployment live and needs the admin role).
    """

    name = "site"

    def __init__(self, sites: SitesGateway) -> None:
        self.sites = sites

    def validate(self, config: Mapping[str, Any], content: str | None, *, complete: bool = True
                 ) -> Mapping[str, Any]:
        _content(content, required=complete)
        out: dict[str, Any] = {}
        if config.get("path") is not None:
            out["path"] = validate_site_path(config["path"])
        ctype = config.get("content_type", "text/html; charset=utf-8")
        if not isinstance(ctype, str) or not ctype or len(ctype) > 200 or "/" not in ctype:
            raise _fail("config.content_type", "invalid", "Not a valid media type.")
        out["content_type"] = ctype
        promote = config.get("promote", False)
        if not isinstance(promote, bool):
            raise _fail("config.promote", "invalid", "Must be a valid boolean.")
        out["promote"] = promote
        return out

    def check_access(self, access: HandleAccess, config: Mapping[str, Any]) -> None:
        if config.get("promote") and (access.role is None or access.role < Role.ADMIN):
            raise _fail("config.promote", "forbidden_role", "Promoting a deployment needs the admin role.")

    async def deliver(self, uow: PublisherUoW, access: HandleAccess, record: PublishingRecord,
                      content: str | None) -> DeliveryResult:
        path = record.config.get("path") or f"content/{_safe(record.content_id)}.html"
        data = (content or "").encode("utf-8")
        ctype = str(record.config.get("content_type", "text/html; charset=utf-8"))
        message = f"publish {record.content_id}" + (f": {record.title}" if record.title else "")
        try:
            dep = await self.sites.create(uow, access, files={path: (data, ctype)}, message=message[:500],
                                          base_on_live=True)
            if record.config.get("promote"):
                dep = await self.sites.promote(uow, access, dep.id)
        except DomainError as exc:
            return DeliveryResult(ok=False, error=f"{exc.code}: {exc.detail}")
        if dep.status != "deployed":
            return DeliveryResult(ok=False, error=f"deployment {dep.id} is {dep.status}")
        return DeliveryResult(ok=True, external_url=self.sites.file_url(record.site_id, dep.id, path))


def _safe(content_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", content_id).strip(".") or "item"


class WebhookDestination:
    """POSTs a JSON event to ``config.url``. The request carries ``Idempotency-Key: <record id>``
    on every attempt so the receiver can drop duplicates; 2xx is success, anything else (or no
    answer, or an address the SSRF guard blocks) is a failed attempt."""

    name = "webhook"

    def __init__(self, transport: WebhookTransport) -> None:
        self.transport = transport

    def validate(self, config: Mapping[str, Any], content: str | None, *, complete: bool = True
                 ) -> Mapping[str, Any]:
        _content(content, required=False)
        url = config.get("url")
        if url is None:
            if not complete:
                return self._headers(config)
            raise _fail("config.url", "required", "This field is required for a webhook destination.")
        if not isinstance(url, str) or len(url) > _URL_MAX or any(ord(c) < 33 for c in url):
            raise _fail("config.url", "invalid_url", "Enter a valid URL.")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise _fail("config.url", "invalid_url", "Enter a valid http(s) URL without credentials.")
        return {"url": url, **self._headers(config)}

    @staticmethod
    def _headers(config: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        headers = config.get("headers")
        if headers is not None:
            if not isinstance(headers, dict) or len(headers) > 20:
                raise _fail("config.headers", "invalid", "Headers are an object of at most 20 string values.")
            clean = {}
            for k, v in headers.items():
                if (not isinstance(k, str) or not _HEADER_NAME.match(k) or k.lower() in _RESERVED_HEADERS
                        or not isinstance(v, str) or len(v) > 1024 or any(ord(c) < 32 for c in v)):
                    raise _fail(f"config.headers.{k}", "invalid", "Not an allowed header.")
                clean[k] = v
            out["headers"] = clean
        return out

    async def deliver(self, uow: PublisherUoW, access: HandleAccess, record: PublishingRecord,
                      content: str | None) -> DeliveryResult:
        event = {
            "event": "content.publish",
            "publishing_record_id": record.id,
            "attempt": record.attempts,
            "account_id": record.account_id,
            "site_id": record.site_id,
            "sector_id": record.sector_id,
            "content_id": record.content_id,
            "title": record.title,
            "content": content,
        }
        headers = dict(record.config.get("headers") or {})
        headers.update({"Content-Type": "application/json", "Idempotency-Key": record.id,
                        "X-Gharart-Attempt": str(record.attempts)})
        body = json.dumps(event, separators=(",", ":")).encode()
        answer = await self.transport.post(str(record.config["url"]), body, headers)
        if answer.status is None:
            return DeliveryResult(ok=False, error=f"webhook not delivered: {answer.error or 'connection_error'}")
        if not 200 <= answer.status < 300:
            return DeliveryResult(ok=False, error=f"webhook answered HTTP {answer.status}")
        return DeliveryResult(ok=True, external_url=_external_url(answer.body_excerpt))


USER_AGENT = "GharartPublisher/1.0"


def _external_url(body: str) -> str | None:
    """The published URL when the receiver names one (``external_url``, ``url`` or ``link``)."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    if isinstance(data, dict):
        if isinstance(data.get("data"), dict):
            data = {**data["data"], **data}
        for key in ("external_url", "url", "link"):
            value = data.get(key)
            if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) <= _URL_MAX:
                return value
    return None



class FetcherTransport:
    """:class:`WebhookTransport` over the shared SSRF-guarded ``Fetcher`` port (links area).

    Webhook POSTs follow no redirects (a 3xx is a failed attempt, never a re-POST elsewhere) and
    read at most 64 KiB of the answer. A fetch that gets no answer (``FetchError``: ``blocked``,
    ``timeout``, ``dns_error``...) becomes a ``WebhookResponse`` carrying that error kind.
    """

    def __init__(self, fetcher: Any, *, timeout: float = 10.0) -> None:
        self.fetcher = fetcher
        self.timeout = timeout

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> WebhookResponse:
        try:
            answer = await self.fetcher.fetch(
                url, method="POST", body=body, headers={"User-Agent": USER_AGENT, **headers},
                timeout=self.timeout, follow_redirects=False, max_redirects=0, max_body=64 * 1024)
        except Exception as exc:
            kind = getattr(exc, "kind", None)
            if not isinstance(kind, str):
                raise
            return WebhookResponse(None, kind)
        raw = answer.body if isinstance(answer.body, bytes) else b""
        return WebhookResponse(int(answer.status), None, raw.decode("utf-8", "replace")[:65536])
