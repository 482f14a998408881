"""Checking a proposed policy against the current one: findings, diff, acknowledgements.

Shared by the policy PUT (and its dry run) and the offline ``gharart docs policy check``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from .lint import AccessChange, Finding, access_diff, lint
from .model import DocPage, Policy
from .rules import CompiledPolicy

__all__ = ["PolicyWrite", "check_policy"]


@attrs.frozen
class PolicyWrite:
    """Outcome of checking (and possibly saving) a proposed policy."""

    current: Policy
    proposed: Policy
    saved: bool
    findings: tuple[Finding, ...]
    changes: tuple[AccessChange, ...]
    unacknowledged: tuple[str, ...]  # exposed page ids the proposal did not acknowledge
    acknowledged: tuple[str, ...]

    @property
    def would_refuse(self) -> bool:
        return bool(self.unacknowledged)


def check_policy(current: Policy, proposed: Policy, acknowledge: Iterable[str], pages: Sequence[DocPage],
                 internal_domains: Iterable[str]) -> PolicyWrite:
    domains = tuple(internal_domains)
    findings = tuple(lint(CompiledPolicy(proposed), pages, domains))
    changes = tuple(access_diff(current, proposed, pages, domains))
    exposed = list(dict.fromkeys(f.page.id for f in findings))
    acked = set(acknowledge)
    return PolicyWrite(current, proposed, False, findings, changes,
                       tuple(pid for pid in exposed if pid not in acked),
                       tuple(pid for pid in exposed if pid in acked))
