"""Internal docs policy benchmarks (SPEC §12 style: each baseline measured in the same run).

1. Evaluator: decide 10,000 paths against a 500-rule policy with the prefix-indexed
   ``CompiledPolicy`` vs the naive scan over every rule (``evaluate_naive``). Both must agree.
2. Edge route: ``GET /_edge/docs/{handle}/{path}`` (authentication, policy decision, audited read,
   streamed bytes) vs a bare Litestar handler serving the same page bytes from the same object
   store without any policy. Both in-process through the same ASGI client, sequential requests.

    PYTHONPATH=src .venv/bin/python benchmarks/docs_policy.py
    BENCH_STORE=memory BENCH_REQUESTS=500 ...   (default: SQLite in a temp dir, 1,000 requests)
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

import httpx
from litestar import Litestar, get
from litestar.response import Stream

from gharart_core.docs.model import Caller, Effect, Policy, Principals, Rule
from gharart_core.docs.rules import CompiledPolicy, evaluate_naive
from gharart_core.identity.model import Role

N_RULES = 500
N_PATHS = 10_000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))


def make_policy(rng: random.Random) -> tuple[Policy, list[str]]:
    sections = [f"/s{i}" for i in range(60)]
    prefixes = sections + [f"{s}/t{j}" for s in sections for j in range(8)]
    rules = []
    for i in range(N_RULES):
        who = rng.choice(
            [
                Principals(anyone=True),
                Principals(roles=frozenset({Role.EDITOR})),
                Principals(email_domains=frozenset({f"p{i % 17}.com"})),
                Principals(emails=frozenset({f"u{i}@acme.com"})),
            ]
        )
        rules.append(
            Rule(f"r{i}", rng.choice(prefixes), rng.choice([Effect.ALLOW, Effect.ALLOW, Effect.DENY]), who)
        )
    paths = [
        f"{rng.choice(prefixes)}/doc{rng.randrange(1000)}/page{rng.randrange(50)}.md" for _ in range(N_PATHS)
    ]
    return Policy(2, tuple(rules)), paths


def bench_evaluator() -> float:
    rng = random.Random(7)
    policy, paths = make_policy(rng)
    callers = [
        Caller(anonymous=True),
        Caller(role=Role.VIEWER, email="v@acme.com"),
        Caller(email="x@p3.com"),
        Caller(role=Role.ADMIN, email="u5@acme.com"),
    ]
    work = [(p, callers[i % len(callers)]) for i, p in enumerate(paths)]
    t0 = time.perf_counter()
    naive = [evaluate_naive(policy, p, c) for p, c in work]
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = CompiledPolicy(policy)
    fast = [compiled.evaluate(p, c) for p, c in work]
    t_fast = time.perf_counter() - t0
    assert fast == naive, "compiled and naive evaluation disagree"
    allowed = sum(d.allowed for d in fast)
    print(
        f"evaluator: {N_PATHS} paths x {N_RULES} rules  naive {t_naive * 1000:.1f} ms  "
        f"compiled {t_fast * 1000:.1f} ms (compile included)  speed-up {t_naive / t_fast:.1f}x  "
        f"({allowed} allowed)"
    )
    print(f"evaluator: {N_PATHS / t_fast:,.0f} decisions/s")
    return t_naive / t_fast


async def bench_edge() -> float:
    from entrypoints.harness import make_harness

    store = os.environ.get("BENCH_STORE", "sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        kwargs = (
            {}
            if store == "memory"
            else {"database_url": f"sqlite+aiosqlite:///{tmp}/bench.db", "data_dir": Path(tmp)}
        )
        async with make_harness(**kwargs) as h:
            owner = await h.create_owner("acme", "owner@acme.com")
            body = ("# Brand kit\n" + "lorem ipsum " * 850).encode()  # ~10 KiB
            r = await h.client.put(
                "/v2/handles/acme/internal-docs/pages/kit/brand.md",
                json={"content": body.decode(), "classification": "internal"},
                headers=h.auth(owner),
            )
            assert r.status_code == 201, r.text
            rules = [
                {"id": f"r{i}", "pathPrefix": f"/s{i}", "effect": "allow", "principals": {"anyone": True}}
                for i in range(48)
            ] + [{"id": "kit", "pathPrefix": "/kit", "effect": "allow", "principals": {"anyone": True}}]
            r = await h.client.put(
                "/v2/handles/acme/internal-docs/access",
                json={"rules": rules},
                headers={**h.auth(owner), "If-Match": '"1"'},
            )
            assert r.status_code == 200, r.text
            objects = h.container.object_store()
            key = next(k for k in objects.objects) if hasattr(objects, "objects") else None

            @get("/raw/{path:path}")
            async def raw(path: str) -> Stream:
                async def chunks():
                    async for c in objects.get_stream(key):
                        yield c

                return Stream(chunks(), media_type="text/markdown")

            bare = Litestar([raw])
            bare_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://t")

            async def run(client: httpx.AsyncClient, url: str) -> float:
                for _ in range(50):
                    assert (await client.get(url)).status_code == 200
                t0 = time.perf_counter()
                for _ in range(REQUESTS):
                    resp = await client.get(url)
                    assert resp.status_code == 200 and len(resp.content) == len(body)
                return REQUESTS / (time.perf_counter() - t0)

            edge_rps = await run(h.client, "/_edge/docs/acme/kit/brand.md")
            bare_rps = await run(bare_client, "/raw/kit/brand.md")
            await bare_client.aclose()
    ratio = edge_rps / bare_rps
    print(
        f"edge route ({store}): {edge_rps:,.0f} req/s  bare Litestar serving the same bytes: "
        f"{bare_rps:,.0f} req/s  ratio {ratio:.2f}x (policy + audited read + middleware)"
    )
    return ratio


def main() -> None:
    bench_evaluator()
    asyncio.run(bench_edge())


if __name__ == "__main__":
    main()
