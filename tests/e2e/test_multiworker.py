"""Two server worker processes over PostgreSQL (+ S3): shared state holds across workers.

``gharart serve --workers 2`` runs as a real process tree on 127.0.0.1 over a fresh PostgreSQL
database and an S3 bucket (a SeaweedFS started by the ``s3_target`` fixture; the filesystem
store when ``weed`` is not installed). Each check pins HTTP/1.1 keep-alive connections to a
known worker: the worker that owns a connection is found by matching the client port against
the worker processes' sockets (psutil), so "the other worker" is a fact, not a hope.

Checks: a token bucket and a daily quota are shared by both workers; an idempotent retry that
lands on the other worker replays the stored answer; a site-mode change made through one
worker is seen by the other on its very next profile request (and back); a crawl queued through
one worker is run by a ``gharart worker`` process (``GHARART_JOB_QUEUE=postgres``).
Bounded: every wait has a timeout; processes are stopped by PID (their own process group).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.s3_server import find_weed

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("GHARART_TEST_POSTGRES_URL")
SRC = Path(__file__).resolve().parents[2] / "src"
HOME = b"<!doctype html><h1>home</h1>"
QUOTA = 6  # daily link writes for the handle
BURST = 4  # content_report bucket size (refills at 1 per hour)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _create_db(url: str) -> str:
    import sqlalchemy as sa

    from adapters.sql.database import Database

    name = f"mw_{uuid.uuid4().hex[:12]}"
    admin = Database(url)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return name


async def _drop_db(url: str, name: str) -> None:
    import sqlalchemy as sa

    from adapters.sql.database import Database

    admin = Database(url)
    async with admin.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


class Pinned:
    """One keep-alive HTTP/1.1 connection; ``worker`` is the PID of the process serving it."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.worker: int | None = None

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        assert not resp.will_close, "the server closed a keep-alive connection; the pin is lost"
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload

    def client_port(self) -> int:
        assert self.conn.sock is not None
        return int(self.conn.sock.getsockname()[1])

    def close(self) -> None:
        self.conn.close()


