"""Rules engine properties: first match wins, weights respected, no exception for any input."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gharart_core.links.model import Conditions, QueryParam, Rule, TimeWindow, Variant
from gharart_core.links.rules import (
    RequestFacts,
    classify_user_agent,
    evaluate,
    failed_conditions,
    languages_of,
)
from gharart_core.links.service import build_facts

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
IPAD = "Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
CHROME_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
ANDROID_TAB = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def test_user_agent_classes():
    assert classify_user_agent(IPHONE).device == "mobile"
    assert classify_user_agent(IPHONE).os == "ios"
    assert classify_user_agent(IPAD).device == "tablet"
    assert classify_user_agent(ANDROID_TAB).device == "tablet"
    ua = classify_user_agent(CHROME_WIN)
    assert (ua.device, ua.os, ua.browser) == ("desktop", "windows", "chrome")
    assert classify_user_agent(GOOGLEBOT).device == "bot"
    assert classify_user_agent("").device == "desktop"


def test_conditions_each():
    at = datetime(2026, 3, 1, tzinfo=UTC)
    facts = build_facts(user_agent=IPHONE, country="fr", accept_language="fr-CA,en;q=0.5",
                        query={"utm": "spring"}, referrer="https://news.example.com/a", at=at, visitor_key="v")
    ok = Conditions(device=("mobile",), os=("ios",), browser=("safari",), country=("FR",), language=("fr",),
                    query_param=QueryParam("utm", "spring"), referrer_host=("example.com",),
                    time_window=TimeWindow(at - timedelta(days=1), at + timedelta(days=1)))
    assert failed_conditions(ok, facts) == ()
    bad = Conditions(device=("desktop",), os=("android",), browser=("chrome",), country=("DE",),
                     language=("en",), query_param=QueryParam("utm", "fall"), referrer_host=("other.example",),
                     time_window=TimeWindow(None, at))
    assert failed_conditions(bad, facts) == ("device", "os", "browser", "country", "language", "queryParam",
                                             "referrerHost", "timeWindow")
    assert failed_conditions(Conditions(query_param=QueryParam("utm")), facts) == ()
    assert failed_conditions(Conditions(), RequestFacts()) == ()


def test_languages_by_quality():
    assert languages_of("en;q=0.4, de-DE, fr;q=0.9, *;q=0.1, xx;q=0") == ("de", "fr", "en")


conditions_st = st.builds(
    Conditions,
    device=st.none() | st.lists(st.sampled_from(["mobile", "desktop", "tablet", "bot"]), max_size=2).map(tuple),
    country=st.none() | st.lists(st.sampled_from(["FR", "DE", "US"]), max_size=2).map(tuple),
    language=st.none() | st.lists(st.sampled_from(["fr", "de", "en"]), max_size=2).map(tuple),
    query_param=st.none() | st.builds(QueryParam, st.sampled_from(["a", "b"]), st.none() | st.sampled_from(["1", "2"])),
)
rule_st = st.builds(Rule, conditions_st, st.sampled_from(["https://r1.example/", "https://r2.example/"]))
facts_st = st.builds(
    build_facts, user_agent=st.sampled_from([IPHONE, IPAD, CHROME_WIN, GOOGLEBOT, ""]) | st.text(max_size=80),
    country=st.none() | st.sampled_from(["FR", "DE", "US"]) | st.text(max_size=4),
    accept_language=st.none() | st.sampled_from(["fr", "de-DE,de;q=0.5", "en"]) | st.text(max_size=30),
    query=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "2", ""])),
    referrer=st.none() | st.text(max_size=40), at=st.none() | st.datetimes(timezones=st.just(UTC)),
    visitor_key=st.text(max_size=20))


@given(st.lists(rule_st, max_size=8), facts_st)
def test_first_matching_rule_wins(rules, facts):
    d = evaluate("https://default.example/", rules, facts, trace=True)
    matching = [i for i, r in enumerate(rules) if not failed_conditions(r.conditions, facts)]
    if matching:
        assert d.matched_rule == matching[0]
        assert d.destination == rules[matching[0]].destination
    else:
        assert d.matched_rule is None and d.destination == "https://default.example/"
    assert [t.rule for t in d.trace] == list(range(len(rules)))
    assert sum(t.matched for t in d.trace) == (1 if matching else 0)
    fast = evaluate("https://default.example/", rules, facts)
    assert (fast.destination, fast.matched_rule) == (d.destination, d.matched_rule)


@settings(max_examples=10)
@given(st.lists(st.integers(1, 10), min_size=2, max_size=4))
def test_weights_respected_within_tolerance(raw):
    total = sum(raw)
    weights = [r * 100 // total for r in raw]
    weights[0] += 100 - sum(weights)
    rule = Rule(Conditions(), None, tuple(Variant(f"https://v{i}.example/", w) for i, w in enumerate(weights)))
    n = 4000
    counts = Counter(evaluate("https://d.example/", [rule], RequestFacts(visitor_key=f"visitor-{i}"),
                              salt="lnk_1").variant for i in range(n))
    for i, w in enumerate(weights):
        assert abs(counts.get(i, 0) / n - w / 100) < 0.035


def test_variants_are_sticky_per_visitor():
    rule = Rule(Conditions(), None, (Variant("https://a.example/", 50), Variant("https://b.example/", 50)))
    for key in ("alice", "bob", "carol"):
        first = evaluate("https://d/", [rule], RequestFacts(visitor_key=key), salt="lnk_1").variant
        assert all(evaluate("https://d/", [rule], RequestFacts(visitor_key=key), salt="lnk_1").variant == first
                   for _ in range(5))


@given(st.lists(rule_st, max_size=4), st.text(max_size=200), st.text(max_size=60), st.text(max_size=60))
def test_no_exception_for_any_input(rules, ua, lang, ref):
    facts = build_facts(user_agent=ua, country=lang[:3], accept_language=lang, query={"a": ua[:5]},
                        referrer=ref, at=None, visitor_key=ua)
    evaluate("https://d.example/", rules, facts, trace=True)
