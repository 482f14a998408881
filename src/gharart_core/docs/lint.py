"""The policy linter and the access diff, both computed by running the evaluator.

A finding is a confidential page the evaluator would let a risky principal read. Risky
principals come in three classes:

* ``anyone`` - an anonymous caller;
* ``external_domain`` - a caller known only by an email address whose domain is outside the
  internal domains (not a member of the handle);
* ``role_below_editor`` - a member known only by the ``viewer`` role.

Each class is infinite, but a policy only tells its members apart by the emails and domains
it names, so a finite set of *witnesses* (one per listed external email, one per listed
external domain with an unlisted address, one fresh external address, the anonymous caller,
the viewer) covers every member of every class: the linter flags a page exactly when some
principal of the class could read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from ..identity.model import Role
from .model import Caller, Classification, DocPage, Policy
from .rules import CompiledPolicy

__all__ = [
    "AccessChange",
    "Finding",
    "Witness",
    "access_diff",
    "is_internal_domain",
    "lint",
    "risky_witnesses",
    "witnesses_for_diff",
]

ANYONE = "anyone"
EXTERNAL = "external_domain"
LOW_ROLE = "role_below_editor"


@attrs.frozen
class Witness:
    """A representative caller. ``kind`` is the principal descriptor's kind."""

    kind: str  # anonymous | role | email | emailDomain | otherEmail
    value: str | None
    caller: Caller
    exposure: str | None  # the risk class, None for principals that are not risky

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "value": self.value}


@attrs.frozen
class Finding:
    page: DocPage
    witness: Witness
    rule_id: str | None

    @property
    def exposure(self) -> str:
        return self.witness.exposure or ""


@attrs.frozen
class AccessChange:
    witness: Witness
    gained: tuple[DocPage, ...]
    lost: tuple[DocPage, ...]


def is_internal_domain(domain: str, internal: Iterable[str]) -> bool:
    """A domain is internal when it is, or is a subdomain of, an internal domain."""
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in internal)


def _fresh_local(taken: set[str], domain: str) -> str:
    n = 0
    while True:
        local = "someone" if n == 0 else f"someone{n}"
        if f"{local}@{domain}" not in taken:
            return f"{local}@{domain}"
        n += 1


def _names(policies: Sequence[Policy]) -> tuple[set[str], set[str]]:
    emails: set[str] = set()
    domains: set[str] = set()
    for policy in policies:
        for rule in policy.rules:
            emails |= rule.principals.emails
            domains |= rule.principals.email_domains
    return emails, domains


def _fresh_external_domain(domains: set[str], internal: frozenset[str]) -> str:
    n = 0
    while True:
        d = "external.invalid" if n == 0 else f"external{n}.invalid"
        if d not in domains and not is_internal_domain(d, internal):
            return d
        n += 1


def risky_witnesses(policies: Sequence[Policy], internal_domains: Iterable[str]) -> list[Witness]:
    internal = frozenset(d.lower() for d in internal_domains)
    emails, domains = _names(policies)
    out = [
        Witness("anonymous", None, Caller(anonymous=True), ANYONE),
        Witness("role", "viewer", Caller(role=Role.VIEWER), LOW_ROLE),
    ]
    for email in sorted(emails):
        if not is_internal_domain(email.rsplit("@", 1)[1], internal):
            out.append(Witness("email", email, Caller(email=email), EXTERNAL))
    for domain in sorted(domains):
        if not is_internal_domain(domain, internal):
            out.append(Witness("emailDomain", domain, Caller(email=_fresh_local(emails, domain)), EXTERNAL))
    fresh = _fresh_external_domain(domains, internal)
    out.append(Witness("otherEmail", None, Caller(email=f"someone@{fresh}"), EXTERNAL))
    return out


def witnesses_for_diff(policies: Sequence[Policy], internal_domains: Iterable[str]) -> list[Witness]:
    """Risky witnesses plus every role and every internal email or domain the policies name."""
    internal = frozenset(d.lower() for d in internal_domains)
    out = risky_witnesses(policies, internal)
    out[2:2] = [Witness("role", r.label, Caller(role=r), None) for r in (Role.EDITOR, Role.ADMIN, Role.OWNER)]
    emails, domains = _names(policies)
    for email in sorted(emails):
        if is_internal_domain(email.rsplit("@", 1)[1], internal):
            out.append(Witness("email", email, Caller(email=email), None))
    for domain in sorted(domains):
        if is_internal_domain(domain, internal):
            out.append(Witness("emailDomain", domain, Caller(email=_fresh_local(emails, domain)), None))
    return out


def lint(policy: Policy | CompiledPolicy, pages: Iterable[DocPage],
         internal_domains: Iterable[str]) -> list[Finding]:
    """Every (confidential page, risky witness) pair the evaluator allows, in path order."""
    compiled = policy if isinstance(policy, CompiledPolicy) else CompiledPolicy(policy)
    witnesses = risky_witnesses([compiled.policy], internal_domains)
    findings: list[Finding] = []
    for page in sorted(pages, key=lambda p: p.path):
        if page.classification is not Classification.CONFIDENTIAL:
            continue
        for w in witnesses:
            decision = compiled.evaluate(page.path, w.caller)
            if decision.allowed:
                findings.append(Finding(page, w, decision.matched_rule))
    return findings


def access_diff(before: Policy, after: Policy, pages: Iterable[DocPage],
                internal_domains: Iterable[str]) -> list[AccessChange]:
    """Who gains and who loses which pages going from ``before`` to ``after``."""
    old, new = CompiledPolicy(before), CompiledPolicy(after)
    page_list = sorted(pages, key=lambda p: p.path)
    changes: list[AccessChange] = []
    for w in witnesses_for_diff([before, after], internal_domains):
        gained: list[DocPage] = []
        lost: list[DocPage] = []
        for page in page_list:
            was = old.evaluate(page.path, w.caller).allowed
            now = new.evaluate(page.path, w.caller).allowed
            if now and not was:
                gained.append(page)
            elif was and not now:
                lost.append(page)
        if gained or lost:
            changes.append(AccessChange(w, tuple(gained), tuple(lost)))
    return changes
