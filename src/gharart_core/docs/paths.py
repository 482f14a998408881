"""Doc path normalisation: one canonical form, everything ambiguous refused.

A canonical path starts with ``/``, has no trailing ``/`` (except the root), no empty,
``.`` or ``..`` segments, no percent escapes, no backslash, NUL or control characters, and
is NFC. Input may carry percent escapes: they are decoded exactly once, and an escape that
decodes to a separator (``%2f``, ``%5c``) or NUL is refused rather than decoded, so a
path can never change meaning between the check and the use.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from ..shared.errors import FieldError, ValidationFailed

__all__ = ["MAX_PATH", "InvalidPath", "is_under", "normalize_path", "path_prefixes"]

MAX_PATH = 1024
MAX_SEGMENT = 255
_ENCODED_FORBIDDEN = re.compile(r"%(?:2f|5c|00)", re.IGNORECASE)
# Look-alike separators some servers or file systems fold into "/" or "\".
_CONFUSABLE = frozenset("\u2215\u2044\uff0f\uff3c\u29f5\u29f8\u29f9\ufe68\u2216")


class InvalidPath(ValidationFailed):
    """422 ``invalid_path``."""

    def __init__(self, reason: str, field: str = "path") -> None:
        super().__init__("invalid_path", f"Invalid doc path: {reason}.",
                         errors=[FieldError(field, "invalid_path", reason)])
        self.reason = reason


def normalize_path(raw: object, field: str = "path") -> str:
    """Return the canonical form of ``raw`` or raise :class:`InvalidPath`."""
    if not isinstance(raw, str):
        raise InvalidPath("a path is a string", field)
    if raw == "" or len(raw) > MAX_PATH * 3:
        raise InvalidPath("empty or too long", field)
    if _ENCODED_FORBIDDEN.search(raw):
        raise InvalidPath("encoded separators or NUL are not allowed", field)
    try:
        text = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InvalidPath("escapes are not valid UTF-8", field) from None
    if "%" in text:
        raise InvalidPath("double-encoded or literal percent signs are not allowed", field)
    if "\\" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidPath("backslashes, NUL and control characters are not allowed", field)
    if any(c in _CONFUSABLE for c in text):
        raise InvalidPath("look-alike separators are not allowed", field)
    text = unicodedata.normalize("NFC", text)
    if not text.startswith("/"):
        text = "/" + text
    if "//" in text:
        raise InvalidPath("empty segments (double slashes) are not allowed", field)
    if len(text) > 1 and text.endswith("/"):
        text = text[:-1]
    if len(text) > MAX_PATH:
        raise InvalidPath(f"longer than {MAX_PATH} characters", field)
    if text != "/":
        for seg in text[1:].split("/"):
            if seg in (".", ".."):
                raise InvalidPath("`.` and `..` segments are not allowed", field)
            if len(seg) > MAX_SEGMENT:
                raise InvalidPath(f"a segment is longer than {MAX_SEGMENT} characters", field)
    return text


def is_under(prefix: str, path: str) -> bool:
    """Segment-boundary prefix test on canonical paths: ``/confidential`` is not under ``/conf``."""
    if prefix == "/":
        return True
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] == "/")


def path_prefixes(path: str) -> list[str]:
    """Every segment prefix of a canonical path, shortest first: ``/a/b`` -> ``/``, ``/a``, ``/a/b``."""
    if path == "/":
        return ["/"]
    out = ["/"]
    idx = 0
    while True:
        idx = path.find("/", idx + 1)
        if idx == -1:
            out.append(path)
            return out
        out.append(path[:idx])
