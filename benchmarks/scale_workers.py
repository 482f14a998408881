"""Scale-out: ``gharart serve`` with 1 vs 2 granian workers on PostgreSQL (+ S3 when ``weed`` is there).

    GHARART_TEST_POSTGRES_URL=postgresql+asyncpg://... PYTHONPATH=src:. \\
        python benchmarks/scale_workers.py [--seconds 5] [--connections 50] [--workers 1,2]

For each worker count it starts the service on a fresh database, then runs ``wrk -t1`` on loopback:

* ``redirect``: ``GET /l/acme/launch`` (3 rules, every click counted);
* ``profile``: ``GET /profiles/acme/index.html`` (a 10 KiB page of the live deployment);
* ``mixed``: 80% redirects, 15% profile pages, 5% link creations (authenticated writes).

Prints requests/s, the non-2xx/3xx count (must be 0) and the 2-worker / 1-worker ratio. The S3
store is a SeaweedFS started here (skipped with ``--no-s3``). Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
sys.path[:0] = [str(SRC), str(ROOT)]

PAGE = b"<!doctype html><title>acme</title>" + b"<p>" + b"x" * (10 * 1024 - 40) + b"</p>"
RULES = [
    {"conditions": {"device": ["mobile"], "country": ["FR"]}, "destination": "https://fr-mobile.example/"},
    {"conditions": {"queryParam": {"name": "utm_campaign", "equals": "spring"}},
     "destination": "https://spring.example/"},
    {"conditions": {"os": ["ios"]}, "variants": [{"destination": "https://a.example/", "weight": 50},
                                                 {"destination": "https://b.example/", "weight": 50}]},
]
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

MIXED_LUA = """
local n = 0
local tok = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN")
request = function()
  n = n + 1
  local r = n % 20
  if r == 0 then
    local body = '{"slug":"m' .. run .. '-' .. n .. '","destination":"https://w.example/"}'
    return wrk.format("POST", "/v2/handles/acme/links",
      {["Authorization"] = "Bearer " .. tok, ["Content-Type"] = "application/json"}, body)
  elseif r <= 3 then
    return wrk.format("GET", "/profiles/acme/index.html")
  else
    return wrk.format("GET", "/l/acme/launch")
  end
end
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, method: str, path: str, token: str, body: object = None, raw: bytes | None = None) -> dict:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def wrk(port: int, path: str, seconds: int, connections: int, script: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[float, int, int]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-H", f"User-Agent: {UA}"]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return rate, (int(bad.group(1)) if bad else 0), (sum(map(int, errors.groups())) if errors else 0)


def run_one(workers: int, pg_url: str, s3: tuple[str, dict[str, str]] | None, args: argparse.Namespace,
            tmp: Path) -> dict[str, tuple[float, int, int]]:
    from tests.e2e.test_multiworker import _create_db, _drop_db

    db = asyncio.run(_create_db(pg_url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GHARART_")}
    env.update({
        "PYTHONPATH": str(SRC), "GHARART_DATA_DIR": str(tmp / f"data{workers}"),
        "GHARART_DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/" + db,
        "GHARART_RATE_LIMITS": "api=1000000/s:1000000", "GHARART_DAILY_LINK_WRITES": "10000000",
        "GHARART_OBJECT_STORE": f"file://{tmp / f'objects{workers}'}",
    })
    if s3 is not None:
        env.update(s3[1])
        env["GHARART_OBJECT_STORE"] = f"{s3[0]}/bench-{uuid.uuid4().hex[:8]}"
    cli = [sys.executable, "-c", "from entrypoints.cli.main import main; main()"]
    init = subprocess.run([*cli, "init", "--handle", "acme", "--email", "b@example.com", "--json"], env=env,
                          capture_output=True, check=True, cwd=tmp, timeout=120)
    token = json.loads(init.stdout)["token"]
    port = free_port()
    log = open(tmp / f"serve{workers}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", str(workers)], env=env, cwd=tmp,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp / f"serve{workers}.log").read_text()[-2000:]) from None
                time.sleep(0.3)
        time.sleep(1.0)  # let every worker finish its start-up
        call(port, "POST", "/v2/handles/acme/links", token,
             {"slug": "launch", "destination": "https://example.com/landing", "rules": RULES})
        digest = hashlib.sha256(PAGE).hexdigest()
        dep = call(port, "POST", "/v2/handles/acme/site-deployments", token,
                   {"manifest": {"index.html": {"sha256": digest, "size": len(PAGE)}}})
        call(port, "PUT", f"/v2/handles/acme/site-deployments/{dep['id']}/files/{digest}", token, raw=PAGE)
        call(port, "POST", f"/v2/handles/acme/site-deployments/{dep['id']}/promote", token, {})
        script = tmp / "mixed.lua"
        script.write_text(MIXED_LUA)
        out = {}
        wrk(port, "/l/acme/launch", 1, args.connections)  # warm caches and connections
        out["redirect"] = wrk(port, "/l/acme/launch", args.seconds, args.connections)
        out["profile"] = wrk(port, "/profiles/acme/index.html", args.seconds, args.connections)
        out["mixed"] = wrk(port, "/", args.seconds, args.connections, script,
                           {"BENCH_TOKEN": token, "BENCH_RUN": str(workers)})
        return out
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
        asyncio.run(_drop_db(pg_url, db))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--no-s3", action="store_true")
    args = p.parse_args()
    pg_url = os.environ.get("GHARART_BENCH_POSTGRES_URL") or os.environ.get("GHARART_TEST_POSTGRES_URL")
    if not pg_url or not shutil.which("wrk"):
        sys.exit("needs GHARART_TEST_POSTGRES_URL (a PostgreSQL server) and wrk")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = None
        s3 = None
        if not args.no_s3:
            from tests.s3_server import SeaweedS3, find_weed

            if find_weed():
                server = SeaweedS3.start(tmp / "seaweed")
                s3 = (server.url, server.s3_env())
        try:
            results = {int(w): run_one(int(w), pg_url, s3, args, tmp) for w in args.workers.split(",")}
        finally:
            if server is not None:
                server.stop()
    print(f"store: {'S3 (SeaweedFS)' if s3 else 'filesystem'}; PostgreSQL; wrk -t1 -c{args.connections} "
          f"-d{args.seconds}s; {os.cpu_count()} cores shared by server, wrk and database")
    for name in ("redirect", "profile", "mixed"):
        line = [f"{name:9s}"]
        for w, res in results.items():
            rate, bad, sock = res[name]
            line.append(f"{w} worker(s): {rate:7.0f} req/s ({bad} non-2xx/3xx, {sock} socket errors)")
        if 1 in results and 2 in results:
            line.append(f"ratio 2/1: {results[2][name][0] / results[1][name][0]:.2f}")
        print("  ".join(line))


if __name__ == "__main__":
    main()
