"""What both schemathesis suites (in-process and against a live server) share: the strategy for one
operation and mode, and the checks every answer must pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

__all__ = ["case_strategy", "check_response"]


def case_strategy(op: Any, path_values: Mapping[str, str] | None, mode: str) -> tuple[Any, GenerationMode]:
    """Cases for ``op``: on the seeded ``path_values`` (or generated ones when None), invalid data in
    the ``seeded-negative`` mode. Skips an operation with nothing to make negative."""
    names = [p.name for p in op.path_parameters]
    fixed = {n: v for n, v in path_values.items() if n in names} if path_values is not None else None
    gen = GenerationMode.NEGATIVE if mode == "seeded-negative" else GenerationMode.POSITIVE
    try:
        return op.as_strategy(generation_mode=gen, path_parameters=fixed), gen
    except Exception as exc:  # an operation with nothing to make negative
        pytest.skip(f"no {gen.value} cases: {exc}")


def check_response(case: Any, response: Any) -> None:
    """No 5xx; below that, the documented media type, schema and status code."""
    checks = [not_a_server_error]
    if response.status_code < 500:
        checks += [content_type_conformance, response_schema_conformance, status_code_conformance]
    case.validate_response(response, checks=checks)
