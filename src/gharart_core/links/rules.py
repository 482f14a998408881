"""Rule evaluation: a pure function from (link, request facts) to a destination and a trace.

The first rule whose conditions all hold wins; otherwise the link's default destination.
A rule with variants picks one by a stable hash of the visitor key, so a visitor keeps
seeing the same variant (sticky A/B) while the population splits by the weights.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

import attrs
from ua_parser import parse as parse_ua

from .model import Conditions, Rule

__all__ = [
    "Decision",
    "RequestFacts",
    "TraceEntry",
    "UserAgentInfo",
    "classify_user_agent",
    "evaluate",
    "failed_conditions",
    "languages_of",
    "pick_variant",
    "referrer_host",
]

_MOBILE_OS = ("ios", "android", "windows phone", "blackberry os", "kaios", "firefox os")


@attrs.frozen
class UserAgentInfo:
    device: str  # mobile | desktop | tablet | bot
    os: str  # lowercase family, "" when unknown
    browser: str  # lowercase family, "" when unknown


@lru_cache(maxsize=4096)
def classify_user_agent(user_agent: str | None) -> UserAgentInfo:
    """Device class, OS and browser family from a User-Agent (ua-parser does the parsing)."""
    ua = (user_agent or "")[:1024]
    if not ua.strip():
        return UserAgentInfo("desktop", "", "")
    res = parse_ua(ua)
    os_family = (res.os.family if res.os else "") or ""
    browser = (res.user_agent.family if res.user_agent else "") or ""
    dev_family = (res.device.family if res.device else "") or ""
    low = ua.lower()
    os_l, browser_l = os_family.lower(), browser.lower()
    if os_l == "other":
        os_l = ""
    if browser_l == "other":
        browser_l = ""
    if dev_family == "Spider":  # ua-parser's verdict for crawlers and link expanders
        device = "bot"
    elif "ipad" in low or "tablet" in low or "kindle" in low or "silk/" in low or (
            "android" in low and "mobile" not in low):
        device = "tablet"
    elif os_l in _MOBILE_OS or "mobi" in low or "iphone" in low:
        device = "mobile"
    else:
        device = "desktop"
    return UserAgentInfo(device, os_l, browser_l)


def languages_of(accept_language: str | None) -> tuple[str, ...]:
    """Primary subtags of an ``Accept-Language`` value, by descending q, ``q=0`` dropped."""
    if not accept_language:
        return ()
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language[:512].split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().split("-")[0].lower()
        if q > 0 and primary and primary != "*" and primary.isalpha():
            weighted.append((-q, i, primary))
    seen: list[str] = []
    for _, _, p in sorted(weighted):
        if p not in seen:
            seen.append(p)
    return tuple(seen)


def referrer_host(referrer: str | None) -> str | None:
    if not referrer:
        return None
    from urllib.parse import urlsplit

    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


@attrs.frozen
class RequestFacts:
    """What the rules may look at, already normalised."""

    user_agent: UserAgentInfo = UserAgentInfo("desktop", "", "")
    country: str | None = None
    languages: tuple[str, ...] = ()
    query: Mapping[str, str] = attrs.field(factory=dict)
    referrer_host: str | None = None
    at: datetime | None = None
    visitor_key: str = ""


@attrs.frozen
class TraceEntry:
    rule: int
    matched: bool
    failed: tuple[str, ...]


@attrs.frozen
class Decision:
    destination: str
    matched_rule: int | None
    variant: int | None
    trace: tuple[TraceEntry, ...] = ()


def _family_matches(wanted: Sequence[str], family: str) -> bool:
    if not family:
        return False
    compact = family.replace(" ", "")
    for w in wanted:
        wc = w.replace(" ", "")
        if w == family or wc == compact or family.startswith(w + " ") or family.endswith(" " + w):
            return True
        if wc in ("macos", "osx") and compact in ("macosx", "macos"):
            return True
    return False


def _host_matches(wanted: Sequence[str], host: str | None) -> bool:
    if not host:
        return False
    return any(host == w or host.endswith("." + w) for w in wanted)


def failed_conditions(c: Conditions, facts: RequestFacts) -> tuple[str, ...]:
    """Names of the conditions of ``c`` that do not hold for ``facts`` (empty = rule matches)."""
    failed: list[str] = []
    ua = facts.user_agent
    if c.device is not None and ua.device not in c.device:
        failed.append("device")
    if c.os is not None and not _family_matches(c.os, ua.os):
        failed.append("os")
    if c.browser is not None and not _family_matches(c.browser, ua.browser):
        failed.append("browser")
    if c.country is not None and (facts.country or "").upper() not in c.country:
        failed.append("country")
    if c.language is not None and not any(lang in c.language for lang in facts.languages[:1]):
        failed.append("language")
    if c.query_param is not None:
        value = facts.query.get(c.query_param.name)
        if value is None or (c.query_param.equals is not None and value != c.query_param.equals):
            failed.append("queryParam")
    if c.referrer_host is not None and not _host_matches(c.referrer_host, facts.referrer_host):
        failed.append("referrerHost")
    if c.time_window is not None:
        at, tw = facts.at, c.time_window
        if at is None or (tw.start is not None and at < tw.start) or (tw.until is not None and at >= tw.until):
            failed.append("timeWindow")
    return tuple(failed)


def bucket_of(visitor_key: str, salt: str) -> int:
    """A stable bucket 0..99 for a visitor, independent per link and rule (``salt``)."""
    digest = hashlib.blake2b(f"{salt}\0{visitor_key}".encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def pick_variant(rule: Rule, visitor_key: str, salt: str) -> int:
    bucket = bucket_of(visitor_key, salt)
    acc = 0
    last = 0
    for i, v in enumerate(rule.variants):
        if v.weight <= 0:
            continue
        last = i
        acc += v.weight
        if bucket < acc:
            return i
    return last


def evaluate(default: str, rules: Sequence[Rule], facts: RequestFacts, *, salt: str = "",
             trace: bool = False) -> Decision:
    """Choose the destination. With ``trace`` every rule is checked and reported."""
    entries: list[TraceEntry] = []
    chosen: Decision | None = None
    for i, rule in enumerate(rules):
        failed = failed_conditions(rule.conditions, facts)
        if trace:
            entries.append(TraceEntry(i, not failed and chosen is None, failed))
        if failed or chosen is not None:
            continue
        if rule.variants:
            idx = pick_variant(rule, facts.visitor_key, f"{salt}:{i}")
            chosen = Decision(rule.variants[idx].destination, i, idx)
        else:
            chosen = Decision(rule.destination or default, i, None)
        if not trace:
            return chosen
    if chosen is None:
        chosen = Decision(default, None, None)
    return attrs.evolve(chosen, trace=tuple(entries))
