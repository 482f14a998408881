"""schemathesis against a running server: ``gharart serve`` (granian) on loopback, SQLite and the
filesystem store in a temporary data dir, every request over a real HTTP socket.

The document is the one the server serves (``schemathesis.openapi.from_url``). The server is seeded
through the API (``tests.seed``: handle ``acme``, its owner's PAT with every scope, a link, a live
deployment, a file with a share, an import run, a report, an escalation, a doc page, a binding).
Each operation runs twice: valid data on the seeded resources and invalid data (negative mode) on
them, with the checks of the in-process run (tests/e2e/test_schemathesis.py): no 5xx, a documented
status code and media type, a body matching the response schema. Then the OpenAPI links of the links
area (create -> get -> update with ``expectedVersion`` -> history -> rollback) run as a schemathesis
state machine over the same socket.

``SCHEMATHESIS_LIVE_EXAMPLES`` (default 3) bounds the examples per operation and mode;
``SCHEMATHESIS_LIVE_STEPS`` (default 25) the state machine's scenarios per suite.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
from schemathesis import GenerationMode
from tests.live_server import NO_THROTTLES, LiveHarness, LiveServer
from tests.schemathesis_checks import case_strategy, check_response
from tests.seed import Seed, seed

from entrypoints.containers import build_memory_container
from entrypoints.http.app import create_app
from entrypoints.http.openapi import complete_openapi

logging.getLogger("httpx").setLevel(logging.WARNING)
EXAMPLES = int(os.environ.get("SCHEMATHESIS_LIVE_EXAMPLES", "3"))
SCENARIOS = int(os.environ.get("SCHEMATHESIS_LIVE_STEPS", "25"))
OWNER = "owner@acme.example.com"


def _document() -> dict[str, Any]:
    app = create_app(build_memory_container())
    routes = [(r.path, set(getattr(r, "methods", ()))) for r in app.litestar.routes]
    return complete_openapi(app.litestar.openapi_schema.to_schema(), routes)


# Test ids come from the app's own document; the run uses the one the server serves (schemathesis
# leaves out the operation that serves the document it loaded).
KEYS = sorted(key for key in (f"{op.method.upper()} {op.path}" for op in
                              (r.ok() for r in schemathesis.openapi.from_dict(_document()).get_all_operations()))
              if key != "GET /schema/openapi.json")


class Live:
    def __init__(self, data: Path) -> None:
        self.server = LiveServer(data, GHARART_OPERATORS=OWNER, **NO_THROTTLES)
        self.server.start()
        self.seed: Seed = asyncio.run(self._seed())
        self.schema = schemathesis.openapi.from_url(f"{self.server.base}/schema/openapi.json", timeout=30)
        self.operations = {f"{op.method.upper()} {op.path}": op
                           for op in (r.ok() for r in self.schema.get_all_operations())}
        self.session = requests.Session()
        self.requests = 0
        self.flaky_suites = 0
        self.suites = 0

    async def _seed(self) -> Seed:
        h = LiveHarness(self.server)
        try:
            return await seed(h, operator=True)  # type: ignore[arg-type]
        finally:
            await h.aclose()

    def close(self) -> None:
        self.session.close()
        self.server.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = Live(tmp_path_factory.mktemp("schemathesis-live") / "data")
    try:
        yield env
    finally:
        stats = os.environ.get("SCHEMATHESIS_STATS")
        if stats:  # requests sent, for docs/reliability.md
            with open(stats, "a") as fh:
                fh.write(f"live operations={len(env.operations)} requests={env.requests} "
                         f"state-machine suites={env.suites} (cut short by replay drift: {env.flaky_suites})\n")
        env.close()
        log = env.server.log()
        assert "Traceback" not in log, log[-3000:]


def test_served_document_is_the_apps(live: Live) -> None:
    assert sorted(live.operations) == KEYS


# Transport-level refusals by the client library itself (a header value it will not put on the wire):
# nothing reached the server, so there is nothing to check.
_UNSENDABLE = (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeEncodeError)


@pytest.mark.parametrize("mode", ["seeded", "seeded-negative"])
@pytest.mark.parametrize("key", KEYS)
def test_operation_over_http(live: Live, key: str, mode: str) -> None:
    strategy, gen = case_strategy(live.operations[key], live.seed.path_values(), mode)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy, authed=st.sampled_from([True, True, True, False]))
    def run(case: Any, authed: bool) -> None:
        headers = {"Authorization": f"Bearer {live.seed.owner}"} if authed else {}
        try:
            response = case.call(base_url=live.server.base, session=live.session, headers=headers, timeout=30)
        except _UNSENDABLE:
            return
        live.requests += 1
        check_response(case, response)

    try:
        run()
    except Unsatisfiable:
        if gen is GenerationMode.POSITIVE:
            raise
        pytest.skip("nothing in this operation can be made invalid")


# -- stateful: the link lifecycle through the document's OpenAPI links --------------------------------
LIFECYCLE = re.compile(r"^/v2/handles/\{handle\}/links(/\{slug\}(/history|/rollback)?)?$")
_LINK = "/v2/handles/{handle}/links/{slug}"
_LIFECYCLE_STEPS = {("POST", "/v2/handles/{handle}/links", 201), ("GET", _LINK, 200), ("PATCH", _LINK, 200),
                    ("GET", f"{_LINK}/history", 200)}
_ROLLBACK = ("POST", f"{_LINK}/rollback")
SUITES = 16


def _covered(seen: set[tuple[str, str, int]]) -> bool:
    """Every lifecycle step answered 2xx, and the rollback step was reached. A generated rollback
    body only sometimes names a version the link really has: 200 when it does, otherwise the exact
    refusals (409 stale_version/already_current, 422 version_not_found, 428) — every answer is
    checked against the document either way."""
    return seen >= _LIFECYCLE_STEPS and any((m, p) == _ROLLBACK for m, p, _ in seen)


def test_link_lifecycle_state_machine(live: Live) -> None:
    """schemathesis follows the links the document declares: create -> get / update (``expectedVersion``
    from the previous answer) -> history -> rollback (``expectedCurrentVersion``), in generated orders."""
    schema = live.schema.include(path_regex=LIFECYCLE.pattern, method=["GET", "POST", "PATCH"])
    seen: set[tuple[str, str, int]] = set()
    created = [0]
    owner = live.seed.owner
    handle = live.seed.handle

    class LinkLifecycle(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            # Pin the seeded handle, and give every create a fresh slug and a reachable destination: the
            # server keeps its state between scenarios, and a replayed scenario must meet the same answers
            # (a slug taken by an earlier scenario would turn its 201 into a 409).
            case.path_parameters["handle"] = handle
            if case.method == "POST" and case.path.endswith("/links") and isinstance(case.body, dict):
                created[0] += 1
                case.body["slug"] = f"life-{created[0]}"
                case.body["destination"] = f"https://example.com/life/{created[0]}"

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live.server.base, "session": live.session, "timeout": 30,
                    "headers": {"Authorization": f"Bearer {owner}"}}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            live.requests += 1
            seen.add((case.method, case.path, response.status_code))
            check_response(case, response)

    # Like schemathesis' own engine: the server keeps its state, so a scenario Hypothesis replays can
    # meet other answers and stop choosing the same rules (FlakyStrategyDefinition). That is no finding;
    # the next suite starts from a new seed. A failed check (even one that did not reproduce) is raised.
    for suite in range(SUITES):
        live.suites += 1
        try:
            hypothesis.seed(suite)(LinkLifecycle).run(settings=settings(
                max_examples=SCENARIOS, stateful_step_count=8, deadline=None, database=None,
                phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
        except FlakyStrategyDefinition:
            live.flaky_suites += 1
        if _covered(seen) and (*_ROLLBACK, 200) in seen:
            break
    assert _covered(seen), sorted(seen)
