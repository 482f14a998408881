"""The docs policy evaluator, linter and diff, checked by properties and brute force."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.docs.lint import access_diff, is_internal_domain, lint
from gharart_core.docs.model import (
    Caller,
    Classification,
    DocPage,
    Effect,
    Policy,
    Principals,
    Reason,
    Rule,
)
from gharart_core.docs.paths import is_under
from gharart_core.docs.rules import CompiledPolicy, decide, evaluate, evaluate_naive, principals_match
from gharart_core.identity.model import Role

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREFIXES = ["/", "/a", "/a/b", "/ab", "/conf", "/confidential", "/confidential/x", "/c"]
PATHS = [
    "/",
    "/a",
    "/a/b",
    "/a/b/c",
    "/ab",
    "/ab/c",
    "/conf",
    "/conf/x",
    "/confidential",
    "/confidential/x",
    "/confidential/x/y",
    "/confidential/z",
    "/c/d",
    "/other",
]
EMAILS = ["a@acme.com", "b@partner.com", "c@partner.com", "d@other.org"]
DOMAINS = ["acme.com", "partner.com", "other.org", "eng.acme.com"]
INTERNAL = ("acme.com",)

principals_st = st.builds(
    Principals,
    roles=st.frozensets(st.sampled_from(list(Role)), max_size=2),
    emails=st.frozensets(st.sampled_from(EMAILS), max_size=2),
    email_domains=st.frozensets(st.sampled_from(DOMAINS), max_size=2),
    anyone=st.booleans(),
).filter(lambda p: not p.is_empty)


@st.composite
def policies(draw, max_rules=8):
    n = draw(st.integers(0, max_rules))
    rules = tuple(
        Rule(
            f"r{i}", draw(st.sampled_from(PREFIXES)), draw(st.sampled_from(list(Effect))), draw(principals_st)
        )
        for i in range(n)
    )
    return Policy(version=1, rules=rules)


callers = st.one_of(
    st.just(Caller(anonymous=True)),
    st.builds(
        Caller,
        email=st.none() | st.sampled_from([*EMAILS, "z@partner.com", "y@fresh.example"]),
        role=st.none() | st.sampled_from(list(Role)),
    ),
)


@st.composite
def page_sets(draw):
    paths = draw(st.lists(st.sampled_from(PATHS), unique=True, max_size=8))
    return [
        DocPage(
            f"pg_{i}",
            "acme",
            p,
            draw(st.sampled_from(list(Classification))),
            "text/plain",
            1,
            "x",
            "k",
            T0,
            T0,
        )
        for i, p in enumerate(paths)
    ]


def applicable(policy, path, caller):
    return [
        r for r in policy.rules if is_under(r.path_prefix, path) and principals_match(r.principals, caller)
    ]


@given(policies(), st.sampled_from(PATHS), callers)
def test_deny_always_wins(policy, path, caller):
    d = evaluate(policy, path, caller)
    rules = applicable(policy, path, caller)
    if any(r.effect is Effect.DENY for r in rules):
        assert d.effect is Effect.DENY and d.reason is Reason.DENY_RULE


@given(policies(), st.sampled_from(PATHS), callers)
def test_never_readable_without_a_matching_allow(policy, path, caller):
    d = evaluate(policy, path, caller)
    allows = [r for r in applicable(policy, path, caller) if r.effect is Effect.ALLOW]
    if not allows:
        assert not d.allowed
    if d.allowed:
        assert d.reason is Reason.ALLOW_RULE and d.matched_rule in {r.id for r in allows}
    if not applicable(policy, path, caller):
        assert d.reason is Reason.DEFAULT_DENY and d.matched_rule is None


@given(policies(), st.sampled_from(PATHS), callers)
def test_longest_prefix_reported_and_compiled_equals_naive(policy, path, caller):
    d = evaluate(policy, path, caller)
    assert d == evaluate_naive(policy, path, caller)
    same = [r for r in applicable(policy, path, caller) if r.effect is d.effect]
    if d.matched_rule is not None:
        chosen = next(r for r in policy.rules if r.id == d.matched_rule)
        assert len(chosen.path_prefix) == max(len(r.path_prefix) for r in same)


def test_worked_examples():
    policy = Policy(
        2,
        (
            Rule("everyone-handbook", "/handbook", Effect.ALLOW, Principals(anyone=True)),
            Rule("staff", "/", Effect.ALLOW, Principals(email_domains=frozenset({"acme.com"}))),
            Rule("conf-editors", "/conf", Effect.ALLOW, Principals(roles=frozenset({Role.EDITOR}))),
            Rule("no-partners-secret", "/handbook/secret", Effect.DENY, Principals(anyone=True)),
        ),
    )
    partner = Caller(email="p@partner.com")
    assert decide(policy, "handbook/intro.md", partner)[1].matched_rule == "everyone-handbook"
    _, d = decide(policy, "/handbook/secret/x", Caller(email="ceo@acme.com", role=Role.OWNER))
    assert (d.effect, d.matched_rule, d.reason) == (Effect.DENY, "no-partners-secret", Reason.DENY_RULE)
    # /conf never matches /confidential
    d = evaluate(policy, "/confidential/pricing.pdf", Caller(role=Role.ADMIN))
    assert (d.effect, d.reason) == (Effect.DENY, Reason.DEFAULT_DENY)
    assert evaluate(policy, "/conf/pricing.pdf", Caller(role=Role.ADMIN)).matched_rule == "conf-editors"
    assert not evaluate(policy, "/conf/pricing.pdf", Caller(role=Role.VIEWER)).allowed
    # longest prefix among allows
    assert evaluate(policy, "/handbook/x", Caller(email="me@acme.com")).matched_rule == "everyone-handbook"
    # anonymous callers only match `anyone`
    assert not evaluate(policy, "/conf/x", Caller(anonymous=True, role=Role.OWNER)).allowed


# -- linter: exactly the exposures the evaluator grants ----------------------------------------------

LOCALS = ["a", "b", "c", "d", "z", "someone"]
EXT_DOMAINS = ["partner.com", "other.org", "fresh.example", "external.invalid"]


def brute_force_exposures(policy, pages):
    classes = {
        "anyone": [Caller(anonymous=True)],
        "role_below_editor": [Caller(role=Role.VIEWER)],
        "external_domain": [Caller(email=f"{loc}@{d}") for loc in LOCALS for d in EXT_DOMAINS],
    }
    out = set()
    for page in pages:
        if page.classification is not Classification.CONFIDENTIAL:
            continue
        for kind, members in classes.items():
            if any(evaluate(policy, page.path, c).allowed for c in members):
                out.add((page.id, kind))
    return out


@given(policies(), page_sets())
def test_linter_flags_exactly_what_the_evaluator_grants(policy, pages):
    found = {(f.page.id, f.exposure) for f in lint(policy, pages, INTERNAL)}
    assert found == brute_force_exposures(policy, pages)
    for f in lint(policy, pages, INTERNAL):
        d = evaluate(policy, f.page.path, f.witness.caller)
        assert d.allowed and d.matched_rule == f.rule_id


def test_linter_break_scenario():
    pages = [
        DocPage(
            "pg_1",
            "acme",
            "/confidential/pricing.pdf",
            Classification.CONFIDENTIAL,
            "application/pdf",
            1,
            "x",
            "k",
            T0,
            T0,
        ),
        DocPage(
            "pg_2",
            "acme",
            "/handbook/intro.md",
            Classification.INTERNAL,
            "text/markdown",
            1,
            "x",
            "k",
            T0,
            T0,
        ),
    ]
    too_wide = Policy(
        2, (Rule("partners", "/", Effect.ALLOW, Principals(email_domains=frozenset({"partner.com"}))),)
    )
    findings = lint(too_wide, pages, INTERNAL)
    assert [(f.page.id, f.exposure, f.rule_id) for f in findings] == [("pg_1", "external_domain", "partners")]
    fixed = Policy(
        3,
        (
            *too_wide.rules,
            Rule(
                "no-conf", "/confidential", Effect.DENY, Principals(email_domains=frozenset({"partner.com"}))
            ),
        ),
    )
    assert lint(fixed, pages, INTERNAL) == []
    staff = Policy(2, (Rule("staff", "/", Effect.ALLOW, Principals(email_domains=frozenset({"acme.com"}))),))
    assert lint(staff, pages, INTERNAL) == []
    viewers = Policy(2, (Rule("all-members", "/", Effect.ALLOW, Principals(roles=frozenset({Role.VIEWER}))),))
    assert [f.exposure for f in lint(viewers, pages, INTERNAL)] == ["role_below_editor"]
    editors = Policy(2, (Rule("editors", "/", Effect.ALLOW, Principals(roles=frozenset({Role.EDITOR}))),))
    assert lint(editors, pages, INTERNAL) == []


@pytest.mark.parametrize(
    ("domain", "internal"),
    [("acme.com", True), ("eng.acme.com", True), ("notacme.com", False), ("acme.com.evil.org", False)],
)
def test_internal_domains(domain, internal):
    assert is_internal_domain(domain, INTERNAL) is internal


@given(policies(), policies(), page_sets(), callers)
def test_diff_reports_every_change_for_named_principals(before, after, pages, caller):
    changes = access_diff(before, after, pages, INTERNAL)
    for change in changes:
        w = change.witness.caller
        for p in change.gained:
            assert evaluate(after, p.path, w).allowed and not evaluate(before, p.path, w).allowed
        for p in change.lost:
            assert evaluate(before, p.path, w).allowed and not evaluate(after, p.path, w).allowed
    # completeness: any caller whose access changes has an equivalent witness in the diff
    if caller.email is not None and caller.role is not None:
        return  # witnesses cover email-only, role-only and anonymous callers
    changed = {
        p.id
        for p in pages
        if evaluate(before, p.path, caller).allowed != evaluate(after, p.path, caller).allowed
    }
    if changed:
        reported = set()
        for change in changes:
            w = change.witness.caller
            same = all(
                evaluate(pol, p.path, w).allowed == evaluate(pol, p.path, caller).allowed
                for pol in (before, after)
                for p in pages
            )
            if same:
                reported |= {p.id for p in change.gained + change.lost}
        assert changed <= reported


def test_compiled_policy_is_reusable():
    policy = Policy(
        1, tuple(Rule(f"r{i}", f"/s{i}", Effect.ALLOW, Principals(anyone=True)) for i in range(50))
    )
    compiled = CompiledPolicy(policy)
    assert compiled.evaluate("/s7/x", Caller(anonymous=True)).matched_rule == "r7"
    assert compiled.evaluate("/s70/x", Caller(anonymous=True)).reason is Reason.DEFAULT_DENY
