"""Link input validation and the rules' plain-data form (SPEC §4, A.2).

Validation takes plain Python values (what a JSON body or an import row decodes to) and
either returns frozen values or raises :class:`ValidationFailed` with dotted field paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ..shared.errors import FieldError, ValidationFailed
from .model import (
    _LIST_CONDITIONS,
    DEVICES,
    MAX_RULES,
    MAX_TAG_LEN,
    MAX_TAGS,
    REDIRECT_STATUSES,
    RESERVED_SLUGS,
    SLUG_RE,
    Conditions,
    LinkFields,
    QueryParam,
    Rule,
    TimeWindow,
    Variant,
)
from .urls import DestinationError, validate_destination

__all__ = [
    "Collector",
    "check_slug",
    "conditions_to_data",
    "destination_or_error",
    "parse_conditions",
    "parse_fields",
    "parse_redirect_status",
    "parse_rules",
    "parse_tags",
    "reject_unknown",
    "rules_from_data",
    "rules_to_data",
]


class Collector:
    """Gathers field errors so one answer names every problem."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.append(FieldError(f"{self.prefix}{field}", code, message))

    def raise_if_any(self, detail: str = "The request body failed validation.") -> None:
        if self.errors:
            raise ValidationFailed("validation_failed", detail, errors=self.errors)


def check_slug(slug: object, field: str = "slug") -> str:
    if slug is None:
        raise ValidationFailed(errors=[FieldError(field, "required", "slug is required")])
    if not isinstance(slug, str):
        raise ValidationFailed(errors=[FieldError(field, "invalid_type", "slug must be a string")])
    if slug in RESERVED_SLUGS:
        raise ValidationFailed("slug_reserved", f"`{slug}` is reserved.",
                               errors=[FieldError(field, "slug_reserved", "this slug is reserved")])
    if len(slug) > 64:
        raise ValidationFailed(errors=[FieldError(field, "too_long", "a slug is at most 64 characters")])
    if not SLUG_RE.match(slug):
        raise ValidationFailed(errors=[FieldError(
            field, "invalid_slug", "a slug is letters, digits, '_' or '-', starting with a letter or digit")])
    return slug


def destination_or_error(value: object, field: str, errs: Collector) -> str | None:
    if value is None:
        errs.add(field, "required", "destination is required")
        return None
    if not isinstance(value, str):
        errs.add(field, "invalid_type", "destination must be a string")
        return None
    try:
        return validate_destination(value)
    except DestinationError as exc:
        errs.add(field, exc.code, exc.message)
        return None


def parse_redirect_status(value: object, field: str, errs: Collector) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        else:
            errs.add(field, "invalid_type", "redirectStatus must be an integer")
            return None
    if value not in REDIRECT_STATUSES:
        errs.add(field, "invalid_value", "redirectStatus must be one of 301, 302, 307, 308")
        return None
    return value


def parse_tags(value: object, field: str, errs: Collector) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [t for t in value.split("|") if t != ""]
    if not isinstance(value, list | tuple):
        errs.add(field, "invalid_type", "tags must be a list of strings")
        return None
    out: list[str] = []
    if len(value) > MAX_TAGS:
        errs.add(field, "too_many", f"at most {MAX_TAGS} tags")
        return None
    for i, tag in enumerate(value):
        if not isinstance(tag, str):
            errs.add(f"{field}.{i}", "invalid_type", "a tag is a string")
        elif not tag.strip() or len(tag) > MAX_TAG_LEN or "|" in tag or any(ord(c) < 32 for c in tag):
            errs.add(f"{field}.{i}", "invalid_value", f"a tag is 1-{MAX_TAG_LEN} printable characters without '|'")
        elif tag.strip() not in out:
            out.append(tag.strip())
    return tuple(out)


def _str_list(value: object, field: str, errs: Collector) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        errs.add(field, "invalid_type", "must be a list of strings")
        return None
    out = []
    for i, v in enumerate(value):
        if not isinstance(v, str) or not v.strip() or len(v) > 255:
            errs.add(f"{field}.{i}", "invalid_type" if not isinstance(v, str) else "invalid_value",
                     "must be a non-empty string")
            return None
        out.append(v.strip())
    return out


