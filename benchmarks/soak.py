"""Bounded soak: mixed traffic against a real server on loopback, with a memory check.

Starts ``gharart`` (uvicorn, 1 worker) on the embedded default (SQLite + filesystem store in a temp data
dir), seeds a handle with links and a live deployment, then for ``--duration`` seconds runs
``--concurrency`` keep-alive clients sending a mix: redirects (`/l/...`), link reads and lists, link
creates and updates, route previews, profile pages, preview reads, file uploads and downloads, 404s and
401s. Every few seconds it samples the server's RSS.

Reports requests served, errors (any 5xx or transport error), p50/p95/p99 latency, and RSS at the end
of the first and last thirds of the run. Exits non-zero on any 5xx or when RSS keeps growing (last
third above the first third by more than ``--rss-slack-mib``).

    .venv/bin/python benchmarks/soak.py --duration 180        # the full run
    .venv/bin/python benchmarks/soak.py --duration 8 --json   # what CI runs
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {**os.environ, "GHARART_DATA_DIR": str(data), "GHARART_JWT_SECRET": secrets.token_hex(16),
           "PYTHONPATH": SRC, "GHARART_RATE_LIMITS": "api=100000/s:100000"}
    for name in ("GHARART_DATABASE_URL", "GHARART_OBJECT_STORE"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", "from entrypoints.cli.main import main; main()", "init",
                          "--handle", "soak", "--email", "owner@soak.test", "--json"],
                         env=env, capture_output=True, check=True, timeout=120)
    token = json.loads(out.stdout)["token"]
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning", "entrypoints.http.app:create_app"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base, token
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


async def _seed(c: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    h = "/v2/handles/soak"
    rules = [{"conditions": {"device": ["mobile"]}, "destination": "https://m.example.com/"},
             {"conditions": {"country": ["FR"]}, "destination": "https://fr.example.com/"},
             {"conditions": {"language": ["de"]}, "destination": "https://de.example.com/"}]
    for i in range(50):
        r = await c.post(f"{h}/links", json={"slug": f"s{i}", "destination": f"https://example.com/{i}",
                                              "rules": rules, "tags": ["soak"]}, headers=auth)
        assert r.status_code == 201, r.text
    page = b"<!doctype html><title>soak</title>" + b"x" * 10_000
    digest = hashlib.sha256(page).hexdigest()
    r = await c.post(f"{h}/site-deployments", json={"manifest": {"index.html": {"sha256": digest, "size": len(page)}}},
                     headers=auth)
    dep = r.json()["id"]
    await c.put(f"{h}/site-deployments/{dep}/files/{digest}", content=page,
                headers={**auth, "content-type": "application/octet-stream"})
    await c.post(f"{h}/site-deployments/{dep}/promote", json={"expectedLiveDeploymentId": None}, headers=auth)
    r = await c.post(f"{h}/files", files={"file": ("a.txt", b"soak file", "text/plain")}, data={"mode": "public"},
                     headers=auth)
    return {"dep": dep, "file": r.json()["id"]}


async def _client(base: str, auth: dict[str, str], seeded: dict[str, Any], until: float, stats: dict[str, Any],
                  rng: random.Random) -> None:
    h = "/v2/handles/soak"
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        n = 0
        while time.perf_counter() < until:
            n += 1
            kind = rng.random()
            t0 = time.perf_counter()
            try:
                if kind < 0.40:
                    r = await c.get(f"/l/soak/s{rng.randrange(50)}",
                                    headers={"User-Agent": rng.choice(["Mozilla/5.0 (iPhone)", "curl/8"])})
                elif kind < 0.55:
                    r = await c.get(f"{h}/links/s{rng.randrange(50)}", headers=auth)
                elif kind < 0.62:
                    r = await c.get(f"{h}/links", params={"limit": 20, "tag": "soak"}, headers=auth)
                elif kind < 0.70:
                    slug = f"w{rng.randrange(10**9)}"
                    r = await c.post(f"{h}/links", json={"slug": slug, "destination": "https://example.com/w"},
                                     headers=auth)
                elif kind < 0.75:
                    r = await c.post(f"{h}/links/s{rng.randrange(50)}/route-preview",
                                     json={"userAgent": "Mozilla/5.0 (iPhone)", "country": "FR"}, headers=auth)
                elif kind < 0.85:
                    r = await c.get("/profiles/soak/index.html")
                elif kind < 0.88:
                    r = await c.get(f"{h}/site-deployments/{seeded['dep']}/preview", headers=auth)
                elif kind < 0.91:
                    r = await c.get(f"/v2/public/files/{seeded['file']}")
                elif kind < 0.93:
                    r = await c.post(f"{h}/files", files={"file": ("u.txt", os.urandom(2048), "text/plain")},
                                     headers=auth)
                elif kind < 0.96:
                    r = await c.get("/l/soak/missing")
                else:
                    r = await c.get(f"{h}/links")  # anonymous: 401
                status = r.status_code
            except httpx.HTTPError as exc:
                status = 0
                stats["transport_errors"].append(repr(exc)[:200])
            stats["latencies"].append(time.perf_counter() - t0)
            stats["requests"] += 1
            if status >= 500 or status == 0:
                stats["errors"] += 1
                stats["error_samples"].append(status)
            stats["status"][status] = stats["status"].get(status, 0) + 1


async def _soak(base: str, token: str, proc: psutil.Process, duration: float, concurrency: int) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        seeded = await _seed(c, auth)
    stats: dict[str, Any] = {"requests": 0, "errors": 0, "latencies": [], "status": {}, "transport_errors": [],
                             "error_samples": []}
    rss: list[tuple[float, float]] = []
    start = time.perf_counter()
    until = start + duration

    async def sample() -> None:
        while time.perf_counter() < until:
            rss.append((time.perf_counter() - start, proc.memory_info().rss / 2**20))
            await asyncio.sleep(max(0.5, duration / 30))

    rng = random.Random(7)
    await asyncio.gather(sample(), *(_client(base, auth, seeded, until, stats, random.Random(rng.random()))
                                     for _ in range(concurrency)))
    rss.append((time.perf_counter() - start, proc.memory_info().rss / 2**20))
    lat = sorted(stats["latencies"])

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    third = [v for t, v in rss if t <= duration / 3] or [rss[0][1]]
    last = [v for t, v in rss if t >= 2 * duration / 3] or [rss[-1][1]]
    return {
        "durationS": round(time.perf_counter() - start, 1), "concurrency": concurrency,
        "requests": stats["requests"], "rps": round(stats["requests"] / duration, 1), "errors": stats["errors"],
        "errorSamples": stats["error_samples"][:10], "transportErrors": stats["transport_errors"][:5],
        "status": {str(k): v for k, v in sorted(stats["status"].items())},
        "p50Ms": pct(0.50), "p95Ms": pct(0.95), "p99Ms": pct(0.99),
        "rssFirstThirdMiB": round(max(third), 1), "rssLastThirdMiB": round(max(last), 1),
        "rssGrowthMiB": round(max(last) - max(third), 1),
        "rssSamples": [round(v, 1) for _, v in rss],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=float(os.environ.get("SOAK_DURATION", "180")))
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rss-slack-mib", type=float, default=40.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gharart-soak-") as tmp:
        server, base, token = _start(Path(tmp) / "data")
        try:
            result = asyncio.run(_soak(base, token, psutil.Process(server.pid), args.duration, args.concurrency))
        finally:
            server.terminate()
            server.wait(timeout=20)
    ok = result["errors"] == 0 and result["rssGrowthMiB"] <= args.rss_slack_mib
    result["ok"] = ok
    if args.json:
        print(json.dumps(result))
    else:
        print(f"soak {result['durationS']} s, {result['concurrency']} clients: {result['requests']} requests "
              f"({result['rps']}/s), {result['errors']} errors, p50 {result['p50Ms']} ms, p95 {result['p95Ms']} ms, "
              f"p99 {result['p99Ms']} ms")
        print(f"status counts: {result['status']}")
        print(f"RSS MiB: first third {result['rssFirstThirdMiB']}, last third {result['rssLastThirdMiB']} "
              f"(growth {result['rssGrowthMiB']}, slack {args.rss_slack_mib}) -> {'flat' if ok else 'GROWING'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
