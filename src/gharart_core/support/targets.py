"""Which public URLs of this service a content report may target (pure parsing).

Accepted shapes, on the service's public origin (``GHARART_PUBLIC_URL`` or the request's base
URL) or as a bare path:

- ``/l/{handle}/{slug}``                      -> link
- ``/profiles/{handle}[/...]``                -> profile (the whole published site)
- ``/v2/public/files/{fileId}``               -> file
- ``/_edge/docs/{handle}/{path}``             -> docs page
- any path on ``{handle}.{GHARART_SITE_DOMAIN}`` -> profile
- any path on another hostname -> ``hostname`` (a profile if a site has it as a verified custom
  hostname; the directory decides)

Whether the object exists is a separate lookup (``ArtifactDirectory.target_exists``).
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit

from ..identity.model import HANDLE_RE
from .model import ContentTarget

__all__ = ["parse_target"]

_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")
_FILE_ID_RE = re.compile(r"^fil_[0-9A-HJKMNP-TV-Z]{26}\Z")


def _origin(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname.lower()
    default = 443 if parts.scheme == "https" else 80
    return host, str(parts.port or default)


def _clean_path(raw: str) -> list[str] | None:
    path = unquote(raw)
    if "\x00" in path or "\\" in path:
        return None
    segments = [s for s in path.split("/") if s]
    if any(s in {".", ".."} for s in segments):
        return None
    return segments


def parse_target(
    url: str, *, base_urls: tuple[str, ...], site_domain: str | None = None
) -> ContentTarget | None:
    """Reduce ``url`` to a :class:`ContentTarget`, or None when it is not one of our URLs."""
    if not isinstance(url, str) or not url or len(url) > 2048 or any(c.isspace() for c in url):
        return None
    if url.startswith("/") and not url.startswith("//"):
        path = urlsplit(url).path
        host = None
    else:
        try:
            parts = urlsplit(url)
            origin = _origin(url)
        except ValueError:
            return None
        if origin is None:
            return None
        path = parts.path
        host = origin[0]
        ours = {o for o in (_origin(b) for b in base_urls) if o is not None}
        if origin not in ours:
            if site_domain:
                suffix = "." + site_domain.lower().strip(".")
                sub = host[: -len(suffix)] if host.endswith(suffix) else ""
                if sub and HANDLE_RE.match(sub):
                    return ContentTarget("profile", sub, "")
            # maybe a custom hostname bound to a site: only the sites area can tell
            return ContentTarget("hostname", None, host) if _HOST_RE.match(host) else None
    segments = _clean_path(path)
    if segments is None or not segments:
        return None
    head = segments[0]
    if head == "l" and len(segments) == 3 and HANDLE_RE.match(segments[1]):
        return ContentTarget("link", segments[1], segments[2])
    if head == "profiles" and len(segments) >= 2 and HANDLE_RE.match(segments[1]):
        return ContentTarget("profile", segments[1], "")
    if segments[:3] == ["v2", "public", "files"] and len(segments) >= 4 and _FILE_ID_RE.match(segments[3]):
        return ContentTarget("file", None, segments[3])
    if head == "_edge" and len(segments) >= 3 and segments[1] == "docs" and HANDLE_RE.match(segments[2]):
        page = posixpath.join(*segments[3:]) if len(segments) > 3 else ""
        return ContentTarget("docs", segments[2], page)
    return None