def _timestamp(value: object, field: str, errs: Collector) -> datetime | None:
    from ..shared.clock import parse_ts

    if not isinstance(value, str):
        errs.add(field, "invalid_type", "must be an RFC 3339 timestamp")
        return None
    try:
        return parse_ts(value)
    except ValueError:
        errs.add(field, "invalid_timestamp", "must be an RFC 3339 timestamp")
        return None


def parse_conditions(value: object, field: str, errs: Collector) -> Conditions:
    if value is None:
        return Conditions()
    if not isinstance(value, Mapping):
        errs.add(field, "invalid_type", "conditions must be an object")
        return Conditions()
    kw: dict[str, Any] = {}
    for key, raw in value.items():
        f = f"{field}.{key}"
        if key in _LIST_CONDITIONS:
            items = _str_list(raw, f, errs)
            if items is None:
                continue
            if key == "device":
                bad = [d for d in items if d.lower() not in DEVICES]
                if bad:
                    errs.add(f, "invalid_value", "device is one of mobile, desktop, tablet, bot")
                    continue
                items = [d.lower() for d in items]
            elif key == "country":
                if any(len(c) != 2 or not c.isalpha() for c in items):
                    errs.add(f, "invalid_value", "countries are ISO 3166 alpha-2 codes")
                    continue
                items = [c.upper() for c in items]
            elif key == "language":
                if any(not re.fullmatch(r"[A-Za-z]{1,8}", c.split("-")[0]) for c in items):
                    errs.add(f, "invalid_value", "languages are primary subtags such as `fr`")
                    continue
                items = [c.split("-")[0].lower() for c in items]
            elif key == "referrerHost":
                items = [h.lower().rstrip(".") for h in items]
            else:
                items = [v.lower() for v in items]
            kw["referrer_host" if key == "referrerHost" else str(key)] = tuple(items)
        elif key == "queryParam":
            if not isinstance(raw, Mapping):
                errs.add(f, "invalid_type", "queryParam must be an object {name, equals?}")
                continue
            name, equals = raw.get("name"), raw.get("equals")
            if not isinstance(name, str) or not name:
                errs.add(f"{f}.name", "required" if name is None else "invalid_type", "name is required")
                continue
            if equals is not None and not isinstance(equals, str):
                errs.add(f"{f}.equals", "invalid_type", "equals must be a string")
                continue
            kw["query_param"] = QueryParam(name, equals)
        elif key == "timeWindow":
            if not isinstance(raw, Mapping):
                errs.add(f, "invalid_type", "timeWindow must be an object {from?, until?}")
                continue
            start = _timestamp(raw["from"], f"{f}.from", errs) if raw.get("from") is not None else None
            until = _timestamp(raw["until"], f"{f}.until", errs) if raw.get("until") is not None else None
            if start and until and until <= start:
                errs.add(f"{f}.until", "invalid_value", "until must be after from")
            kw["time_window"] = TimeWindow(start, until)
        else:
            errs.add(f, "unknown_condition", f"unknown condition `{key}`")
    return Conditions(**kw)


