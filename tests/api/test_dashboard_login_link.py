"""Dashboard sign-in by email magic link, over the in-memory harness (and SQL for the full flow)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx

from entrypoints.harness import Harness, make_harness
from gharart_core.identity.login_links import SESSION_SCOPES
from tests.api.test_dashboard_pages import D, csrf_of, problem_code

OWNER = "owner@acme.example.com"
LINK_RE = re.compile(r"(https?://\S+)/dashboard/login/link\?token=([A-Za-z0-9_\-]+)")
SENT = "If that address belongs to an account, a sign-in link is on its way"


def browser(h: Harness, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app, client=(ip, 50001)),
                             base_url="http://testserver")


async def ask_for_link(b: httpx.AsyncClient, email: str) -> httpx.Response:
    csrf = csrf_of((await b.get(f"{D}/login")).text)
    return await b.post(f"{D}/login/email", data={"csrf": csrf, "email": email})


async def mailed_link(h: Harness, email: str) -> tuple[str, str]:
    await h.drain()
    messages = h.outbox.to(email)
    assert len(messages) == 1, [m.subject for m in h.outbox.messages]
    m = LINK_RE.search(messages[0].text)
    assert m, messages[0].text
    return m.group(0), m.group(2)


async def confirm(b: httpx.AsyncClient, url: str) -> httpx.Response:
    """Open the mailed link, then press the button on the confirmation page."""
    page = await b.get(url)
    if page.status_code != 200:
        return page
    assert 'id="link-form"' in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return await b.post(f"{D}/login/link", data={"csrf": csrf_of(page.text), "token": token})


def _main(html: str) -> str:
    """The page without the per-browser CSRF value."""
    return re.sub(r'name="csrf" value="[^"]+"', "", html)


async def test_unknown_and_known_addresses_get_the_same_page_and_only_the_known_one_mail(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness) as b:
        unknown = await ask_for_link(b, "nobody@acme.example.com")
        known = await ask_for_link(b, OWNER)
    assert unknown.status_code == known.status_code == 200
    assert SENT in unknown.text
    assert _main(unknown.text) == _main(known.text)
    await harness.drain()
    assert harness.outbox.to("nobody@acme.example.com") == []
    assert len(harness.outbox.to(OWNER)) == 1
    assert harness.outbox.messages[-1].subject == "Your Gharart sign-in link"


async def test_the_mailed_link_signs_in_once_with_a_session_pat(harness: Harness) -> None:
    owner = await harness.create_owner("acme")
    async with browser(harness) as b:
        await ask_for_link(b, OWNER)
    url, _secret = await mailed_link(harness, OWNER)
    assert url.startswith("http://testserver/dashboard/login/link?token=")
    async with browser(harness) as b:
        # opening the link (as a mail scanner would, twice) uses nothing up
        assert (await b.get(url)).status_code == 200
        r = await confirm(b, url)
        assert r.status_code == 303 and r.headers["location"] == f"{D}/"
        home = await b.get(f"{D}/")
        assert 'data-handle="acme"' in home.text and "role-owner" in home.text
        assert "Signed in with your email link." in home.text
        session = b.cookies.get("gharart_dash", path=D)
        assert session and session.startswith("gha_pat_") and session != owner
    tokens = (await harness.client.get("/v2/tokens", headers=harness.auth(session))).json()["items"]
    minted = next(t for t in tokens if t["name"] == "dashboard sign-in")
    assert set(minted["scopes"]) == SESSION_SCOPES and "operator" not in minted["scopes"]
    assert minted["handle"] is None
    assert minted["expiresAt"].startswith((harness.clock.now() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"))
    audit = [e for e in harness.container.state().table("audit").values() if e.action == "login.link"]
    assert len(audit) == 1 and audit[0].target == minted["id"] and audit[0].credential_id == minted["id"]
    # second use, from this or any other browser: refused, no new session
    async with browser(harness) as other:
        r = await confirm(other, url)
        assert r.status_code == 403 and problem_code(r.text) == ["login_link_invalid"]
        assert 'id="email-form"' in r.text  # a new link is one form away
        assert other.cookies.get("gharart_dash", path=D) is None


async def test_a_used_link_is_refused_on_the_button_too(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness) as b:
        await ask_for_link(b, OWNER)
    url, secret = await mailed_link(harness, OWNER)
    async with browser(harness) as b:
        page = await b.get(url)
        csrf = csrf_of(page.text)
        first = await b.post(f"{D}/login/link", data={"csrf": csrf, "token": secret})
        again = await b.post(f"{D}/login/link", data={"csrf": csrf, "token": secret})
    assert first.status_code == 303
    assert again.status_code == 403 and problem_code(again.text) == ["login_link_invalid"]
    tokens = [t for t in harness.container.state().table("tokens").values() if t.name == "dashboard sign-in"]
    assert len(tokens) == 1


async def test_an_expired_link_is_refused(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness) as b:
        await ask_for_link(b, OWNER)
    url, secret = await mailed_link(harness, OWNER)
    harness.clock.advance(seconds=899)
    async with browser(harness) as b:
        assert (await b.get(url)).status_code == 200  # still fine one second before
        harness.clock.advance(seconds=1)
        r = await b.get(url)
        assert r.status_code == 403 and problem_code(r.text) == ["login_link_expired"]
        r = await b.post(f"{D}/login/link", data={"csrf": csrf_of(r.text), "token": secret})
        assert r.status_code == 403 and problem_code(r.text) == ["login_link_expired"]
        assert b.cookies.get("gharart_dash", path=D) is None


async def test_unknown_forged_or_missing_tokens_are_invalid(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness) as b:
        for query in ("", "?token=", "?token=" + "A" * 32, "?token=" + "x" * 500, "?token=%00%0a"):
            r = await b.get(f"{D}/login/link{query}")
            assert r.status_code == 403, query
            assert problem_code(r.text) == ["login_link_invalid"], query
        csrf = csrf_of(r.text)
        for token in ("", "A" * 32, "gha_pat_x"):
            r = await b.post(f"{D}/login/link", data={"csrf": csrf, "token": token})
            assert r.status_code == 403 and problem_code(r.text) == ["login_link_invalid"]


async def test_the_link_uses_the_public_url_when_set() -> None:
    async with make_harness(public_url="https://go.example.com/") as h:
        await h.create_owner("acme")
        async with browser(h) as b:
            await ask_for_link(b, OWNER)
        url, _ = await mailed_link(h, OWNER)
        assert url.startswith("https://go.example.com/dashboard/login/link?token=")


async def test_a_malformed_address_is_a_field_error(harness: Harness) -> None:
    async with browser(harness) as b:
        r = await ask_for_link(b, "not-an-address")
        assert r.status_code == 422 and problem_code(r.text) == ["validation_failed"]
        assert "invalid_email" in r.text and 'value="not-an-address"' in r.text
        r = await ask_for_link(b, "")
        assert r.status_code == 422 and "required" in r.text
    await harness.drain()
    assert harness.outbox.messages == []


async def test_requests_are_throttled_per_ip_and_per_email(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness, "10.0.0.1") as b:
        for i in range(5):
            assert (await ask_for_link(b, f"someone{i}@example.com")).status_code == 200
        r = await ask_for_link(b, OWNER)
        assert r.status_code == 429 and problem_code(r.text) == ["rate_limited"]
        assert int(r.headers["retry-after"]) >= 1 and "login_link" in r.text
    for i in range(5):  # one address from many places
        async with browser(harness, f"10.0.1.{i}") as b:
            assert (await ask_for_link(b, OWNER)).status_code == 200
    async with browser(harness, "10.0.2.1") as b:
        r = await ask_for_link(b, OWNER.upper())  # the same account (and bucket) whatever the case
        assert r.status_code == 429 and problem_code(r.text) == ["rate_limited"]
    await harness.drain()
    assert len(harness.outbox.to(OWNER)) == 5


async def test_csrf_is_required(harness: Harness) -> None:
    await harness.create_owner("acme")
    async with browser(harness) as b:
        await b.get(f"{D}/login")
        for data in ({"email": OWNER}, {"email": OWNER, "csrf": "forged"}):
            r = await b.post(f"{D}/login/email", data=data)
            assert r.status_code == 403 and problem_code(r.text) == ["csrf_failed"]
        await harness.drain()
        assert harness.outbox.messages == []
        await ask_for_link(b, OWNER)
    url, secret = await mailed_link(harness, OWNER)
    async with browser(harness) as b:
        await b.get(url)
        r = await b.post(f"{D}/login/link", data={"token": secret})
        assert r.status_code == 403 and problem_code(r.text) == ["csrf_failed"]
        assert (await confirm(b, url)).status_code == 303  # the refused POST did not use the link


async def test_sign_out_revokes_the_session_pat_but_not_a_pasted_one(harness: Harness) -> None:
    owner = await harness.create_owner("acme")
    async with browser(harness) as b:
        await ask_for_link(b, OWNER)
        url, _ = await mailed_link(harness, OWNER)
        assert (await confirm(b, url)).status_code == 303
        session = b.cookies.get("gharart_dash", path=D)
        assert (await harness.client.get("/v2/handles", headers=harness.auth(session))).status_code == 200
        home = await b.get(f"{D}/")
        r = await b.post(f"{D}/logout", data={"csrf": csrf_of(home.text)})
        assert r.status_code == 303
    assert (await harness.client.get("/v2/handles", headers=harness.auth(session))).status_code == 401
    async with browser(harness) as b:
        csrf = csrf_of((await b.get(f"{D}/login")).text)
        assert (await b.post(f"{D}/login", data={"csrf": csrf, "token": owner})).status_code == 303
        await b.post(f"{D}/logout", data={"csrf": csrf})
    assert (await harness.client.get("/v2/handles", headers=harness.auth(owner))).status_code == 200


async def test_operators_get_no_operator_scope_from_a_link() -> None:
    async with make_harness() as h:
        await h.create_user_token("ops@example.com", operator=True)
        async with browser(h) as b:
            await ask_for_link(b, "ops@example.com")
            url, _ = await mailed_link(h, "ops@example.com")
            assert (await confirm(b, url)).status_code == 303
            r = await b.get(f"{D}/operator")
            assert problem_code(r.text) == ["operator_only"]


async def test_the_flow_over_every_store_and_concurrent_uses(any_harness: Harness) -> None:
    h = any_harness
    await h.create_owner("acme")
    async with browser(h) as b:
        assert (await ask_for_link(b, OWNER)).status_code == 200
    url, secret = await mailed_link(h, OWNER)
    async with browser(h) as b1, browser(h) as b2:
        pages = [await b1.get(url), await b2.get(url)]
        assert [p.status_code for p in pages] == [200, 200]
        results = await asyncio.gather(*(
            b.post(f"{D}/login/link", data={"csrf": csrf_of(p.text), "token": secret})
            for b, p in ((b1, pages[0]), (b2, pages[1]))))
        assert sorted(r.status_code for r in results) == [303, 403]
        winner = b1 if results[0].status_code == 303 else b2
        assert 'data-handle="acme"' in (await winner.get(f"{D}/")).text


async def test_the_lifetime_comes_from_the_setting() -> None:
    from entrypoints.settings import Settings

    assert Settings.from_env({"GHARART_LOGIN_LINK_TTL_S": "60"}, dotenv=False).login_link_ttl_s == 60
    assert Settings.from_env({}, dotenv=False).login_link_ttl_s == 900
    assert Settings.from_env({}, dotenv=False).rate_limits["login_link"].burst == 5
    async with make_harness(login_link_ttl_s=60) as h:
        await h.create_owner("acme")
        async with browser(h) as b:
            assert "for 1 minute." in (await ask_for_link(b, OWNER)).text
        url, _ = await mailed_link(h, OWNER)
        h.clock.advance(seconds=60)
        async with browser(h) as b:
            assert problem_code((await b.get(url)).text) == ["login_link_expired"]
