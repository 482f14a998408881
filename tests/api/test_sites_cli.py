"""`gharart sites` end to end in-process: deploy uploads only missing blobs, promote, mode."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from entrypoints.cli.main import app


def test_cli_deploy_redeploy_promote_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("GHARART_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(app, ["init", "--handle", "acme", "--email", "me@example.com"])
    assert out.exit_code == 0, out.output
    token = re.search(r"gha_pat_[A-Za-z0-9_-]+", out.output).group(0)
    monkeypatch.setenv("GHARART_TOKEN", token)
    monkeypatch.setenv("GHARART_HANDLE", "acme")
    site = tmp_path / "site"
    (site / "blog").mkdir(parents=True)
    for i in range(5):
        (site / f"p{i}.html").write_text(f"<p>{i}</p>")
    (site / "index.html").write_text("<h1>v1</h1>")
    first = runner.invoke(app, ["sites", "deploy", str(site), "--promote", "--json"])
    assert first.exit_code == 0, first.output
    dep1 = json.loads(first.output[first.output.index("{"):])
    assert dep1["uploaded"] == 6 and dep1["live"] is True
    (site / "index.html").write_text("<h1>v2</h1>")
    second = runner.invoke(app, ["sites", "deploy", str(site), "--json"])
    dep2 = json.loads(second.output[second.output.index("{"):])
    assert dep2["uploaded"] == 1 and dep2["status"] == "deployed"
    promoted = runner.invoke(app, ["sites", "promote", dep2["id"], "--expect", dep1["id"]])
    assert promoted.exit_code == 0, promoted.output
    stale = runner.invoke(app, ["sites", "rollback", "--to", dep1["id"], "--expect", dep1["id"]])
    assert stale.exit_code == 1 and "version_conflict" in stale.output
    mode = runner.invoke(app, ["sites", "mode", "maintenance"])
    assert mode.exit_code == 0 and "maintenance" in mode.output
