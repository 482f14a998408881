"""Re-deploy of a 2,000-file site with one changed file, over the HTTP API (SQLite, filesystem
object store, in-process ASGI client): counts the blobs uploaded and times the manifest create.

    PYTHONPATH=src python benchmarks/sites_redeploy.py [--files 2000]

SPEC §12 bar: exactly 1 blob uploaded; manifest create < 0.5 s server time. The baseline is the
first deploy's manifest create (every blob required) measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from pathlib import Path

from entrypoints.harness import make_harness
from entrypoints.settings import DEFAULT_RATE_LIMITS, parse_rate_limits


def site(n: int, version: int) -> dict[str, bytes]:
    files = {f"pages/p{i:05d}.html": f"<h1>page {i}</h1>".encode() * 20 for i in range(n - 1)}
    files["index.html"] = f"<h1>home v{version}</h1>".encode()
    return files


async def deploy(h, tok: str, files: dict[str, bytes]) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    manifest = {p: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for p, b in files.items()}
    by = {hashlib.sha256(b).hexdigest(): b for b in files.values()}
    t0 = time.perf_counter()
    r = await h.client.post("/v2/handles/bench/site-deployments", json={"manifest": manifest}, headers=h.auth(tok))
    create_s = time.perf_counter() - t0
    assert r.status_code == 201, r.text
    dep = r.json()
    t1 = time.perf_counter()
    for digest in dep["required"]:
        u = await h.client.put(
            f"/v2/handles/bench/site-deployments/{dep['id']}/files/{digest}", content=by[digest], headers=h.auth(tok)
        )
        assert u.status_code == 200, u.text
        dep = u.json()
    assert dep["status"] == "deployed"
    return create_s, time.perf_counter() - t1, len(r.json()["required"])


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sites-redeploy-") as d:
        url = f"sqlite+aiosqlite:///{d}/gharart.db"
        # one client uploads 2,000 blobs back to back: the per-actor API throttle is raised for the run
        limits = {**parse_rate_limits(DEFAULT_RATE_LIMITS), **parse_rate_limits("api=1000000/s:1000000")}
        async with make_harness(database_url=url, data_dir=Path(d), daily_deployments=10_000,
                                rate_limits=limits) as h:
            tok = await h.create_owner("bench")
            c1, u1, n1 = await deploy(h, tok, site(n, 1))
            c2, u2, n2 = await deploy(h, tok, site(n, 2))
    print(f"first deploy of {n} files: manifest create {c1 * 1000:.0f} ms, {n1} blobs uploaded in {u1:.2f} s")
    print(
        f"re-deploy with one changed file: manifest create {c2 * 1000:.0f} ms, {n2} blob(s) uploaded "
        f"in {u2 * 1000:.0f} ms"
    )
    print(f"blobs uploaded on re-deploy: {n2}  (bar: exactly 1) -> {'ok' if n2 == 1 else 'FAIL'}")
    print(f"manifest create: {c2:.3f} s  (bar < 0.5 s) -> {'ok' if c2 < 0.5 else 'FAIL'}")
    print(f"ratio (re-deploy create / first-deploy create): {c2 / c1:.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    asyncio.run(main(ap.parse_args().files))
