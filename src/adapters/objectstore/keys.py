"""Object keys: one validation rule shared by every object-store adapter.

A key is a relative, slash-separated path such as ``blobs/sha256/ab/abcdef…``. Keys often
carry user-supplied parts (file names, site paths), so every adapter refuses the same
dangerous shapes: absolute paths, ``.``/``..`` segments, empty segments, backslashes, NUL
and other control characters. Refusal is a 400 ``invalid_object_key``, never a 500.
"""

from __future__ import annotations

from gharart_core.shared.errors import BadRequest

__all__ = ["MAX_KEY_LENGTH", "check_key", "key_segments"]

MAX_KEY_LENGTH = 1024
_MAX_SEGMENT_BYTES = 255


def _refuse(key: object, why: str) -> BadRequest:
    return BadRequest("invalid_object_key", f"Object key refused: {why}.")


def key_segments(key: object) -> list[str]:
    """Return the path segments of a valid key; raise ``BadRequest`` otherwise."""
    if not isinstance(key, str) or not key:
        raise _refuse(key, "empty")
    if len(key) > MAX_KEY_LENGTH:
        raise _refuse(key, "too long")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise _refuse(key, "control character")
    if "\\" in key:
        raise _refuse(key, "backslash")
    if key.startswith("/"):
        raise _refuse(key, "absolute path")
    segments = key.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise _refuse(key, "empty, '.' or '..' segment")
        try:
            encoded = segment.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            raise _refuse(key, "not UTF-8") from None
        if len(encoded) > _MAX_SEGMENT_BYTES:
            raise _refuse(key, "segment too long")
    return segments


def check_key(key: object) -> str:
    key_segments(key)
    assert isinstance(key, str)
    return key
