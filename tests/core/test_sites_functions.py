"""Built-in site functions: config validation and answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gharart_core.sites.functions import default_registry
from gharart_core.sites.model import FunctionBinding
from gharart_core.sites.ports import FunctionCall

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REG = default_registry()


def call(fn: str, config: dict, *, method: str = "GET", body: bytes = b"", ctype: str = "") -> FunctionCall:
    b = FunctionBinding("fb_1", "acme", "dep_1", "/r", fn, config, T0)
    return FunctionCall(b, method, "/r", "", (("content-type", ctype),) if ctype else (), body)


@pytest.mark.parametrize(
    "fn,config,fields",
    [
        ("redirect", {}, {"location"}),
        ("redirect", {"location": "javascript:alert(1)"}, {"location"}),
        ("redirect", {"location": "/x", "status": 200}, {"status"}),
        ("json", {"status": 99, "body": 1}, {"status"}),
        ("json", {"body": 1, "headers": {"Bad Header": "x"}}, {"headers.Bad Header"}),
        ("json", {"body": 1, "headers": {"X-A": "a\r\nb"}}, {"headers.X-A"}),
        ("form-capture", {"maxBytes": 0}, {"maxBytes"}),
        ("form-capture", {"redirectTo": "ftp://x"}, {"redirectTo"}),
        ("form-capture", {"nope": 1}, {"nope"}),
    ],
)
def test_bad_configs(fn, config, fields):
    assert {e.field for e in REG.get(fn).validate(config)} == fields


async def test_answers():
    r = await REG.get("redirect")(call("redirect", {"location": "https://example.com/", "status": 301}))
    assert (r.status, dict(r.headers)["Location"]) == (301, "https://example.com/")
    j = await REG.get("json")(call("json", {"body": {"ok": True}, "status": 201, "headers": {"X-A": "1"}}))
    assert (j.status, json.loads(j.body), dict(j.headers)["X-A"]) == (201, {"ok": True}, "1")
    f = await REG.get("form-capture")(
        call(
            "form-capture",
            {"redirectTo": "/thanks"},
            method="POST",
            body=b"a=1&a=2&b=",
            ctype="application/x-www-form-urlencoded",
        )
    )
    assert f.status == 303 and f.submission == {
        "ct": "application/x-www-form-urlencoded",
        "f": {"a": ["1", "2"], "b": ""},
    }
    big = await REG.get("form-capture")(call("form-capture", {"maxBytes": 3}, method="POST", body=b"a=1234"))
    assert big.status == 413 and big.submission is None
    bad = await REG.get("form-capture")(call("form-capture", {}, method="POST", body=b"[1]", ctype="application/json"))
    assert bad.status == 400 and bad.submission is None
    assert sorted(REG.names()) == ["form-capture", "json", "redirect"]


@pytest.mark.parametrize(
    "config",
    [
        {"body": 1, "headers": {"X-A": "a\x00b"}},
        {"body": 1, "headers": {"X\x00": "a"}},
        {"body": 1, "headers": {"Ünï": "a"}},
    ],
)
def test_headers_refuse_controls_and_non_tokens(config):
    assert REG.get("json").validate(config)
