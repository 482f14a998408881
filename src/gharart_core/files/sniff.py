"""Content sniffing and the declared-vs-sniffed check (pure).

Only confident signatures count. A declared type that contradicts a confident sniff is refused
(422 ``content_type_mismatch``): an HTML page declared as ``image/png`` is the classic way to
smuggle active content past a type check.
"""

from __future__ import annotations

import re

__all__ = ["SNIFF_BYTES", "is_media_type", "normalize_type", "sniff", "types_compatible"]

SNIFF_BYTES = 512

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"PK\x05\x06", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "application/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
    (b"wOFF", 0, "font/woff"),
    (b"wOF2", 0, "font/woff2"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"BM", 0, "image/bmp"),
)

# Families of types that are the same container or that clients commonly declare for it.
_FAMILIES: dict[str, frozenset[str]] = {
    "application/zip": frozenset(
        {
            "application/zip",
            "application/x-zip-compressed",
            "application/java-archive",
            "application/epub+zip",
            "application/vnd.android.package-archive",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.presentation",
            "application/vnd.sketch",
            "application/x-zip",
            "model/vnd.usdz+zip",
            "application/vnd.google-earth.kmz",
        }
    ),
    "application/gzip": frozenset(
        {
            "application/gzip",
            "application/x-gzip",
            "application/x-tar",
            "application/x-compressed-tar",
            "application/tar+gzip",
        }
    ),
    "image/jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "image/x-icon": frozenset({"image/x-icon", "image/vnd.microsoft.icon"}),
    "audio/mpeg": frozenset({"audio/mpeg", "audio/mp3"}),
    "application/ogg": frozenset({"application/ogg", "audio/ogg", "video/ogg", "audio/opus"}),
    "video/webm": frozenset({"video/webm", "audio/webm", "video/x-matroska"}),
    "video/mp4": frozenset(
        {
            "video/mp4",
            "audio/mp4",
            "video/quicktime",
            "image/heic",
            "image/heif",
            "image/avif",
            "audio/x-m4a",
            "video/3gpp",
        }
    ),
    "image/webp": frozenset({"image/webp"}),
    "audio/wav": frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"}),
    "image/bmp": frozenset({"image/bmp", "image/x-ms-bmp"}),
    "text/html": frozenset({"text/html", "application/xhtml+xml"}),
    "image/svg+xml": frozenset({"image/svg+xml"}),
    "application/xml": frozenset(
        {
            "application/xml",
            "text/xml",
            "image/svg+xml",
            "application/rss+xml",
            "application/atom+xml",
            "application/xhtml+xml",
        }
    ),
}

_GENERIC = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown", "application/x-unknown"}
)


_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


def normalize_type(value: str | None) -> str:
    """Lowercase media type without parameters (``text/html; charset=x`` -> ``text/html``).

    Anything that is not a ``type/subtype`` pair of RFC 9110 tokens (control characters, spaces,
    a bare word) counts as not declared: it could never be sent back as a ``Content-Type``.
    """
    if not value:
        return ""
    base = value.split(";", 1)[0].strip().lower()
    return base if _MEDIA_TYPE.match(base) else ""


def is_media_type(value: str | None) -> bool:
    return bool(value) and normalize_type(value) == value


def sniff(head: bytes) -> str | None:
    """The confident type of content starting with ``head``, or ``None`` when unsure."""
    for magic, offset, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe")):
        return "text/html"
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "image/svg+xml"
    if text.startswith(b"<?xml"):
        return "application/xml"
    return None


def types_compatible(declared: str, sniffed: str | None) -> bool:
    """True unless ``declared`` contradicts a confident ``sniffed`` type."""
    declared = normalize_type(declared)
    if sniffed is None or declared in _GENERIC or declared == sniffed:
        return True
    family = _FAMILIES.get(sniffed)
    if family is not None and declared in family:
        return True
    # text/plain for markup is a downgrade (served as an attachment anyway), not a smuggle
    return declared == "text/plain" and sniffed in ("application/xml",)
