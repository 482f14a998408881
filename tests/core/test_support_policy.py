"""Audience boundaries, dedupe, the wrong-channel rule, validation and content targets (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.identity.model import Principal
from gharart_core.shared.errors import Forbidden, NotFound, ValidationFailed
from gharart_core.support.model import Priority, Queue, Report, Status
from gharart_core.support.policy import (
    Audience,
    audience_of,
    find_duplicate,
    require_end_user,
    require_operator,
    require_reporter,
    summary_key,
    wrong_channel_reason,
)
from gharart_core.support.targets import parse_target
from gharart_core.support.validation import parse_content_report, parse_escalation, parse_report

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BASE = ("https://gharart.test",)
FILE_ID = "fil_01J9Z3K4M5N6P7Q8R9S0T1V2W3"


def principal(*, scopes: str = "support:write", operator: bool = False, user: str = "usr_a") -> Principal:
    return Principal(
        user, f"{user}@example.com", frozenset(scopes.split()), "pat_1", is_operator_flag=operator
    )


def report(
    rid: str,
    *,
    reporter: str = "usr_a",
    request_id: str | None = None,
    summary: str = "Preview broken",
    at: datetime = NOW,
) -> Report:
    return Report(
        rid,
        reporter,
        summary,
        "details",
        None,
        None,
        request_id,
        None,
        Queue.GENERAL,
        Priority.NORMAL,
        Status.OPEN,
        None,
        None,
        summary_key(summary),
        at,
        at,
    )


# -- audience boundaries ------------------------------------------------------
def test_audiences() -> None:
    assert audience_of(None) is Audience.PUBLIC
    assert audience_of(principal()) is Audience.END_USER
    assert audience_of(principal(operator=True)) is Audience.END_USER  # flag without the scope
    assert audience_of(principal(scopes="operator")) is Audience.END_USER  # scope without the flag
    assert audience_of(principal(scopes="operator", operator=True)) is Audience.OPERATOR


@pytest.mark.parametrize(
    ("scopes", "flag"), [("support:write", False), ("operator", False), ("support:write", True)]
)
def test_end_users_get_operator_only_pointing_to_the_report_route(scopes: str, flag: bool) -> None:
    with pytest.raises(Forbidden) as exc:
        require_operator(principal(scopes=scopes, operator=flag))
    assert exc.value.code == "operator_only"
    assert "/v2/support/report" in exc.value.detail


def test_filing_needs_support_write() -> None:
    require_end_user(principal())
    with pytest.raises(Forbidden) as exc:
        require_end_user(principal(scopes="links:read"))
    assert exc.value.code == "insufficient_scope"


def test_reports_are_visible_to_their_reporter_only() -> None:
    r = report("rpt_1")
    assert require_reporter(principal(), r, "rpt_1") is r
    for who in (
        principal(user="usr_b"),
        principal(user="usr_b", scopes="operator support:write", operator=True),
    ):
        with pytest.raises(NotFound) as exc:
            require_reporter(who, r, "rpt_1")
        assert exc.value.code == "report_not_found"


# -- dedupe -------------------------------------------------------------------
def test_same_actor_and_request_id_is_a_duplicate_at_any_age() -> None:
    old = report("rpt_1", request_id="req_1", at=NOW - timedelta(days=30))
    assert find_duplicate([old], reporter_id="usr_a", request_id="req_1", key="other", now=NOW) is old


def test_same_summary_within_24h_is_a_duplicate() -> None:
    r = report("rpt_1", at=NOW - timedelta(hours=23))
    assert (
        find_duplicate(
            [r], reporter_id="usr_a", request_id=None, key=summary_key("  preview   BROKEN. "), now=NOW
        )
        is r
    )
    stale = report("rpt_2", at=NOW - timedelta(hours=24))
    assert (
        find_duplicate([stale], reporter_id="usr_a", request_id=None, key=stale.summary_key, now=NOW) is None
    )


def test_dedupe_is_per_actor_and_the_oldest_match_wins() -> None:
    mine = [report("rpt_2", at=NOW - timedelta(hours=1)), report("rpt_1", at=NOW - timedelta(hours=2))]
    assert (
        find_duplicate(mine, reporter_id="usr_b", request_id=None, key=mine[0].summary_key, now=NOW) is None
    )
    assert (
        find_duplicate(mine, reporter_id="usr_a", request_id=None, key=mine[0].summary_key, now=NOW).id
        == "rpt_1"
    )


@given(st.text(max_size=60))
def test_summary_key_is_idempotent(text: str) -> None:
    assert summary_key(summary_key(text)) == summary_key(text)


# -- wrong channel --------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"requestId": "req_1"},
        {"sessionId": "s"},
        {"reproArtifact": "dep_1"},
        {"category": "bug"},
        {"category": "Incident"},
        {"category": "outage"},
        {"category": "support"},
    ],
)
def test_incident_bodies_are_the_wrong_channel(body: dict[str, object]) -> None:
    assert (
        wrong_channel_reason({"category": "spam", "targetUrl": "x", "description": "d", **body}) is not None
    )


def test_descriptions_are_not_guessed_at() -> None:
    body = {"category": "spam", "description": "the site has a bug and an outage", "requestId": None}
    assert wrong_channel_reason(body) is None


# -- validation -----------------------------------------------------------------
def codes(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e.field: e.code for e in exc.value.errors}


def test_report_validation_codes() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_report({"summary": "x" * 201, "details": "  "})
    assert codes(exc) == {"summary": "too_long", "details": "required"}
    with pytest.raises(ValidationFailed) as exc:
        parse_report({})
    assert codes(exc) == {"summary": "required", "details": "required"}
    with pytest.raises(ValidationFailed) as exc:
        parse_report({"summary": 3, "details": "d" * 20_001, "handle": "Not A Handle"})
    assert codes(exc) == {"summary": "invalid_type", "details": "too_long", "handle": "invalid_handle"}
    with pytest.raises(ValidationFailed) as exc:
        parse_report(["not", "an", "object"])
    assert codes(exc) == {"body": "invalid_type"}
    ok = parse_report({"summary": "s" * 200, "details": "d" * 20_000, "requestId": "req_1"})
    assert ok.request_id == "req_1"


def test_escalation_validation() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_escalation({"reportIds": []})
    assert codes(exc) == {"reportIds": "required"}
    with pytest.raises(ValidationFailed) as exc:
        parse_escalation({"reportIds": ["rpt_1"], "priority": "whenever"})
    assert codes(exc) == {"priority": "invalid_choice"}
    assert parse_escalation({"reportIds": ["rpt_1", "rpt_1"]}).report_ids == ("rpt_1",)


def test_content_report_validation() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_content_report({"category": "rude", "targetUrl": "", "description": "x", "reporterEmail": "no"})
    assert codes(exc) == {
        "category": "invalid_choice",
        "targetUrl": "required",
        "reporterEmail": "invalid_email",
    }


# -- targets ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "kind", "handle", "key"),
    [
        ("https://gharart.test/l/acme/summer", "link", "acme", "summer"),
        ("https://gharart.test/l/acme/summer?utm=1#x", "link", "acme", "summer"),
        ("/l/acme/summer", "link", "acme", "summer"),
        ("https://gharart.test/profiles/acme/index.html", "profile", "acme", ""),
        ("https://gharart.test/profiles/acme/", "profile", "acme", ""),
        (f"https://gharart.test/v2/public/files/{FILE_ID}", "file", None, FILE_ID),
        ("https://gharart.test/_edge/docs/acme/handbook/intro", "docs", "acme", "handbook/intro"),
        ("https://acme.sites.gharart.test/about", "profile", "acme", ""),
        ("https://GHARART.test:443/l/acme/summer", "link", "acme", "summer"),
    ],
)
def test_our_urls_parse_to_targets(url: str, kind: str, handle: str | None, key: str) -> None:
    t = parse_target(url, base_urls=BASE, site_domain="sites.gharart.test")
    assert t is not None and (t.kind, t.handle, t.key) == (kind, handle, key)


@pytest.mark.parametrize(
    "url",
    [
        "https://gharart.test/v2/handles/acme/links",
        "https://gharart.test/l/acme",
        "not a url",
        "javascript:alert(1)",
        "https://gharart.test/_edge/docs/acme/../../etc",
        "//evil.example/l/a/b",
        "https://gharart.test/v2/public/files/nope",
        "ftp://gharart.test/l/a/b",
    ],
)
def test_foreign_or_unknown_urls_are_not_targets(url: str) -> None:
    assert parse_target(url, base_urls=BASE, site_domain="sites.gharart.test") is None


def test_other_hostnames_are_left_to_the_sites_area() -> None:
    for url in ("https://www.Shop.example/l/acme/summer", "http://gharart.test:8080/l/acme/summer"):
        t = parse_target(url, base_urls=BASE, site_domain="sites.gharart.test")
        assert t is not None and t.kind == "hostname" and t.handle is None
    assert parse_target("https://127.0.0.1/x", base_urls=BASE) is None


@given(st.text(max_size=120))
def test_target_parsing_never_raises(url: str) -> None:
    parse_target(url, base_urls=BASE, site_domain="sites.gharart.test")
