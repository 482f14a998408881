"""File names, tags, timestamps and content sniffing (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gharart_core.files.model import (
    content_disposition,
    parse_expires_at,
    parse_mode,
    parse_tags,
    sanitize_name,
)
from gharart_core.files.sniff import sniff, types_compatible
from gharart_core.shared.errors import ValidationFailed


@given(st.text(max_size=2000))
def test_sanitized_names_are_safe(raw):
    name = sanitize_name(raw)
    assert 1 <= len(name) <= 255
    assert "/" not in name and "\\" not in name
    assert all(ord(c) >= 32 and c not in "\u202e\u200b\x7f" for c in name)
    assert name not in (".", "..") and not name.startswith(".")


def test_sanitize_examples():
    assert sanitize_name("../../etc/passwd") == "passwd"
    assert sanitize_name("C:\\Users\\x\\kit.pdf") == "kit.pdf"
    assert sanitize_name("evil\u202efdp.exe") == "evilfdp.exe"
    assert sanitize_name("..") == "file"
    assert sanitize_name("a" * 300 + ".png").endswith(".png")


@given(st.text(max_size=300))
def test_content_disposition_is_a_single_safe_header(raw):
    value = content_disposition(sanitize_name(raw))
    assert value.startswith("attachment; ")
    assert "\r" not in value and "\n" not in value
    assert all(32 <= ord(c) < 127 for c in value)


def test_field_parsers():
    assert parse_tags("q3, kits ,q3") == ("q3", "kits")
    assert parse_tags(["a"]) == ("a",)
    for bad in (5, ["x|y"], ["a" * 51], [1]):
        try:
            parse_tags(bad)
        except ValidationFailed as exc:
            assert exc.errors
        else:
            raise AssertionError(bad)
    assert parse_expires_at(None) is None and parse_expires_at("") is None
    assert parse_expires_at("2026-01-01T00:00:00Z").year == 2026
    for bad in ("tomorrow", 5, "2026-01-01", "2026-01-01T00:00:00"):
        try:
            parse_expires_at(bad)
        except ValidationFailed as exc:
            assert exc.errors[0].code == "invalid_timestamp"
        else:
            raise AssertionError(bad)
    try:
        parse_mode("secret")
    except ValidationFailed as exc:
        assert exc.errors[0].field == "mode"


def test_sniff_and_compatibility():
    assert sniff(b"\x89PNG\r\n\x1a\nxxxx") == "image/png"
    assert sniff(b"%PDF-1.7") == "application/pdf"
    assert sniff(b"  <!DOCTYPE html><p>") == "text/html"
    assert sniff(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">') == "image/svg+xml"
    assert sniff(b"plain words") is None
    assert types_compatible("image/png", "image/png")
    assert types_compatible("application/octet-stream", "text/html")
    assert types_compatible("text/plain", None)
    assert types_compatible(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"
    )
    assert not types_compatible("image/png", "text/html")
    assert not types_compatible("image/jpeg", "image/svg+xml")
    assert not types_compatible("application/pdf", "image/png")
