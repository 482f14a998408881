"""The replay diff and the replay gate (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gharart_core.intel.gate import check_replay_gate
from gharart_core.intel.model import BrokenLink, Reason, Run, Snapshot, SnapshotPage, transition_run
from gharart_core.intel.replay import diff_replay
from gharart_core.shared.errors import Conflict

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = "http://acme.localhost"


def page(path, status=200, digest="d1", links=()):
    return SnapshotPage(f"{H}{path}", status, "text/html", digest, None, tuple(links), 1.0)


def snap(*pages, broken=()):
    return Snapshot("snp_1", "acme", "acme.localhost", T0, tuple(pages), tuple(broken))


def test_identical_replay_passes_with_no_reasons():
    s = snap(page("/"), page("/a"))
    assert diff_replay(s, {p.url: p for p in s.pages}, []) == ("pass", ())


def test_content_change_alone_passes():
    s = snap(page("/"), page("/a"))
    verdict, reasons = diff_replay(s, {f"{H}/": page("/"), f"{H}/a": page("/a", digest="d2")}, [])
    assert verdict == "pass"
    assert reasons == (Reason("content_changed", f"{H}/a", "d1", "d2"),)


def test_missing_page_and_new_broken_link_fail():
    s = snap(page("/", links=[f"{H}/a"]), page("/a"))
    after = {f"{H}/": page("/", digest="d9"), f"{H}/a": page("/a", status=404)}
    broken = [BrokenLink(f"{H}/", f"{H}/a", 404), BrokenLink(f"{H}/", f"{H}/new", 404)]
    verdict, reasons = diff_replay(s, after, broken)
    assert verdict == "fail"
    kinds = [(r.kind, r.url) for r in reasons]
    assert ("page_missing", f"{H}/a") in kinds
    assert ("new_broken_link", f"{H}/new") in kinds and ("new_broken_link", f"{H}/a") in kinds


def test_known_broken_links_are_not_new():
    s = snap(page("/"), broken=[BrokenLink(f"{H}/", f"{H}/x", 404)])
    assert diff_replay(s, {f"{H}/": page("/")}, [BrokenLink(f"{H}/", f"{H}/x", 404)]) == ("pass", ())


@pytest.mark.parametrize(
    ("before", "after", "verdict"),
    [
        (200, 500, "fail"),
        (301, 403, "fail"),
        (200, None, "fail"),
        (200, 301, "pass"),
        (404, 200, "pass"),
        (500, 404, "pass"),
        (200, 410, "fail"),
    ],
)
def test_status_changes(before, after, verdict):
    s = snap(page("/x", status=before))
    assert diff_replay(s, {f"{H}/x": page("/x", status=after)}, [])[0] == verdict


@given(
    st.lists(st.tuples(st.sampled_from([200, 301, 404, 500]), st.sampled_from(["a", "b"])), max_size=6),
    st.lists(st.tuples(st.sampled_from([200, 301, 404, 500, None]), st.sampled_from(["a", "b"])), max_size=6),
)
def test_verdict_fails_iff_an_ok_page_stops_being_ok(before, after):
    pages = [page(f"/{i}", s, d) for i, (s, d) in enumerate(before)]
    now = {f"{H}/{i}": page(f"/{i}", s, d) for i, (s, d) in enumerate(after)}
    verdict, _ = diff_replay(snap(*pages), now, [])
    broken = any(
        200 <= p.status < 400
        and not (now.get(p.url) and now[p.url].status and 200 <= now[p.url].status < 400)
        for p in pages
    )
    assert verdict == ("fail" if broken else "pass")


def replay(run_id, verdict, finished, status="completed"):
    return Run(
        run_id,
        "acme",
        "replay",
        status,
        "acme.localhost",
        T0,
        finished_at=finished,
        verdict=verdict,
        deployment_id="dep_1",
        snapshot_id="snp_1",
    )


def test_gate_requires_a_fresh_passing_replay():
    now = T0 + timedelta(days=3)
    with pytest.raises(Conflict) as e:
        check_replay_gate("dep_1", [], now)
    assert e.value.code == "replay_gate_required"
    old = replay("run_1", "pass", now - timedelta(seconds=86401))
    with pytest.raises(Conflict) as e:
        check_replay_gate("dep_1", [old], now)
    assert e.value.code == "replay_gate_required"
    fresh = replay("run_2", "pass", now - timedelta(seconds=60))
    assert check_replay_gate("dep_1", [old, fresh], now) == fresh
    assert check_replay_gate("dep_1", [old], now, max_age_s=3 * 86400) == old


def test_gate_names_the_latest_failed_run():
    now = T0 + timedelta(hours=1)
    runs = [
        replay("run_1", "pass", now - timedelta(minutes=30)),
        replay("run_2", "fail", now - timedelta(minutes=5)),
        replay("run_3", None, None, status="running"),
    ]
    with pytest.raises(Conflict) as e:
        check_replay_gate("dep_1", runs, now)
    assert e.value.code == "replay_failed" and e.value.extra["runId"] == "run_2"
    runs.append(replay("run_4", "pass", now))
    assert check_replay_gate("dep_1", runs, now).id == "run_4"


def test_run_transitions():
    r = Run("run_1", "acme", "crawl", "queued", "acme.localhost", T0)
    r = transition_run(r, "running")
    r = transition_run(r, "completed")
    with pytest.raises(Conflict) as e:
        transition_run(r, "running")
    assert e.value.code == "invalid_transition"
