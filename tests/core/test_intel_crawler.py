"""The crawler over a fake page source: bounds, robots, redirects, and the reachability property."""

from __future__ import annotations

import asyncio
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from gharart_core.intel.crawler import Crawler, HostLimiter
from gharart_core.intel.model import CrawlLimits
from gharart_core.intel.ports import FetchedPage

HOST = "http://site.localhost"


class GraphSource:
    """Node i is ``/p{i}`` (node 0 is ``/``); edges become ``<a href>``s."""

    def __init__(
        self,
        edges: dict[int, list[int]],
        *,
        robots: str | None = None,
        delay: float = 0.0,
        extra: dict[str, FetchedPage] | None = None,
    ) -> None:
        self.edges = edges
        self.robots = robots
        self.delay = delay
        self.extra = extra or {}
        self.fetched: list[str] = []
        self.active = 0
        self.peak = 0

    @staticmethod
    def url(i: int) -> str:
        return f"{HOST}/" if i == 0 else f"{HOST}/p{i}"

    async def get(self, url: str, *, max_bytes: int, timeout_s: float) -> FetchedPage:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if url.endswith("/robots.txt"):
                if self.robots is None:
                    return FetchedPage(url, 404, "text/plain", b"")
                return FetchedPage(url, 200, "text/plain", self.robots.encode())
            self.fetched.append(url)
            if self.delay:
                await asyncio.sleep(self.delay)
            if url in self.extra:
                return self.extra[url]
            node = 0 if url == f"{HOST}/" else int(url.rsplit("/p", 1)[1]) if "/p" in url else None
            if node is None or node not in self.edges:
                return FetchedPage(url, 404, "text/html", b"<title>nope</title>")
            body = f"<title>n{node}</title>" + "".join(
                f'<a href="{self.url(j)}">x</a>' for j in self.edges[node]
            )
            return FetchedPage(url, 200, "text/html; charset=utf-8", body.encode()[:max_bytes])
        finally:
            self.active -= 1


def crawl(source, **limits):
    return asyncio.run(Crawler(source, CrawlLimits(**limits)).crawl(f"{HOST}/"))


def test_cycles_are_visited_once_and_broken_links_found():
    src = GraphSource({0: [1, 2], 1: [0, 2, 9], 2: [1, 0]})
    result = crawl(src)
    assert sorted(p.url for p in result.pages) == sorted([GraphSource.url(i) for i in (0, 1, 2, 9)])
    assert len(src.fetched) == 4
    assert [(b.from_url, b.to_url, b.status) for b in result.broken_links] == [
        (f"{HOST}/p1", f"{HOST}/p9", 404)
    ]
    home = result.pages[0]
    assert home.title == "n0" and home.status == 200 and len(home.digest) == 64


def test_robots_disallow_is_respected():
    src = GraphSource({0: [1, 2], 1: [], 2: [3], 3: []}, robots="User-agent: *\nDisallow: /p2\n")
    result = crawl(src)
    assert sorted(p.url for p in result.pages) == [f"{HOST}/", f"{HOST}/p1"]
    assert f"{HOST}/p2" in result.robots_skipped


def test_redirect_is_recorded_and_followed_on_the_same_host_only():
    extra = {
        f"{HOST}/p1": FetchedPage(f"{HOST}/p1", 301, "text/html", b"", headers={"Location": "/p2"}),
        f"{HOST}/p3": FetchedPage(
            f"{HOST}/p3", 302, None, b"", headers={"location": "https://evil.example/"}
        ),
    }
    src = GraphSource({0: [1, 3], 2: []}, extra=extra)
    result = crawl(src)
    statuses = {p.url: p.status for p in result.pages}
    assert statuses == {f"{HOST}/": 200, f"{HOST}/p1": 301, f"{HOST}/p2": 200, f"{HOST}/p3": 302}


def test_page_and_depth_bounds():
    chain = {i: [i + 1] for i in range(50)}
    assert len(crawl(GraphSource(chain), max_depth=3).pages) == 4
    result = crawl(GraphSource(chain), max_pages=7)
    assert len(result.pages) == 7 and result.stopped == "max_pages"


def test_time_budget_and_slow_pages():
    star = {0: list(range(1, 30)), **{i: [] for i in range(1, 30)}}
    src = GraphSource(star, delay=0.05)
    result = crawl(src, time_budget_s=0.12, page_timeout_s=0.03, concurrency=2)
    assert result.pages[0].error == "timeout" and result.pages[0].status is None
    assert len(result.pages) == 1  # the home page timed out, so nothing else was discovered
    slow_leaf = GraphSource(star, delay=0.0)
    result = crawl(slow_leaf, time_budget_s=5)
    assert len(result.pages) == 30


def test_time_budget_stops_the_walk_and_keeps_what_was_fetched():
    chain = {i: [i + 1] for i in range(100)}
    src = GraphSource(chain, delay=0.01)
    result = crawl(src, time_budget_s=0.1, page_timeout_s=1)
    assert result.stopped == "time_budget"
    assert 2 <= len(result.pages) < 20
    assert all(p.status == 200 for p in result.pages)


def test_per_host_concurrency_is_shared():
    star = {0: list(range(1, 40)), **{i: [] for i in range(1, 40)}}
    src = GraphSource(star, delay=0.005)
    limiter = HostLimiter(per_host=3)

    async def two_crawls():
        c = CrawlLimits(concurrency=10)
        await asyncio.gather(
            Crawler(src, c, host_limiter=limiter).crawl(f"{HOST}/"),
            Crawler(src, c, host_limiter=limiter).crawl(f"{HOST}/"),
        )

    asyncio.run(two_crawls())
    assert src.peak <= 3


def reachable(edges: dict[int, list[int]], max_depth: int) -> set[int]:
    seen = {0: 0}
    queue = deque([0])
    while queue:
        n = queue.popleft()
        if seen[n] >= max_depth:
            continue
        for m in edges.get(n, []):
            if m not in seen:
                seen[m] = seen[n] + 1
                queue.append(m)
    return set(seen)


graphs = st.integers(min_value=1, max_value=25).flatmap(
    lambda n: st.dictionaries(
        st.integers(0, n - 1), st.lists(st.integers(0, n - 1), max_size=5), min_size=1, max_size=n
    )
)


@settings(max_examples=40)
@given(graphs, st.integers(0, 6), st.integers(1, 40))
def test_visits_exactly_the_pages_reachable_within_bounds(edges, max_depth, max_pages):
    edges.setdefault(0, [])
    src = GraphSource(edges)
    result = crawl(src, max_depth=max_depth, max_pages=max_pages, concurrency=3)
    visited = {u for u in (p.url for p in result.pages)}
    expected = {GraphSource.url(i) for i in reachable(edges, max_depth)}
    if len(expected) <= max_pages:
        assert visited == expected
    else:
        assert visited <= expected and len(visited) == max_pages
    assert len(src.fetched) == len(visited)  # nothing fetched twice


class RobotsDown(GraphSource):
    async def get(self, url, *, max_bytes, timeout_s):
        if url.endswith("/robots.txt"):
            return FetchedPage(url, 503, "text/html", b"down")
        return await super().get(url, max_bytes=max_bytes, timeout_s=timeout_s)


def test_robots_5xx_keeps_the_crawl_to_the_start_page():
    src = RobotsDown({0: [1, 2], 1: [], 2: []})
    result = crawl(src)
    assert [p.url for p in result.pages] == [f"{HOST}/"]
    assert src.fetched == [f"{HOST}/"]
