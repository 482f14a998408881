"""The policy evaluator: pure functions, no I/O.

Semantics (SPEC §8, A.4): a rule applies when its ``pathPrefix`` is a segment prefix of the
path and its principals match the caller. Any applicable deny beats any applicable allow; among
applicable rules of the winning effect the longest prefix is reported (the first such rule in
policy order on a tie); no applicable rule gives the policy's ``defaultEffect``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import Caller, Decision, Effect, Policy, Principals, Reason, Rule
from .paths import is_under, normalize_path, path_prefixes

__all__ = ["CompiledPolicy", "decide", "evaluate", "evaluate_naive", "principals_match"]


def principals_match(p: Principals, caller: Caller) -> bool:
    if p.anyone:
        return True
    if caller.is_anonymous:
        return False
    if caller.role is not None and p.roles and caller.role >= min(p.roles):
        return True
    if caller.email is not None:
        if caller.email in p.emails:
            return True
        domain = caller.domain
        if domain is not None and domain in p.email_domains:
            return True
    return False


def _pick(rules: Iterable[Rule], default: Effect) -> Decision:
    best_deny: Rule | None = None
    best_allow: Rule | None = None
    for rule in rules:
        if rule.effect is Effect.DENY:
            if best_deny is None or len(rule.path_prefix) > len(best_deny.path_prefix):
                best_deny = rule
        elif best_allow is None or len(rule.path_prefix) > len(best_allow.path_prefix):
            best_allow = rule
    if best_deny is not None:
        return Decision(Effect.DENY, best_deny.id, Reason.DENY_RULE)
    if best_allow is not None:
        return Decision(Effect.ALLOW, best_allow.id, Reason.ALLOW_RULE)
    if default is Effect.ALLOW:  # not reachable through validated policies; kept total
        return Decision(Effect.ALLOW, None, Reason.ALLOW_RULE)
    return Decision(Effect.DENY, None, Reason.DEFAULT_DENY)


def evaluate_naive(policy: Policy, path: str, caller: Caller) -> Decision:
    """Reference evaluation: scan every rule. ``path`` must be canonical."""
    return _pick((r for r in policy.rules if is_under(r.path_prefix, path)
                  and principals_match(r.principals, caller)), policy.default_effect)


class CompiledPolicy:
    """Rules indexed by prefix: a decision costs one dict probe per path segment."""

    __slots__ = ("_by_prefix", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        by_prefix: dict[str, list[Rule]] = {}
        for rule in policy.rules:
            by_prefix.setdefault(rule.path_prefix, []).append(rule)
        self._by_prefix = by_prefix

    def evaluate(self, path: str, caller: Caller) -> Decision:
        """Decide for a canonical ``path``."""
        index = self._by_prefix
        applicable: list[Rule] = []
        for prefix in path_prefixes(path):
            bucket = index.get(prefix)
            if bucket:
                applicable.extend(r for r in bucket if principals_match(r.principals, caller))
        # Buckets come shortest prefix first and in policy order inside one prefix, so the
        # "first rule on a tie" choice is the same as the naive scan's.
        return _pick(applicable, self.policy.default_effect)


def evaluate(policy: Policy | CompiledPolicy, path: str, caller: Caller) -> Decision:
    compiled = policy if isinstance(policy, CompiledPolicy) else CompiledPolicy(policy)
    return compiled.evaluate(path, caller)


def decide(policy: Policy | CompiledPolicy, raw_path: object, caller: Caller) -> tuple[str, Decision]:
    """Normalise ``raw_path`` (422 ``invalid_path``) and decide; returns (canonical path, decision)."""
    path = normalize_path(raw_path)
    return path, evaluate(policy, path, caller)
