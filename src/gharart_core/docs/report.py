"""Plain-data summaries of lint findings and access changes.

They travel inside the ``policy_too_permissive`` problem (whose extra members the core
supplies) and are reused by the HTTP and CLI renderers, so every surface lists exposures
the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .lint import AccessChange, Finding
from .model import DocPage

__all__ = ["changes_summary", "exposed_pages", "finding_summary", "page_ref"]

_MESSAGES = {
    "anyone": "anyone, signed in or not",
    "external_domain": "an address outside the internal domains",
    "role_below_editor": "members with the viewer role",
}


def page_ref(page: DocPage) -> dict[str, Any]:
    return {"pageId": page.id, "path": page.path, "classification": page.classification.value}


def finding_summary(f: Finding) -> dict[str, Any]:
    who = f.witness
    label = who.value or {"anonymous": "anyone", "otherEmail": "any external address"}.get(who.kind, who.kind)
    return {
        **page_ref(f.page),
        "exposure": f.exposure,
        "principal": who.describe(),
        "ruleId": f.rule_id,
        "message": f"Confidential page {f.page.path} is readable by {_MESSAGES.get(f.exposure, f.exposure)}"
                   f" ({label}) through rule {f.rule_id}.",
    }


def exposed_pages(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """One entry per exposed page with the exposures and rules that cause it."""
    by_page: dict[str, dict[str, Any]] = {}
    for f in findings:
        entry = by_page.setdefault(f.page.id, {**page_ref(f.page), "exposures": [], "ruleIds": []})
        if f.exposure not in entry["exposures"]:
            entry["exposures"].append(f.exposure)
        if f.rule_id is not None and f.rule_id not in entry["ruleIds"]:
            entry["ruleIds"].append(f.rule_id)
    return list(by_page.values())


def changes_summary(changes: Sequence[AccessChange]) -> dict[str, list[dict[str, Any]]]:
    gains = [{"principal": c.witness.describe(), "pages": [page_ref(p) for p in c.gained]}
             for c in changes if c.gained]
    losses = [{"principal": c.witness.describe(), "pages": [page_ref(p) for p in c.lost]}
              for c in changes if c.lost]
    return {"gains": gains, "losses": losses}