def parse_rules(value: object, field: str, errs: Collector) -> tuple[Rule, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        errs.add(field, "invalid_type", "rules must be a list")
        return None
    if len(value) > MAX_RULES:
        errs.add(field, "too_many", f"at most {MAX_RULES} rules")
        return None
    before = len(errs.errors)
    rules: list[Rule] = []
    for i, raw in enumerate(value):
        f = f"{field}.{i}"
        if not isinstance(raw, Mapping):
            errs.add(f, "invalid_type", "a rule is an object")
            continue
        conditions = parse_conditions(raw.get("conditions"), f"{f}.conditions", errs)
        has_dest, has_var = raw.get("destination") is not None, raw.get("variants") is not None
        if has_dest == has_var:
            errs.add(f"{f}.destination", "required", "a rule has either a destination or variants")
            continue
        if has_dest:
            dest = destination_or_error(raw["destination"], f"{f}.destination", errs)
            if dest is not None:
                rules.append(Rule(conditions, dest))
            continue
        variants = _variants(raw["variants"], f"{f}.variants", errs)
        if variants is not None:
            rules.append(Rule(conditions, None, variants))
    return tuple(rules) if len(errs.errors) == before else None


def _variants(value: object, field: str, errs: Collector) -> tuple[Variant, ...] | None:
    if not isinstance(value, list | tuple) or not value:
        errs.add(field, "invalid_type", "variants must be a non-empty list")
        return None
    out: list[Variant] = []
    ok = True
    for j, raw in enumerate(value):
        f = f"{field}.{j}"
        if not isinstance(raw, Mapping):
            errs.add(f, "invalid_type", "a variant is an object {destination, weight}")
            ok = False
            continue
        dest = destination_or_error(raw.get("destination"), f"{f}.destination", errs)
        weight = raw.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int):
            errs.add(f"{f}.weight", "required" if weight is None else "invalid_type", "weight is an integer")
            ok = False
            continue
        if not 0 <= weight <= 100:
            errs.add(f"{f}.weight", "out_of_range", "weight is between 0 and 100")
            ok = False
            continue
        if dest is None:
            ok = False
            continue
        out.append(Variant(dest, weight))
    if ok and sum(v.weight for v in out) != 100:
        errs.add(field, "invalid_weights", "variant weights must sum to 100")
        return None
    return tuple(out) if ok else None


def parse_fields(body: Mapping[str, Any], errs: Collector, *, require_destination: bool) -> LinkFields:
    """Parse the versioned fields present in ``body`` (camelCase keys)."""
    destination = rules = tags = redirect_status = forward_query = None
    if "destination" in body or require_destination:
        destination = destination_or_error(body.get("destination"), "destination", errs)
    if "rules" in body:
        rules = parse_rules(body["rules"], "rules", errs)
    if "tags" in body:
        tags = parse_tags(body["tags"] if body["tags"] is not None else [], "tags", errs)
    if "redirectStatus" in body:
        redirect_status = parse_redirect_status(body["redirectStatus"], "redirectStatus", errs)
    if "forwardQuery" in body:
        fq = body["forwardQuery"]
        if not isinstance(fq, bool):
            errs.add("forwardQuery", "invalid_type", "forwardQuery must be a boolean")
        else:
            forward_query = fq
    return LinkFields(destination, rules, tags, redirect_status, forward_query)


def reject_unknown(body: Mapping[str, Any], allowed: Sequence[str], errs: Collector) -> None:
    for key in body:
        if key not in allowed:
            errs.add(str(key), "unknown_field", f"unknown field `{key}`")


def conditions_to_data(c: Conditions) -> dict[str, Any]:
    from ..shared.clock import format_ts

    out: dict[str, Any] = {}
    for name, attr in (("device", c.device), ("os", c.os), ("browser", c.browser), ("country", c.country),
                       ("language", c.language)):
        if attr is not None:
            out[name] = list(attr)
    if c.query_param is not None:
        qp: dict[str, Any] = {"name": c.query_param.name}
        if c.query_param.equals is not None:
            qp["equals"] = c.query_param.equals
        out["queryParam"] = qp
    if c.referrer_host is not None:
        out["referrerHost"] = list(c.referrer_host)
    if c.time_window is not None:
        tw: dict[str, Any] = {}
        if c.time_window.start is not None:
            tw["from"] = format_ts(c.time_window.start)
        if c.time_window.until is not None:
            tw["until"] = format_ts(c.time_window.until)
        out["timeWindow"] = tw
    return out


def rules_to_data(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """The documented JSON form of rules (API bodies, import cells, SQL storage)."""
    out: list[dict[str, Any]] = []
    for r in rules:
        item: dict[str, Any] = {"conditions": conditions_to_data(r.conditions)}
        if r.variants:
            item["variants"] = [{"destination": v.destination, "weight": v.weight} for v in r.variants]
        else:
            item["destination"] = r.destination
        out.append(item)
    return out


def rules_from_data(data: object) -> tuple[Rule, ...]:
    """Inverse of :func:`rules_to_data` for trusted stored data."""
    errs = Collector()
    rules = parse_rules(data, "rules", errs)
    errs.raise_if_any("stored rules are invalid")
    return rules or ()
