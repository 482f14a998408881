"""``gharart sites crawl|snapshot|replay``: registration and the readable diff."""

from __future__ import annotations

from typer.testing import CliRunner

from entrypoints.cli.intel import render_replay
from entrypoints.cli.main import app


def test_commands_are_in_the_sites_group():
    result = CliRunner().invoke(app, ["sites", "--help"])
    assert result.exit_code == 0
    for name in ("crawl", "snapshot", "replay"):
        assert name in result.output
    result = CliRunner().invoke(app, ["sites", "replay", "--help"])
    assert "--deployment" in result.output and "--snapshot" in result.output


def test_replay_without_deployment_is_a_usage_error():
    result = CliRunner().invoke(app, ["sites", "replay", "--handle", "acme"])
    assert result.exit_code == 2


def test_render_replay_lists_failing_reasons_first():
    run = {
        "runId": "run_1",
        "kind": "replay",
        "status": "completed",
        "deploymentId": "dep_2",
        "snapshotId": "snp_1",
        "verdict": "fail",
        "error": None,
        "reasons": [
            {
                "kind": "content_changed",
                "url": "http://a.localhost/",
                "before": "aaaaaaaaaa",
                "after": "bbbbbbbbbb",
            },
            {"kind": "page_missing", "url": "http://a.localhost/about.html", "before": 200, "after": 404},
            {
                "kind": "new_broken_link",
                "url": "http://a.localhost/contact.html",
                "before": None,
                "after": 404,
                "from": "http://a.localhost/blog/",
            },
            {"kind": "status_changed", "url": "http://a.localhost/x", "before": 200, "after": 301},
        ],
    }
    lines = render_replay(run)
    assert lines[0] == "replay run_1 of dep_2 against snp_1: FAIL"
    assert "page_missing" in lines[1] and "/about.html (200 -> 404)" in lines[1]
    assert "/blog/ -> /contact.html (404)" in lines[2]
    assert "content_changed" in lines[3] and "aaaaaaaa -> bbbbbbbb" in lines[3]
    assert "status_changed" in lines[4]
    assert render_replay({**run, "verdict": "pass", "reasons": []})[1] == "  no differences"
