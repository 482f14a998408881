"""The PostgreSQL job queue: a crawl and a link health check queued by the API run in
``gharart worker``, and survive the worker being killed (SIGKILL) mid-run: the next worker
retries the job under the same run id, and the crawl completes with exactly one snapshot, the
health check with exactly one result per link (the dead worker's partial results are cleared).

Real processes: ``gharart serve`` (API, ``GHARART_JOB_QUEUE=postgres``) and two successive
``gharart worker`` processes over a fresh PostgreSQL database (+ S3 when ``weed`` is installed).
Bounded waits; processes are stopped by PID (their own process groups).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_multiworker import PG_URL, SRC, _create_db, _drop_db, _free_port, _stop
from tests.s3_server import find_weed

pytestmark = pytest.mark.postgres

PAGES = 150


def _site() -> dict[str, bytes]:
    files = {}
    for i in range(PAGES):
        links = "".join(f'<a href="/p{j}.html">p{j}</a>' for j in (i + 1, i + 2, (i * 7) % PAGES) if j < PAGES)
        name = "index.html" if i == 0 else f"p{i}.html"
        files[name] = f"<!doctype html><title>page {i}</title>{links}".encode()
    return files


class Api:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token

    def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            conn.request(method, path, body=data, headers={"Authorization": f"Bearer {self.token}",
                                                           "Content-Type": "application/json"})
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, (json.loads(payload) if payload else None)
        finally:
            conn.close()


class Env:
    def __init__(self, env: dict[str, str], tmp: Path, db_url: str) -> None:
        self.env = env
        self.tmp = tmp
        self.db_url = db_url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.cli = [sys.executable, "-c", "from entrypoints.cli.main import main; main()"]

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([*self.cli, *args], env=self.env, cwd=self.tmp, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Env]:
    if not PG_URL:
        pytest.skip("GHARART_TEST_POSTGRES_URL not set")
    db_name = asyncio.run(_create_db(PG_URL))
    db_url = PG_URL.rsplit("/", 1)[0] + "/" + db_name
    e = {k: v for k, v in os.environ.items() if not k.startswith("GHARART_")}
    if os.environ.get("GHARART_TEST_S3_URL") or find_weed():
        s3_url, s3_env = request.getfixturevalue("s3_target")
        e.update(s3_env)
        e["GHARART_OBJECT_STORE"] = f"{s3_url.rstrip('/')}/jobs-{uuid.uuid4().hex[:8]}"
    else:
        e["GHARART_OBJECT_STORE"] = f"file://{tmp_path / 'objects'}"
    e.update({
        "PYTHONPATH": str(SRC) + os.pathsep + e.get("PYTHONPATH", ""),
        "GHARART_DATA_DIR": str(tmp_path / "data"),
        "GHARART_DATABASE_URL": db_url,
        "GHARART_SITE_DOMAIN": "localhost",
        "GHARART_JOB_QUEUE": "postgres",
        "GHARART_RATE_LIMITS": "api=1000/s:1000",
    })
    out = Env(e, tmp_path, db_url)
    try:
        yield out
    finally:
        for proc in out.procs:
            _stop(proc)
        asyncio.run(_drop_db(PG_URL, db_name))


def _wait(predicate: Any, timeout: float, what: str, step: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


async def _snapshots_of(db_url: str, run_id: str) -> int:
    import sqlalchemy as sa

    from adapters.sql.database import Database

    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            result = await conn.execute(sa.text("SELECT COUNT(*) FROM intel_snapshots WHERE run_id = :r"), {"r": run_id})
            return int(result.scalar_one())
    finally:
        await db.dispose()


def _serve(env: Env) -> Api:
    """``gharart init`` + ``gharart serve``; the owner's token talks to it."""
    init = subprocess.run([*env.cli, "init", "--handle", "acme", "--email", "o@example.com", "--json"],
                          env=env.env, cwd=env.tmp, capture_output=True, timeout=120)
    assert init.returncode == 0, init.stderr.decode(errors="replace")
    port = _free_port()
    server = env.start("serve", "serve", "--host", "127.0.0.1", "--port", str(port))
    api = Api(port, json.loads(init.stdout)["token"])

    def ready() -> bool:
        assert server.poll() is None, env.log("serve")
        try:
            return api.call("GET", "/readyz")[0] == 200
        except OSError:
            return False

    _wait(ready, 90, "the API")
    return api


