"""Validation of request bodies into docs values (the core receives plain JSON values).

Every failure is collected and raised once as 422 ``validation_failed`` whose ``errors[]``
name dotted fields (``rules.2.principals.emailDomains.0``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from ..identity.model import Role
from ..shared.errors import FieldError, ValidationFailed
from .model import Caller, Effect, Principals, Rule
from .paths import InvalidPath, normalize_path

__all__ = [
    "MAX_RULES",
    "PolicyDraft",
    "normalize_domain",
    "parse_caller",
    "parse_email",
    "parse_policy_body",
]

MAX_RULES = 1000
MAX_NAMES = 1000
_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}\Z")
_ROLES = {r.label: r for r in Role}


@attrs.frozen
class PolicyDraft:
    rules: tuple[Rule, ...]
    default_effect: Effect
    expected_version: int | None
    acknowledge: tuple[str, ...]


def normalize_domain(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    d = value.strip().lower().rstrip(".")
    if d.startswith("@"):
        d = d[1:]
    try:
        d = d.encode("idna").decode("ascii") if any(ord(c) > 127 for c in d) else d
    except UnicodeError:
        return None
    return d if _DOMAIN.match(d) else None


def parse_email(value: object) -> str | None:
    """Lowercased address or None when it is not one."""
    if not isinstance(value, str) or len(value) > 254 or value.count("@") != 1:
        return None
    local, domain = value.split("@")
    if not local or any(c.isspace() or ord(c) < 32 for c in local):
        return None
    d = normalize_domain(domain)
    return f"{local.lower()}@{d}" if d else None


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.items.append(FieldError(field, code, message))

    def raise_if_any(self, detail: str) -> None:
        if self.items:
            raise ValidationFailed(detail=detail, errors=self.items)


def _string_list(errs: _Errors, field: str, value: object) -> list[Any] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        errs.add(field, "invalid_type", "must be a list")
        return None
    if len(value) > MAX_NAMES:
        errs.add(field, "too_long", f"at most {MAX_NAMES} entries")
        return None
    return value


def _principals(errs: _Errors, field: str, raw: object) -> Principals:
    if raw is None:
        errs.add(field, "required", "principals are required")
        return Principals()
    if not isinstance(raw, Mapping):
        errs.add(field, "invalid_type", "must be an object")
        return Principals()
    roles: set[Role] = set()
    for i, r in enumerate(_string_list(errs, f"{field}.roles", raw.get("roles")) or []):
        if isinstance(r, str) and r.lower() in _ROLES:
            roles.add(_ROLES[r.lower()])
        else:
            errs.add(f"{field}.roles.{i}", "invalid_role", "one of viewer, editor, admin, owner")
    emails: set[str] = set()
    for i, e in enumerate(_string_list(errs, f"{field}.emails", raw.get("emails")) or []):
        parsed = parse_email(e)
        if parsed is None:
            errs.add(f"{field}.emails.{i}", "invalid_email", "not an email address")
        else:
            emails.add(parsed)
    domains: set[str] = set()
    for i, d in enumerate(_string_list(errs, f"{field}.emailDomains", raw.get("emailDomains")) or []):
        parsed_d = normalize_domain(d)
        if parsed_d is None:
            errs.add(f"{field}.emailDomains.{i}", "invalid_domain", "not a domain name")
        else:
            domains.add(parsed_d)
    anyone = raw.get("anyone", False)
    if anyone is None:
        anyone = False
    if not isinstance(anyone, bool):
        errs.add(f"{field}.anyone", "invalid_type", "must be a boolean")
        anyone = False
    p = Principals(frozenset(roles), frozenset(emails), frozenset(domains), anyone)
    if p.is_empty and not any(e.field.startswith(field) for e in errs.items):
        errs.add(field, "required", "name at least one of roles, emails, emailDomains or anyone")
    return p


def _rule(errs: _Errors, i: int, raw: object, seen: set[str]) -> Rule | None:
    field = f"rules.{i}"
    if not isinstance(raw, Mapping):
        errs.add(field, "invalid_type", "must be an object")
        return None
    rid = raw.get("id")
    if rid is None:
        rid = f"rule-{i + 1}"
    elif not isinstance(rid, str) or not _RULE_ID.match(rid):
        errs.add(f"{field}.id", "invalid_rule_id", "1-64 letters, digits, `_ . : -`")
        rid = None
    if rid is not None:
        if rid in seen:
            errs.add(f"{field}.id", "duplicate", f"rule id `{rid}` is used twice")
        seen.add(rid)
    prefix: str | None = None
    raw_prefix = raw.get("pathPrefix")
    if raw_prefix is None:
        errs.add(f"{field}.pathPrefix", "required", "pathPrefix is required")
    else:
        try:
            prefix = normalize_path(raw_prefix, f"{field}.pathPrefix")
        except InvalidPath as exc:
            errs.items.extend(exc.errors)
    effect: Effect | None = None
    raw_effect = raw.get("effect")
    if raw_effect is None:
        errs.add(f"{field}.effect", "required", "effect is required")
    elif raw_effect in ("allow", "deny"):
        effect = Effect(raw_effect)
    else:
        errs.add(f"{field}.effect", "invalid_choice", "allow or deny")
    principals = _principals(errs, f"{field}.principals", raw.get("principals"))
    description = raw.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        errs.add(f"{field}.description", "invalid_type", "must be a string")
        description = ""
    elif len(description) > 500:
        errs.add(f"{field}.description", "too_long", "at most 500 characters")
    if rid is None or prefix is None or effect is None:
        return None
    return Rule(rid, prefix, effect, principals, description)


def parse_policy_body(body: object) -> PolicyDraft:
    """Validate ``PUT .../internal-docs/access`` bodies."""
    errs = _Errors()
    if not isinstance(body, Mapping):
        raise ValidationFailed(detail="The body must be a JSON object.",
                               errors=[FieldError("body", "invalid_type", "must be an object")])
    raw_rules = body.get("rules")
    rules: list[Rule] = []
    if raw_rules is None:
        errs.add("rules", "required", "rules are required (an empty list denies everything)")
    elif not isinstance(raw_rules, list):
        errs.add("rules", "invalid_type", "must be a list")
    elif len(raw_rules) > MAX_RULES:
        errs.add("rules", "too_long", f"at most {MAX_RULES} rules")
    else:
        seen: set[str] = set()
        for i, raw in enumerate(raw_rules):
            rule = _rule(errs, i, raw, seen)
            if rule is not None:
                rules.append(rule)
    default = body.get("defaultEffect", "deny")
    if default is None:
        default = "deny"
    if default != "deny":
        errs.add("defaultEffect", "invalid_choice", "the default effect is always `deny`")
    expected = body.get("expectedVersion")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 0):
        errs.add("expectedVersion", "invalid_type", "must be a non-negative integer")
        expected = None
    ack_raw = body.get("acknowledgeExposure")
    ack: list[str] = []
    if ack_raw is not None:
        if not isinstance(ack_raw, list):
            errs.add("acknowledgeExposure", "invalid_type", "must be a list of page ids")
        else:
            for i, pid in enumerate(ack_raw):
                if isinstance(pid, str) and 0 < len(pid) <= 64:
                    ack.append(pid)
                else:
                    errs.add(f"acknowledgeExposure.{i}", "invalid_type", "must be a page id")
    errs.raise_if_any("The policy is not valid.")
    return PolicyDraft(tuple(rules), Effect.DENY, expected, tuple(dict.fromkeys(ack)))


def parse_caller(raw: object, field: str = "principal") -> Caller:
    """Validate an evaluate ``principal`` ``{email?, role?, anonymous?}``; absent = anonymous."""
    errs = _Errors()
    if raw is None:
        return Caller(anonymous=True)
    if not isinstance(raw, Mapping):
        raise ValidationFailed(errors=[FieldError(field, "invalid_type", "must be an object")])
    anonymous = raw.get("anonymous", False)
    if anonymous is None:
        anonymous = False
    if not isinstance(anonymous, bool):
        errs.add(f"{field}.anonymous", "invalid_type", "must be a boolean")
    email: str | None = None
    if raw.get("email") is not None:
        email = parse_email(raw.get("email"))
        if email is None:
            errs.add(f"{field}.email", "invalid_email", "not an email address")
    role: Role | None = None
    raw_role = raw.get("role")
    if raw_role is not None:
        if isinstance(raw_role, str) and raw_role.lower() in _ROLES:
            role = _ROLES[raw_role.lower()]
        else:
            errs.add(f"{field}.role", "invalid_role", "one of viewer, editor, admin, owner")
    errs.raise_if_any("The principal is not valid.")
    if anonymous is True or (email is None and role is None):
        return Caller(anonymous=True)
    return Caller(email=email, role=role)
