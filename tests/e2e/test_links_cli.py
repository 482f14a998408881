"""The real ``gharart links`` commands on an embedded SQLite store (in-process API)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from entrypoints.cli.main import app


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path / ".gharart"))
    monkeypatch.delenv("GHARART_URL", raising=False)
    runner = CliRunner()
    out = runner.invoke(app, ["init", "--handle", "acme", "--email", "ops@acme.example"])
    assert out.exit_code == 0, out.output
    token = re.search(r"(gha_pat_[A-Za-z0-9_-]+)", out.output).group(1)
    monkeypatch.setenv("GHARART_TOKEN", token)
    monkeypatch.setenv("GHARART_HANDLE", "acme")

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def test_import_history_rollback_export(cli, tmp_path):
    src = tmp_path / "launch.csv"
    src.write_text("slug,destination,tags\nlaunch,https://a.example/1,q2\nbroken,htp://x,\n")
    r = cli("links", "import", str(src))
    assert r.exit_code == 1 and "import_failed" in r.output
    errors = (tmp_path / "launch.csv.errors.csv").read_text()
    assert "broken" in errors and "invalid_url" in errors
    src.write_text("slug,destination,tags\nlaunch,https://a.example/1,q2\n")
    assert cli("links", "import", str(src)).exit_code == 0
    src.write_text("slug,destination,tags\nlaunch,https://a.example/2,q2\n")
    assert cli("links", "import", str(src), "--mode", "partial").exit_code == 0
    r = cli("links", "history", "launch", "--json")
    assert r.exit_code == 0 and '"version": 2' in r.output
    r = cli("links", "rollback", "launch", "--to", "1", "--expect", "1")
    assert r.exit_code == 1 and "stale_version" in r.output
    r = cli("links", "rollback", "launch", "--to", "1", "--expect", "2", "--reason", "INC-1")
    assert r.exit_code == 0 and "version 3" in r.output
    out = tmp_path / "export.csv"
    assert cli("links", "export", "-o", str(out)).exit_code == 0
    assert "launch,https://a.example/1,q2" in out.read_text()
    r = cli("links", "rollback", "launch", "--to", "x", "--expect", "2")
    assert r.exit_code == 2
