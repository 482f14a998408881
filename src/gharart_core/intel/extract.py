"""Pure HTML link extraction and URL normalisation (stdlib ``html.parser``, tolerant of bad HTML)."""

from __future__ import annotations

import functools
import posixpath
import re
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import attrs

__all__ = ["Extracted", "extract_links", "host_of", "normalize_url", "origin_url", "path_of", "same_host"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# attributes that carry a URL to follow, per tag
_URL_ATTRS: dict[str, tuple[str, ...]] = {
    "a": ("href",),
    "area": ("href",),
    "link": ("href",),
    "script": ("src",),
    "img": ("src",),
    "source": ("src",),
    "iframe": ("src",),
}
_SRCSET_TAGS = frozenset({"img", "source"})
_MAX_TITLE = 500
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


@attrs.frozen
class Extracted:
    title: str | None
    links: tuple[str, ...]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute, canonical ``http(s)`` URL without fragment, or None when it is not crawlable.

    Lower-cases scheme and host, drops default ports and the fragment, resolves dot segments,
    turns an empty path into ``/`` and normalises percent-encoding; ``mailto:``, ``javascript:``,
    ``data:`` and URLs carrying credentials give None.
    """
    url = url.strip()
    if not url or _CONTROL.search(url):
        return None
    try:
        if base is None:
            joined = url
        elif url[0] == "/" and url[:2] != "//":
            joined = _origin(base) + url  # root-relative: the common case, no full RFC 3986 join needed
        else:
            joined = urljoin(base, url)
    except ValueError:
        return None
    return _canonical(joined)


@functools.lru_cache(maxsize=4096)
def _origin(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=65536)
def _canonical(joined: str) -> str | None:
    try:
        parts = urlsplit(joined)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        if parts.username is not None or parts.password is not None:
            return None
        host = parts.hostname.lower().rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    path = quote(unquote(path), safe=_SAFE_PATH)
    query = quote(unquote(parts.query), safe=_SAFE_QUERY) if parts.query else ""
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    """``host[:port]`` of a normalised URL."""
    return urlsplit(url).netloc


def path_of(url: str) -> str:
    """Path plus query of a URL (what a server routes on)."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def origin_url(scheme: str, hostname: str) -> str:
    url = normalize_url(f"{scheme}://{hostname}/")
    if url is None:
        raise ValueError(f"not a crawlable hostname: {hostname!r}")
    return url


def same_host(url: str, host: str) -> bool:
    """Same host, ignoring the port (a site's hostnames are matched without ports)."""
    parsed = urlsplit(url).hostname
    return parsed is not None and parsed.lower() == host.lower().split(":")[0].strip("[]")


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.raw: list[str] = []
        self.base: str | None = None
        self.title_parts: list[str] = []
        self.title_done = False
        self._in_title = False

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v for k, v in attrs_ if v is not None}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        for attr in _URL_ATTRS.get(tag, ()):
            if values.get(attr):
                self.raw.append(values[attr])
        if tag in _SRCSET_TAGS and values.get("srcset"):
            self.raw.extend(_srcset_urls(values["srcset"]))
        if tag == "title" and not self.title_done:
            self._in_title = True

    def handle_startendtag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs_)
        if tag == "title":
            self._in_title = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title_done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and sum(map(len, self.title_parts)) < _MAX_TITLE:
            self.title_parts.append(data)


def _srcset_urls(srcset: str) -> list[str]:
    """Candidate URLs of a ``srcset`` (``url [descriptor], ...``)."""
    out = []
    for candidate in srcset.split(","):
        bits = candidate.strip().split()
        if bits:
            out.append(bits[0])
    return out


def extract_links(body: bytes | str, page_url: str, charset: str | None = None) -> Extracted:
    """Title and outgoing links (absolute, normalised, deduplicated, in document order).

    Never raises on malformed markup: whatever the parser understood before the damage counts.
    """
    text = body if isinstance(body, str) else body.decode(charset or "utf-8", errors="replace")
    parser = _Parser()
    try:
        parser.feed(text)
        tail = parser.rawdata
        if tail.startswith("<") and ">" not in tail:
            # a tag cut off at the end of the document: close its quote and the tag, keep its URLs
            parser.feed(("'" if tail.count("'") % 2 else "") + ('"' if tail.count('"') % 2 else "") + ">")
        parser.close()
    except Exception:  # html.parser is lenient, but keep a crawl alive whatever the markup
        pass
    base = page_url
    if parser.base:
        base = normalize_url(parser.base, page_url) or page_url
    seen: dict[str, None] = {}
    for raw in parser.raw:
        url = normalize_url(raw, base)
        if url is not None:
            seen.setdefault(url, None)
    title = " ".join("".join(parser.title_parts).split())[:_MAX_TITLE] or None
    return Extracted(title=title, links=tuple(seen))
