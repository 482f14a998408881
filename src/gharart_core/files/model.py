"""Files and sharing: entities, value objects and field validation (SPEC §7, A.4)."""

from __future__ import annotations

import enum
import mimetypes
import re
import unicodedata
from datetime import datetime

import attrs

from ..shared.clock import parse_ts
from ..shared.errors import FieldError, ValidationFailed

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_TAGS",
    "AccessLogEntry",
    "File",
    "FileMode",
    "MagicLink",
    "Share",
    "content_disposition",
    "guess_type",
    "parse_expires_at",
    "parse_mode",
    "parse_tags",
    "sanitize_name",
    "validate_name",
    "validate_note",
]

MAX_NAME_LENGTH = 255
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_NOTE_LENGTH = 2000
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/+-]{0,49}\Z")


class FileMode(enum.Enum):
    """Who may download: members only, holders of a magic link, or anyone until expiry."""

    PRIVATE = "private"
    LINK = "link"
    PUBLIC = "public"


@attrs.frozen
class File:
    """An uploaded file. Bytes live in the object store under ``object_key`` (never the name).

    ``access_version`` moves only when ``mode`` changes; magic links are bound to it.
    ``version`` moves on every user edit (optimistic locking).
    """

    id: str
    handle: str
    name: str
    content_type: str
    size: int
    sha256: str
    mode: FileMode
    expires_at: datetime | None
    access_version: int
    version: int
    tags: tuple[str, ...]
    share_count: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    object_key: str
    deleted_at: datetime | None = None
    purged_at: datetime | None = None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@attrs.frozen
class Share:
    """A grant to one recipient; magic links are issued against it."""

    id: str
    file_id: str
    handle: str
    email: str
    expires_at: datetime | None
    note: str | None
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def is_live(self, now: datetime) -> bool:
        return not self.is_revoked and not self.is_expired(now)


@attrs.frozen
class MagicLink:
    """An issued magic-link token, stored only as its SHA-256.

    It is bound to the file's ``access_version`` at issue. It deliberately carries no expiry:
    the file's expiry and the share's expiry are always read live.
    """

    token_hash: str
    file_id: str
    share_id: str
    email: str
    access_version: int
    created_at: datetime


@attrs.frozen
class AccessLogEntry:
    id: str
    file_id: str
    handle: str
    at: datetime
    email: str | None
    share_id: str | None
    outcome: str
    request_id: str | None


# -- field validation ------------------------------------------------------------------------------


def parse_mode(value: object, field: str = "mode") -> FileMode:
    try:
        if not isinstance(value, str):
            raise ValueError
        return FileMode(value)
    except ValueError:
        raise ValidationFailed(
            errors=[FieldError(field, "invalid_choice", "mode must be one of private, link, public")]
        ) from None


def parse_expires_at(value: object, field: str = "expiresAt") -> datetime | None:
    """``None``/``""`` mean "no expiry". A time in the past is allowed: it expires the file now."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return parse_ts(value)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            errors=[FieldError(field, "invalid_timestamp", "expected an RFC 3339 timestamp with offset")]
        ) from None


def parse_tags(value: object, field: str = "tags") -> tuple[str, ...]:
    """Tags from a JSON list or a comma-separated string; stripped, deduplicated, order kept."""
    if value is None:
        return ()
    if isinstance(value, str):
        raw: list[object] = [t.strip() for t in value.split(",") if t.strip()]
    elif isinstance(value, list):
        raw = list(value)
    else:
        raise ValidationFailed(errors=[FieldError(field, "invalid_type", "tags must be a list of strings")])
    if len(raw) > MAX_TAGS:
        raise ValidationFailed(errors=[FieldError(field, "too_many", f"at most {MAX_TAGS} tags")])
    out: list[str] = []
    errors = []
    for i, tag in enumerate(raw):
        if not isinstance(tag, str):
            errors.append(FieldError(f"{field}.{i}", "invalid_type", "a tag is a string"))
            continue
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            errors.append(FieldError(f"{field}.{i}", "too_long", f"at most {MAX_TAG_LENGTH} characters"))
        elif not _TAG_RE.match(tag):
            errors.append(
                FieldError(f"{field}.{i}", "invalid_tag", "letters, digits, space and _ . : / + - only")
            )
        elif tag not in out:
            out.append(tag)
    if errors:
        raise ValidationFailed(errors=errors)
    return tuple(out)


def _strip_unsafe(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    # control, format (bidi overrides, zero-width), surrogates, private use, unassigned
    return "".join(c for c in text if unicodedata.category(c)[0] != "C")


def sanitize_name(value: str | None, fallback: str = "file") -> str:
    """A safe display/download name from a client-supplied file name.

    Keeps the last path segment only (no ``..`` or directories), drops control and
    invisible characters, trims dots and spaces at both ends and caps the length at
    255 characters, keeping the extension when it can.
    """
    if not value:
        return fallback
    text = _strip_unsafe(value)
    text = re.split(r"[/\\]", text)[-1]
    text = " ".join(text.split())  # collapse whitespace runs
    text = text.strip(" .")
    if not text:
        return fallback
    if len(text) > MAX_NAME_LENGTH:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            text = stem[: MAX_NAME_LENGTH - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:MAX_NAME_LENGTH]
    return text


def validate_name(value: object, field: str = "name") -> str:
    """An explicit ``name`` field: must be a non-empty string; stored sanitized."""
    if not isinstance(value, str):
        raise ValidationFailed(errors=[FieldError(field, "invalid_type", "name must be a string")])
    if not value.strip():
        raise ValidationFailed(errors=[FieldError(field, "required", "name must not be empty")])
    if len(value) > 4 * MAX_NAME_LENGTH:
        raise ValidationFailed(errors=[FieldError(field, "too_long", "name is far too long")])
    return sanitize_name(value)


def validate_note(value: object, field: str = "note") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed(errors=[FieldError(field, "invalid_type", "note must be a string")])
    if len(value) > MAX_NOTE_LENGTH:
        raise ValidationFailed(
            errors=[FieldError(field, "too_long", f"at most {MAX_NOTE_LENGTH} characters")]
        )
    return _strip_unsafe(value.replace("\r\n", "\n").replace("\n", " ")).strip() or None


def guess_type(name: str) -> str | None:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and an RFC 5987 UTF-8 name."""
    from urllib.parse import quote

    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "file"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"

