"""The support CLI in-process against the embedded SQLite store."""

from __future__ import annotations

import importlib
import json
import sys
import types
from typing import Any

import pytest
from typer.testing import CliRunner

from entrypoints.cli.main import app


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    try:
        importlib.import_module("adapters.mail.eml")
    except ModuleNotFoundError:  # the file outbox lands separately; any mailer will do here
        from adapters.mail.memory import MemoryOutbox

        stub = types.ModuleType("adapters.mail.eml")
        stub.EmlOutbox = lambda _dir: MemoryOutbox()  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "adapters.mail.eml", stub)
    for key in ("GHARART_URL", "GHARART_TOKEN", "GHARART_DATABASE_URL", "GHARART_LAST_REQUEST_ID"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GHARART_OBJECT_STORE", "memory://")
    runner = CliRunner()
    out = runner.invoke(app, ["init", "--handle", "acme", "--email", "me@example.com", "--json"])
    assert out.exit_code == 0, out.output
    token = json.loads(out.stdout[out.stdout.index("{"):])["token"]
    monkeypatch.setenv("GHARART_TOKEN", token)
    return {"token": token}


def test_report_attaches_the_last_failed_request(env: dict[str, str], tmp_path: Any) -> None:
    runner = CliRunner()
    (tmp_path / "data" / "cli").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "cli" / "last-request-id").write_text("req_not_logged\n")
    out = runner.invoke(app, ["support", "report", "--summary", "Export hangs", "--details", "since 10:00",
                              "--artifact", "some-slug", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout[out.stdout.index("{"):])
    assert data["reportId"].startswith("rpt_") and data["queue"] == "links"
    listed = runner.invoke(app, ["support", "reports", "--json"])
    assert data["reportId"] in listed.stdout
    bad = runner.invoke(app, ["support", "report", "--summary", "x" * 201, "--details", "d"])
    assert bad.exit_code == 1


def test_end_users_cannot_use_operator_commands(env: dict[str, str]) -> None:
    out = CliRunner().invoke(app, ["operator", "escalations", "list"])
    assert out.exit_code == 1
