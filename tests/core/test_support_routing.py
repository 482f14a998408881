"""Routing policy: one queue per artifact kind, request routes, priorities; total and deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.support.model import Priority, Queue
from gharart_core.support.routing import (
    CODE_PRIORITY,
    KIND_QUEUES,
    PREFIX_QUEUES,
    RUN_KIND_QUEUES,
    RoutingInput,
    queue_for_route,
    route,
)

ULID = "01J9Z3K4M5N6P7Q8R9S0T1V2W3"


@pytest.mark.parametrize(
    ("artifact", "queue"),
    [
        (f"dep_{ULID}", Queue.SITES),
        (f"snp_{ULID}", Queue.SITES),
        (f"fb_{ULID}", Queue.SITES),
        (f"lnk_{ULID}", Queue.LINKS),
        ("summer-sale", Queue.LINKS),
        ("acme/summer-sale", Queue.LINKS),
        ("https://gharart.test/l/acme/summer", Queue.LINKS),
        (f"fil_{ULID}", Queue.FILES),
        (f"shr_{ULID}", Queue.FILES),
        (f"/v2/public/files/fil_{ULID}", Queue.FILES),
        (f"pg_{ULID}", Queue.DOCS),
        ("/_edge/docs/acme/handbook/intro", Queue.DOCS),
        (f"pat_{ULID}", Queue.ACCOUNT),
        (f"usr_{ULID}", Queue.ACCOUNT),
        ("gha_pat_abcd…(redacted)", Queue.ACCOUNT),
        ("/profiles/acme/index.html", Queue.SITES),
    ],
)
def test_artifact_prefix_picks_the_queue(artifact: str, queue: Queue) -> None:
    decision = route(RoutingInput(artifact=artifact, request_route="/v2/handles/{handle}/files"))
    assert decision.queue is queue
    assert decision.basis == "artifact"


@pytest.mark.parametrize(
    ("run_kind", "queue"),
    [("health_check", Queue.LINKS), ("import", Queue.LINKS), ("crawl", Queue.SITES), ("replay", Queue.SITES)],
)
def test_run_ids_are_routed_by_their_looked_up_kind(run_kind: str, queue: Queue) -> None:
    assert route(RoutingInput(artifact=f"run_{ULID}", artifact_kind=run_kind)).queue is queue


def test_unresolved_run_falls_through_to_the_request_route_then_general() -> None:
    run = f"run_{ULID}"
    assert (
        route(RoutingInput(artifact=run, request_route="/v2/handles/{handle}/links/health-check")).queue
        is Queue.LINKS
    )
    decision = route(RoutingInput(artifact=run))
    assert (decision.queue, decision.basis) == (Queue.GENERAL, "default")


def test_resolved_kind_wins_over_the_raw_prefix() -> None:
    assert route(RoutingInput(artifact="promo", artifact_kind="link")).queue is Queue.LINKS
    assert route(RoutingInput(artifact=f"shr_{ULID}", artifact_kind="share")).queue is Queue.FILES


@pytest.mark.parametrize(
    ("route_", "queue"),
    [
        ("/v2/handles/{handle}/site-deployments", Queue.SITES),
        ("/v2/handles/x/site-deployments/dep_1/preview", Queue.SITES),
        ("/v2/handles/{handle}/site-mode", Queue.SITES),
        ("/v2/handles/{handle}/function-bindings", Queue.SITES),
        ("/v2/handles/{handle}/site-intel/{hostname}/crawl-runs", Queue.SITES),
        ("/profiles/{handle}/{path:path}", Queue.SITES),
        ("/v2/handles/{handle}/links/{slug}/rollback", Queue.LINKS),
        ("/v2/handles/{handle}/links/bulk-import", Queue.LINKS),
        ("/l/{handle}/{slug}", Queue.LINKS),
        ("/v2/handles/{handle}/files/{fileId}", Queue.FILES),
        ("/v2/public/files/{fileId}/magic-link", Queue.FILES),
        ("/v2/handles/{handle}/internal-docs/access", Queue.DOCS),
        ("/_edge/docs/{handle}/{path:path}", Queue.DOCS),
        ("/v2/tokens", Queue.ACCOUNT),
        ("/v2/handles/{handle}/members/{userId}", Queue.ACCOUNT),
        ("/v2/handles/{handle}", Queue.ACCOUNT),
        ("/v2/handles/{handle}/audit-log", Queue.ACCOUNT),
        ("/healthz", None),
        ("/v2/support/report", None),
        ("GET /v2/handles/{handle}/site-deployments/{deploymentId}/preview", Queue.SITES),
        ("POST /v2/handles/{handle}/links/bulk-import", Queue.LINKS),
        ("GET unmatched", None),
        ("/v2/handles/site/files/fil_1", Queue.FILES),
        ("/v2/handles/site", Queue.ACCOUNT),
        ("/v2/handles/members/links", Queue.LINKS),
    ],
)
def test_request_routes_map_to_queues(route_: str, queue: Queue | None) -> None:
    assert queue_for_route(route_) is queue
    expected = queue or Queue.GENERAL
    assert route(RoutingInput(request_route=route_)).queue is expected


def test_priorities_from_codes_status_and_keywords() -> None:
    assert route(RoutingInput(request_code="artifact_missing", request_status=409)).priority is Priority.HIGH
    assert route(RoutingInput(request_status=503)).priority is Priority.URGENT
    assert route(RoutingInput(text="Possible security issue with tokens")).priority is Priority.URGENT
    assert route(RoutingInput(text="Our production site is down")).priority is Priority.HIGH
    assert route(RoutingInput(text="Quick question about exports")).priority is Priority.LOW
    assert (
        route(RoutingInput(text="Quick question", request_code="artifact_missing")).priority is Priority.HIGH
    )
    assert route(RoutingInput(text="The downloads page")).priority is Priority.NORMAL  # whole words only
    assert route(RoutingInput()).priority is Priority.NORMAL


def test_tables_only_name_known_queues_and_priorities() -> None:
    assert set(PREFIX_QUEUES.values()) | set(KIND_QUEUES.values()) | set(RUN_KIND_QUEUES.values()) <= set(
        Queue
    )
    assert set(CODE_PRIORITY.values()) <= set(Priority)
    assert "run" not in PREFIX_QUEUES  # runs are looked up, never guessed


maybe_text = (
    st.none()
    | st.text(max_size=80)
    | st.sampled_from(
        [f"dep_{ULID}", f"run_{ULID}", "lnk_x", "/l/a/b", "https://x/profiles/a", "a/b", "gha_pat_x", ""]
    )
)
inputs = st.builds(
    RoutingInput,
    artifact=maybe_text,
    artifact_kind=st.none()
    | st.sampled_from([*KIND_QUEUES, *RUN_KIND_QUEUES, "weird"])
    | st.text(max_size=10),
    request_route=maybe_text,
    request_status=st.none() | st.integers(min_value=-1000, max_value=1000),
    request_code=st.none() | st.sampled_from(list(CODE_PRIORITY)) | st.text(max_size=20),
    text=st.text(max_size=200),
    handle=st.none() | st.text(max_size=40),
)


@given(inputs)
def test_routing_is_total_and_deterministic(inp: RoutingInput) -> None:
    first = route(inp)
    assert first.queue in set(Queue)
    assert first.priority in set(Priority)
    assert route(inp) == first
    assert first.basis in {"artifact", "request", "default"}


@given(inputs)
def test_artifact_queue_takes_precedence_over_the_request(inp: RoutingInput) -> None:
    with_artifact = route(inp)
    if with_artifact.basis == "artifact":
        other = RoutingInput(
            artifact=inp.artifact, artifact_kind=inp.artifact_kind, request_route="/v2/tokens"
        )
        assert route(other).queue is with_artifact.queue