def test_queued_crawl_survives_a_killed_worker(env: Env) -> None:
    api = _serve(env)

    # a live site of PAGES pages, linked so the crawler has to walk them all
    files = _site()
    manifest = {p: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for p, b in files.items()}
    status, dep = api.call("POST", "/v2/handles/acme/site-deployments", {"manifest": manifest})
    assert status == 201, dep
    by_sha = {hashlib.sha256(b).hexdigest(): b for b in files.values()}
    for digest in dep["required"]:
        status, dep = api.call("PUT", f"/v2/handles/acme/site-deployments/{dep['id']}/files/{digest}",
                               raw=by_sha[digest])
        assert status == 200, dep
    assert dep["status"] == "deployed"
    status, body = api.call("POST", f"/v2/handles/acme/site-deployments/{dep['id']}/promote", {})
    assert status == 200, body

    base = "/v2/handles/acme/site-intel/acme.localhost/crawl-runs"
    status, run = api.call("POST", base)
    assert status == 202 and run["status"] == "queued", run
    run_id = run["runId"]

    def run_status() -> dict[str, Any]:
        status, body = api.call("GET", f"{base}/{run_id}")
        assert status == 200, body
        return dict(body)

    time.sleep(1.0)
    assert run_status()["status"] == "queued"  # nothing runs it in the API process

    # first worker: killed as soon as the crawl is running
    first = env.start("worker1", "worker", "--concurrency", "1", "--stalled-after", "2")
    seen = _wait(lambda: (s := run_status())["status"] != "queued" and s, 90, "the first worker to start the run",
                 step=0.02)
    first.kill()  # SIGKILL: no cleanup, the job stays `doing` and the run `running`
    first.wait(timeout=10)
    at_kill = run_status()
    assert at_kill["status"] in ("running", "completed"), (at_kill, env.log("worker1"))

    # second worker: recovers the dead worker's job and the run completes once
    env.start("worker2", "worker", "--concurrency", "1", "--stalled-after", "2")
    done = _wait(lambda: (s := run_status())["status"] in ("completed", "failed") and s, 120,
                 "the run to complete after the restart", step=0.2)
    assert done["status"] == "completed", (done, env.log("worker2"))
    assert done["pagesDone"] >= PAGES  # every page (the crawler may also list the bare origin)
    assert asyncio.run(_snapshots_of(env.db_url, run_id)) == 1
    status, snap = api.call("GET", "/v2/handles/acme/site-intel/acme.localhost/snapshot")
    assert status == 200 and snap["counts"]["pages"] == done["pagesDone"] and snap["snapshotId"] == done["snapshotId"]
    if seen["status"] == "running" and at_kill["status"] == "running":
        assert "stalled" in env.log("worker2") or "dead worker" in env.log("worker2")


# -- link health checks ----------------------------------------------------------------------------

LINKS = 60
DELAY_S = 0.3  # per request; 4 at a time per host (the default), so one run takes ~LINKS / 4 * DELAY_S


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.seen.append(self.path)  # type: ignore[attr-defined]
        time.sleep(DELAY_S)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = _answer
    do_GET = _answer


@contextlib.contextmanager
def _slow_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def _health_results_of(db_url: str, run_id: str) -> tuple[int, int]:
    import sqlalchemy as sa

    from adapters.sql.database import Database

    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            row = (await conn.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT slug) FROM link_health_results "
                                              "WHERE run_id = :r"), {"r": run_id})).one()
            return int(row[0]), int(row[1])
    finally:
        await db.dispose()


def test_queued_health_check_survives_a_killed_worker(env: Env) -> None:
    with _slow_server() as dest:
        port = dest.server_address[1]
        env.env["GHARART_FETCH_ALLOWLIST"] = f"127.0.0.1:{port}"
        api = _serve(env)
        for i in range(LINKS):
            status, body = api.call("POST", "/v2/handles/acme/links",
                                    {"slug": f"l{i:03d}", "destination": f"http://127.0.0.1:{port}/p{i}"})
            assert status == 201, body

        status, run = api.call("POST", "/v2/handles/acme/links/health-check", {})
        assert status == 202 and run["status"] == "queued", run
        run_id = run["runId"]

        def run_status() -> dict[str, Any]:
            status, body = api.call("GET", f"/v2/handles/acme/links/health-check/{run_id}")
            assert status == 200, body
            return dict(body)

        time.sleep(1.0)
        assert run_status()["status"] == "queued"  # nothing runs it in the API process
        assert dest.seen == []  # type: ignore[attr-defined]

        # first worker: killed once it has written some results and is still probing the rest
        first = env.start("hworker1", "worker", "--concurrency", "1", "--stalled-after", "2")
        partial = _wait(lambda: (s := run_status())["status"] == "running" and s["results"] and s, 90,
                        "the first worker to write results", step=0.05)
        first.kill()  # SIGKILL: the job stays `doing`, the run `running` with its partial results
        first.wait(timeout=10)
        at_kill = run_status()
        assert at_kill["status"] == "running", (at_kill, env.log("hworker1"))
        assert 0 < len(partial["results"]) <= len(at_kill["results"]) < LINKS

        # second worker: recovers the job, clears the partial results and runs the check again
        env.start("hworker2", "worker", "--concurrency", "1", "--stalled-after", "2")
        done = _wait(lambda: (s := run_status())["status"] in ("completed", "failed") and s, 120,
                     "the health check to complete after the restart", step=0.2)
        assert done["status"] == "completed", (done, env.log("hworker2"))
        assert done["total"] == LINKS and done["counts"] == {"ok": LINKS}
        assert sorted(r["slug"] for r in done["results"]) == [f"l{i:03d}" for i in range(LINKS)]
        assert asyncio.run(_health_results_of(env.db_url, run_id)) == (LINKS, LINKS)
        assert "left running by a dead worker" in (env.tmp / "hworker2.log").read_text(errors="replace")
        status, page = api.call("GET", "/v2/handles/acme/links?health=ok&limit=100")
        assert status == 200 and len(page["items"]) == LINKS, page
        # every destination was probed again by the second worker
        assert len(dest.seen) >= LINKS + len(at_kill["results"])  # type: ignore[attr-defined]
