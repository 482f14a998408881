"""The real ``gharart publisher`` commands on an embedded SQLite store (in-process API)."""

from __future__ import annotations

import json
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

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def _json(output: str):
    return json.loads(output[output.index("{\n"):])  # log lines may precede the document


def test_publish_to_the_site_list_and_status(cli, tmp_path):
    page = tmp_path / "post.html"
    page.write_text("<h1>Post</h1>")
    r = cli("publisher", "publish", "--site", "acme", "--content-id", "post-1", "--destination", "site",
            "--content-file", str(page), "--config", '{"path": "blog/post-1.html"}', "--json")
    assert r.exit_code == 0, r.output
    body = _json(r.output)
    assert body["success"] is True and body["data"]["status"] == "published"
    r = cli("publisher", "records", "--site", "acme")
    assert r.exit_code == 0 and "1 record(s)" in r.output
    r = cli("publisher", "records", "--site", "acme", "--status", "published", "--json")
    assert [x["content_id"] for x in _json(r.output)["data"]["results"]] == ["post-1"]
    r = cli("publisher", "status", "--json")
    assert r.exit_code == 0 and _json(r.output)["data"]["results"][0]["publishing"]["published"] == 1
    r = cli("publisher", "publish", "--site", "acme", "--content-id", "x", "--destination", "site")
    assert r.exit_code == 1 and "content" in r.output
    r = cli("publisher", "retry", "pub_01NOPE0000000000000000000")
    assert r.exit_code == 1 and "404" in r.output
    r = cli("publisher", "publish", "--site", "acme", "--content-id", "x", "--destination", "site",
            "--config", "{nope")
    assert r.exit_code == 2
