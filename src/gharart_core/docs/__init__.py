"""Internal docs: classified pages, the access policy, its evaluator, linter and diff (SPEC §8)."""

from .lint import AccessChange, Finding, Witness, access_diff, lint
from .model import (
    Caller,
    Classification,
    Decision,
    DocPage,
    DocSession,
    DocShare,
    Effect,
    Policy,
    Principals,
    Reason,
    Rule,
)
from .paths import InvalidPath, is_under, normalize_path
from .rules import CompiledPolicy, decide, evaluate, evaluate_naive

__all__ = [
    "AccessChange",
    "Caller",
    "Classification",
    "CompiledPolicy",
    "Decision",
    "DocPage",
    "DocSession",
    "DocShare",
    "Effect",
    "Finding",
    "InvalidPath",
    "Policy",
    "Principals",
    "Reason",
    "Rule",
    "Witness",
    "access_diff",
    "decide",
    "evaluate",
    "evaluate_naive",
    "is_under",
    "lint",
    "normalize_path",
]
