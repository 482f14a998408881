"""`gharart docs policy check`: offline lint + diff, from files or from the local store."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from entrypoints.cli.docs import app
from entrypoints.harness import make_harness

PAGES = {
    "items": [
        {"id": "pg_1", "path": "/confidential/pricing.md", "classification": "confidential"},
        {"id": "pg_2", "path": "/kit/brand.md", "classification": "public"},
    ]
}
WIDE = {
    "rules": [
        {
            "id": "partners",
            "pathPrefix": "/",
            "effect": "allow",
            "principals": {"emailDomains": ["partner.com"]},
        }
    ]
}


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return str(p)


def test_check_refuses_permissive_policy_and_honours_acknowledgement(tmp_path):
    runner = CliRunner()
    pages = write(tmp_path, "pages.json", PAGES)
    r = runner.invoke(
        app,
        [
            "policy",
            "check",
            write(tmp_path, "p.json", WIDE),
            "--pages",
            pages,
            "--internal-domain",
            "acme.com",
            "--json",
        ],
    )
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert out["wouldRefuse"] is True and out["unacknowledgedPageIds"] == ["pg_1"]
    assert out["diff"]["gains"][0]["principal"] == {"kind": "emailDomain", "value": "partner.com"}
    acked = {**WIDE, "acknowledgeExposure": ["pg_1"]}
    r = runner.invoke(
        app,
        [
            "policy",
            "check",
            write(tmp_path, "a.json", acked),
            "--pages",
            pages,
            "--internal-domain",
            "acme.com",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Would be accepted" in r.output
    current = write(tmp_path, "current.json", {"version": 4, **WIDE})
    r = runner.invoke(
        app,
        [
            "policy",
            "check",
            write(tmp_path, "same.json", acked),
            "--pages",
            pages,
            "--current",
            current,
            "--json",
        ],
    )
    assert json.loads(r.stdout)["diff"] == {"gains": [], "losses": []}


def test_check_invalid_policy_and_usage(tmp_path):
    runner = CliRunner()
    pages = write(tmp_path, "pages.json", PAGES)
    bad = write(tmp_path, "bad.json", {"rules": [{"pathPrefix": "/a/../b", "effect": "maybe"}]})
    r = runner.invoke(app, ["policy", "check", bad, "--pages", pages, "--json"])
    assert r.exit_code == 1
    fields = {e["field"] for e in json.loads(r.stdout)["errors"]}
    assert fields == {"rules.0.pathPrefix", "rules.0.effect", "rules.0.principals"}
    r = runner.invoke(app, ["policy", "check", bad])
    assert r.exit_code == 2
    r = runner.invoke(app, ["policy", "check", str(tmp_path / "missing.json"), "--pages", pages])
    assert r.exit_code == 2


async def test_check_against_the_local_store(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path}/gharart.db"
    async with make_harness(database_url=url, data_dir=tmp_path) as h:
        owner = await h.create_owner("acme", "owner@acme.com")
        r = await h.client.put(
            "/v2/handles/acme/internal-docs/pages/confidential/x.md",
            json={"content": "x", "classification": "confidential"},
            headers=h.auth(owner),
        )
        assert r.status_code == 201
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GHARART_DATABASE_URL", url)
    policy = write(
        tmp_path,
        "p.json",
        {"rules": [{"pathPrefix": "/", "effect": "allow", "principals": {"emailDomains": ["acme.com"]}}]},
    )

    def invoke():
        return CliRunner().invoke(app, ["policy", "check", policy, "--handle", "acme", "--json"])

    r = await asyncio.to_thread(invoke)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["findings"] == []  # acme.com is the owners' domain: internal
    assert out["diff"]["gains"][0]["pages"][0]["path"] == "/confidential/x.md"


async def test_online_commands_upload_apply_evaluate(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path}/gharart.db"
    async with make_harness(database_url=url, data_dir=tmp_path) as h:
        token = await h.create_owner("acme", "owner@acme.com")
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GHARART_DATABASE_URL", url)
    monkeypatch.setenv("GHARART_TOKEN", token)
    monkeypatch.setenv("GHARART_OBJECT_STORE", "memory://")
    tree = tmp_path / "tree"
    (tree / "confidential").mkdir(parents=True)
    (tree / "confidential" / "pricing.md").write_text("# secret")
    (tree / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00")
    wide = write(tmp_path, "wide.json", WIDE)

    def invoke(*args):
        return CliRunner().invoke(app, list(args))

    r = await asyncio.to_thread(
        invoke,
        "pages",
        "upload",
        str(tree),
        "--handle",
        "acme",
        "--prefix",
        "/kit",
        "--classification",
        "confidential",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert sorted(p["path"] for p in json.loads(r.stdout)["items"]) == [
        "/kit/confidential/pricing.md",
        "/kit/logo.png",
    ]
    r = await asyncio.to_thread(invoke, "policy", "apply", wide, "--handle", "acme", "--dry-run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["wouldRefuse"] is True
    r = await asyncio.to_thread(invoke, "policy", "apply", wide, "--handle", "acme")
    assert r.exit_code == 1 and "policy_too_permissive" in r.output
    r = await asyncio.to_thread(
        invoke, "evaluate", "/kit/logo.png", "--handle", "acme", "--as", "pat@partner.com", "--json"
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["reason"] == "default_deny"
    r = await asyncio.to_thread(invoke, "evaluate", "/kit", "--handle", "acme", "--as", "someone")
    assert r.exit_code == 2
