"""The files CLI against a real server process (SQLite in a temporary data dir, loopback)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytest.importorskip("entrypoints.http.app")

from typer.testing import CliRunner

from entrypoints.cli.files import app

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    port = _port()
    env = {
        **os.environ,
        "GHARART_DATA_DIR": str(tmp_path / "data"),
        "GHARART_JWT_SECRET": secrets.token_hex(16),
        "GHARART_OBJECT_STORE": "memory://",
        "GHARART_FILE_RETENTION_S": "0",
        "PYTHONPATH": SRC,
    }
    env.pop("GHARART_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "entrypoints.http.app:create_app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        token = asyncio.run(_token(env))
        r = httpx.post(
            base + "/v2/handles", json={"handle": "acme"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 201, r.text
        yield base, token, env
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def _token(env: dict[str, str]) -> str:
    from entrypoints.containers import build_container
    from entrypoints.settings import Settings
    from gharart_core.identity.model import SCOPES, Principal

    container = build_container(Settings.from_env(env, dotenv=False))
    identity = container.identity_service()
    async with container.uow_factory()(write=True) as uow:
        user = await identity.ensure_user(uow, "owner@acme.test")
        principal = Principal(user.id, user.email, frozenset(SCOPES), None, False)
        issued = await identity.create_token(
            uow, principal, name="cli", scopes=["files:read", "files:write"], handle=None, expires_at=None
        )
        await uow.commit()
    await container.database().dispose()
    return str(issued.secret)


def test_cli_upload_list_share_extend_mode(server, tmp_path):
    base, token, env = server
    common = ["--url", base, "--token", token, "--handle", "acme", "--json"]
    kit = tmp_path / "media kit.pdf"
    kit.write_bytes(b"%PDF-1.7 fake kit")
    runner = CliRunner()
    r = runner.invoke(app, ["upload", str(kit), "--mode", "link", "--expires", "2030-01-01", *common])
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)
    assert (
        f["name"] == "media kit.pdf" and f["mode"] == "link" and f["expiresAt"] == "2030-01-01T23:59:59.000Z"
    )
    r = runner.invoke(app, ["list", *common])
    assert r.exit_code == 0 and [x["id"] for x in json.loads(r.stdout)["items"]] == [f["id"]]
    r = runner.invoke(app, ["share", f["id"], "--to", "pr@partner.test", *common])
    assert r.exit_code == 0 and json.loads(r.stdout)["items"][0]["email"] == "pr@partner.test"
    # the embedded mailer wrote an RFC 5322 .eml into <data dir>/outbox with the link verbatim
    eml = sorted((Path(env["GHARART_DATA_DIR"]) / "outbox").glob("*.eml"))
    assert len(eml) == 1
    raw = eml[0].read_text()
    assert "To: pr@partner.test" in raw
    link = next(line for line in raw.splitlines() if "/v2/public/files/" in line and "token=" in line)
    assert link.startswith(base) and httpx.get(link).content == b"%PDF-1.7 fake kit"
    r = runner.invoke(app, ["extend", f["id"], "--until", "2031-06-01T00:00:00Z", *common])
    assert r.exit_code == 0 and json.loads(r.stdout)["expiresAt"] == "2031-06-01T00:00:00.000Z"
    r = runner.invoke(app, ["mode", f["id"], "public", *common])
    assert r.exit_code == 0 and json.loads(r.stdout)["accessVersion"] == 2
    assert httpx.get(f"{base}/v2/public/files/{f['id']}").content == b"%PDF-1.7 fake kit"
    # a refused request exits 1 with the problem code; a usage error exits 2
    r = runner.invoke(app, ["mode", "fil_01JD0000000000000000000000", "link", *common])
    assert r.exit_code == 1 and "file_not_found" in r.output
    r = runner.invoke(app, ["mode", f["id"], "secret", *common])
    assert r.exit_code == 2


def test_cli_purge_after_retention(server):
    base, token, env = server
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{base}/v2/handles/acme/files", headers=auth, files={"file": ("a.txt", b"abc", "text/plain")}
    )
    assert r.status_code == 201
    assert httpx.delete(f"{base}/v2/handles/acme/files/{r.json()['id']}", headers=auth).status_code == 204
    keys = ("GHARART_DATA_DIR", "GHARART_OBJECT_STORE", "GHARART_FILE_RETENTION_S", "GHARART_JWT_SECRET")
    result = CliRunner().invoke(app, ["purge", "--json"], env={k: env[k] for k in keys})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"purged": 1}
    result = CliRunner().invoke(app, ["purge", "--json"], env={k: env[k] for k in keys})
    assert json.loads(result.stdout) == {"purged": 0}


def test_cli_in_process_without_url(server, tmp_path):
    _, token, env = server
    kit = tmp_path / "kit.txt"
    kit.write_bytes(b"in-process upload")
    keys = ("GHARART_DATA_DIR", "GHARART_OBJECT_STORE", "GHARART_JWT_SECRET")
    r = CliRunner().invoke(
        app,
        ["upload", str(kit), "--handle", "acme", "--token", token, "--json"],
        env={**{k: env[k] for k in keys}, "GHARART_URL": ""},
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["size"] == len(b"in-process upload")
