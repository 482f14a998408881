"""Destination URL validation: absolute http(s), IDNA hosts, no credentials or control characters.

The stored form is ASCII: hosts go through IDNA (UTS 46) and non-ASCII characters elsewhere are
percent-encoded, so the value can be sent as a ``Location`` header unchanged.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import idna

__all__ = [
    "MAX_URL_LENGTH",
    "NORMAL_URL_RE",
    "DestinationError",
    "host_of",
    "normalise_destination",
    "validate_destination",
]

MAX_URL_LENGTH = 2048
_SAFE = "!#$%&'()*+,/:;=?@[]~-._"
_LABEL_RE = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\Z")
_FORBIDDEN_RE = re.compile("[\x00-\x20\x7f-\x9f\u2028\u2029\ufeff\\\\]")
_NEEDS_QUOTING_RE = re.compile(r"[^A-Za-z0-9!#$%&'()*+,/:;=?@\[\]~\-._]")


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
# the common case, already in stored form: a lowercase ASCII host of at most 253 characters, no
# port, nothing to quote, no credentials, no brackets anywhere (anything else takes the full path)
NORMAL_URL_RE = re.compile(
    rf"^https?://(?=[^/?#]{{1,253}}(?:[/?#]|$))(?:{_LABEL}\.)*{_LABEL}(?:[/?#][A-Za-z0-9!#$%&'()*+,/:;=?@~\-._]*)?$")


class DestinationError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _host(host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise DestinationError("invalid_url", "the host is not a valid IPv6 literal")
        import ipaddress

        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise DestinationError("invalid_url", "the host is not a valid IPv6 literal") from exc
        return host.lower()
    if not host or host.startswith(".") or ".." in host:
        raise DestinationError("invalid_url", "the URL has no valid host")
    trailing = host.endswith(".")
    core = host[:-1] if trailing else host
    if core.isascii():
        ascii_host = core.lower()
    else:
        try:
            ascii_host = idna.encode(core, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise DestinationError("invalid_url", "the host is not a valid internationalised domain name") from exc
    for label in ascii_host.split("."):
        if not _LABEL_RE.match(label):
            raise DestinationError("invalid_url", "the host is not a valid domain name")
    if len(ascii_host) > 253:
        raise DestinationError("invalid_url", "the host name is too long")
    return ascii_host + ("." if trailing else "")


def validate_destination(url: str) -> str:
    """Return the normalised destination or raise :class:`DestinationError` with a field code."""
    if len(url) > MAX_URL_LENGTH:
        raise DestinationError("too_long", f"a destination is at most {MAX_URL_LENGTH} characters")
    if NORMAL_URL_RE.match(url) is not None:
        return url
    return normalise_destination(url)


def normalise_destination(url: str) -> str:
    """The full validation and normalisation (the general path of :func:`validate_destination`)."""
    if len(url) > MAX_URL_LENGTH:
        raise DestinationError("too_long", f"a destination is at most {MAX_URL_LENGTH} characters")
    bad = _FORBIDDEN_RE.search(url)
    if bad is not None:
        if bad.group() == "\\":
            raise DestinationError("invalid_url", "backslashes are not allowed in a URL")
        raise DestinationError("invalid_url", "control characters or spaces are not allowed in a URL")
    scheme, sep, _ = url.partition(":")
    if not sep:
        raise DestinationError("invalid_url", "the destination must be an absolute http(s) URL")
    if scheme.lower() in ("javascript", "data", "vbscript", "file"):
        raise DestinationError("invalid_url", f"the `{scheme.lower()}:` scheme is not allowed")
    if scheme.lower() not in ("http", "https"):
        raise DestinationError("invalid_url", "only http and https destinations are allowed")
    if not url[len(scheme) + 1:].startswith("//"):
        raise DestinationError("invalid_url", "the destination must be an absolute http(s) URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationError("invalid_url", "the URL could not be parsed") from exc
    netloc = parts.netloc
    if "@" in netloc:
        raise DestinationError("invalid_url", "credentials in a destination URL are not allowed")
    hostport = netloc
    host_text = hostport
    if hostport.startswith("["):
        end = hostport.find("]")
        host_text = hostport[: end + 1] if end != -1 else hostport
    elif ":" in hostport:
        host_text = hostport.rsplit(":", 1)[0]
    host = _host(host_text)
    if port is not None and not 0 < port <= 65535:
        raise DestinationError("invalid_url", "the port is out of range")
    if ":" in hostport[len(host_text):] and port is None:
        raise DestinationError("invalid_url", "the port is not a number")
    if url.isascii() and not _NEEDS_QUOTING_RE.search(url):
        return url  # valid and already ASCII: stored as the user wrote it
    new_netloc = host + (f":{port}" if port is not None else "")
    path, query, fragment = parts.path, parts.query, parts.fragment
    if _NEEDS_QUOTING_RE.search(url):
        path = quote(path, safe=_SAFE)
        query = quote(query, safe=_SAFE)
        fragment = quote(fragment, safe=_SAFE)
    out = urlunsplit((parts.scheme.lower(), new_netloc, path, query, fragment))
    if len(out) > MAX_URL_LENGTH:
        raise DestinationError("too_long", f"a destination is at most {MAX_URL_LENGTH} characters")
    return out


def host_of(url: str) -> str:
    """The (lowercase ASCII) host of a stored destination, without brackets for IPv6."""
    host = urlsplit(url).hostname or ""
    return host.lower()