class Cluster:
    log_path: Path | None = None

    def __init__(self, proc: subprocess.Popen[bytes], port: int, token: str, store: str) -> None:
        self.proc = proc
        self.port = port
        self.token = token
        self.store = store

    def workers(self) -> list[int]:
        return sorted(p.pid for p in psutil.Process(self.proc.pid).children(recursive=True))

    def owner_of(self, conn: Pinned) -> int | None:
        cport = conn.client_port()
        for pid in self.workers():
            with contextlib.suppress(psutil.Error):
                for c in psutil.Process(pid).net_connections(kind="tcp"):
                    if c.laddr and c.laddr.port == self.port and c.raddr and c.raddr.port == cport:
                        return pid
        return None

    def pinned_pair(self) -> tuple[Pinned, Pinned]:
        """Two connections served by two different workers."""
        found: dict[int, Pinned] = {}
        spare: list[Pinned] = []
        deadline = time.monotonic() + 60
        while len(found) < 2 and time.monotonic() < deadline:
            conn = Pinned(self.port)
            status, _, _ = conn.call("GET", "/healthz")
            assert status == 200
            pid = self.owner_of(conn)
            if pid is None or pid in found:
                spare.append(conn)  # keep it open so the next connect is a new accept
                continue
            conn.worker = pid
            found[pid] = conn
        for conn in spare:
            conn.close()
        assert len(found) == 2, f"could not reach two distinct workers (workers: {self.workers()})"
        a, b = found.values()
        return a, b

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    if not PG_URL:
        pytest.skip("GHARART_TEST_POSTGRES_URL not set")
    db_name = asyncio.run(_create_db(PG_URL))
    db_url = PG_URL.rsplit("/", 1)[0] + "/" + db_name
    env = {k: v for k, v in os.environ.items() if not k.startswith("GHARART_")}
    if os.environ.get("GHARART_TEST_S3_URL") or find_weed():
        s3_url, s3_env = request.getfixturevalue("s3_target")
        store = f"{s3_url.rstrip('/')}/mw-{uuid.uuid4().hex[:8]}"
        env.update(s3_env)
    else:
        store = f"file://{tmp_path / 'objects'}"
    env.update({
        "PYTHONPATH": str(SRC) + os.pathsep + env.get("PYTHONPATH", ""),
        "GHARART_DATA_DIR": str(tmp_path / "data"),
        "GHARART_DATABASE_URL": db_url,
        "GHARART_OBJECT_STORE": store,
        "GHARART_SITE_DOMAIN": "localhost",
        "GHARART_RATE_LIMITS": f"content_report=1/h:{BURST}",
        "GHARART_DAILY_LINK_WRITES": str(QUOTA),
        "GHARART_JOB_QUEUE": "postgres",
    })
    cli = [sys.executable, "-c", "from entrypoints.cli.main import main; main()"]
    init = subprocess.run([*cli, "init", "--handle", "acme", "--email", "owner@example.com", "--json"],
                          env=env, capture_output=True, timeout=120, cwd=tmp_path)
    assert init.returncode == 0, init.stderr.decode(errors="replace")
    token = json.loads(init.stdout)["token"]
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    job_worker = subprocess.Popen([*cli, "worker", "--concurrency", "2"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "server did not become ready"
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz")
                ok = c.getresponse().status == 200
                c.close()
                if ok and len(Cluster(proc, port, token, store).workers()) >= 2:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        cluster = Cluster(proc, port, token, store)
        cluster.log_path = tmp_path / "serve.log"
        yield cluster
    finally:
        _stop(proc)
        _stop(job_worker)
        log.close()
        asyncio.run(_drop_db(PG_URL, db_name))


def test_shared_state_holds_across_two_workers(cluster: Cluster) -> None:
    a, b = cluster.pinned_pair()
    assert a.worker != b.worker
    assert cluster.store.startswith("s3://") or not (find_weed() or os.environ.get("GHARART_TEST_S3_URL"))
    auth = cluster.auth()
    links = "/v2/handles/acme/links"
    try:
        # -- an idempotent retry that lands on the other worker replays -------------------
        key = {"Idempotency-Key": "mw-" + uuid.uuid4().hex}
        body = {"slug": "launch", "destination": "https://a.example/"}
        s1, h1, p1 = a.call("POST", links, body, {**auth, **key})
        assert s1 == 201, p1
        s2, h2, p2 = b.call("POST", links, body, {**auth, **key})
        assert s2 == 201 and h2.get("idempotent-replayed") == "true", (s2, p2)
        assert json.loads(p2)["id"] == json.loads(p1)["id"]
        assert "idempotent-replayed" not in h1
        s3, _, p3 = b.call("POST", links, {**body, "destination": "https://b.example/"}, {**auth, **key})
        assert s3 == 422 and json.loads(p3)["code"] == "idempotency_key_reused"

        # -- the daily quota is one counter for both workers ---------------------------------
        statuses = []
        for i in range(QUOTA + 2):  # one write already used by the idempotent create
            conn = a if i % 2 else b
            s, _, p = conn.call("POST", links, {"slug": f"q{i}", "destination": "https://a.example/"}, auth)
            statuses.append((s, json.loads(p).get("code")))
        assert statuses.count((201, None)) == QUOTA - 1, statuses
        assert statuses[QUOTA - 1:] == [(429, "daily_quota_exceeded")] * 3, statuses

        # -- one token bucket for both workers (per client IP, anonymous route) -------------
        taken = []
        for i in range(2 * BURST):
            conn = a if i % 2 else b
            target = f"http://127.0.0.1:{conn.conn.port}/l/acme/launch"
            s, h, p = conn.call("POST", "/v2/public/content-report",
                                {"category": "spam", "targetUrl": target, "description": f"report {i}"})
            taken.append(s)
            if s == 429:
                assert json.loads(p)["code"] == "rate_limited" and int(h["retry-after"]) >= 1
        assert taken[:BURST] == [202] * BURST, taken  # real reports are received below the limit
        assert taken[BURST:] == [429] * BURST, taken

        # -- a site-mode change through one worker is seen by the other at once -------------
        site_base = "/v2/handles/acme/site-deployments"
        digest = hashlib.sha256(HOME).hexdigest()
        s, _, p = a.call("POST", site_base, {"manifest": {"index.html": {"sha256": digest, "size": len(HOME)}}},
                         auth)
        assert s == 201, p
        dep = json.loads(p)
        s, _, p = b.call("PUT", f"{site_base}/{dep['id']}/files/{digest}", headers=auth, raw=HOME)
        assert s == 200 and json.loads(p)["status"] == "deployed", p
        s, _, p = a.call("POST", f"{site_base}/{dep['id']}/promote", {}, auth)
        assert s == 200, p
        for conn in (a, b):  # both workers serve (and cache) the live page
            s, _, p = conn.call("GET", "/profiles/acme/index.html")
            assert (s, p) == (200, HOME)
        s, _, p = a.call("GET", "/v2/handles/acme/site", headers=auth)
        version = json.loads(p)["modeVersion"]
        s, _, p = a.call("PUT", "/v2/handles/acme/site-mode",
                         {"mode": "maintenance", "expectedModeVersion": version, "message": "window"}, auth)
        assert s == 200, p
        s, h, _ = b.call("GET", "/profiles/acme/index.html")
        assert s == 503 and h.get("retry-after"), (s, h)
        s, _, p = b.call("PUT", "/v2/handles/acme/site-mode", {"mode": "live", "expectedModeVersion": version + 1},
                         auth)
        assert s == 200, p
        s, _, p = a.call("GET", "/profiles/acme/index.html")
        assert (s, p) == (200, HOME)

        # -- a crawl queued through one worker runs in the job worker, seen from the other ---
        crawls = "/v2/handles/acme/site-intel/acme.localhost/crawl-runs"
        s, _, p = a.call("POST", crawls, headers=auth)
        assert s == 202, p
        run_id = json.loads(p)["runId"]
        deadline = time.monotonic() + 60
        while True:
            s, _, p = b.call("GET", f"{crawls}/{run_id}", headers=auth)
            assert s == 200, p
            if json.loads(p)["status"] in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert json.loads(p)["status"] == "completed", p
        assert cluster.log_path is not None
        assert f"run_id='{run_id}') ended with status: Success" in cluster.log_path.read_text(errors="replace")

        # -- both workers are still the same two processes (nothing crashed) ---------------
        assert cluster.owner_of(a) == a.worker and cluster.owner_of(b) == b.worker
    finally:
        a.close()
        b.close()
