"""The dashboard over the in-memory harness: pages render, roles hide controls, CSRF, the flows."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import pytest

from entrypoints.harness import Harness

D = "/dashboard"
H = "/v2/handles/acme"


def browser(h: Harness) -> httpx.AsyncClient:
    """A separate cookie jar over the same app (one per signed-in person)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=h.app, client=("127.0.0.1", 50001)),
                             base_url="http://testserver")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


async def sign_in(client: httpx.AsyncClient, token: str) -> str:
    page = await client.get(f"{D}/login")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    r = await client.post(f"{D}/login", data={"csrf": csrf, "token": token})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{D}/"
    return csrf


def problem_code(html: str) -> list[str]:
    return re.findall(r'class="problem-code">([^<]+)<', html)


async def make_link(h: Harness, tok: str, slug: str, *destinations: str) -> dict[str, Any]:
    r = await h.client.post(f"{H}/links", json={"slug": slug, "destination": destinations[0]}, headers=h.auth(tok))
    assert r.status_code == 201, r.text
    link = r.json()
    for dest in destinations[1:]:
        r = await h.client.patch(f"{H}/links/{slug}", json={"destination": dest, "expectedVersion": link["version"]},
                                 headers=h.auth(tok))
        assert r.status_code == 200, r.text
        link = r.json()
    return link


async def deploy(h: Harness, tok: str, html: bytes, message: str) -> str:
    digest = hashlib.sha256(html).hexdigest()
    r = await h.client.post(f"{H}/site-deployments", headers=h.auth(tok),
                            json={"manifest": {"index.html": {"sha256": digest, "size": len(html)}},
                                  "message": message})
    assert r.status_code == 201, r.text
    dep = r.json()
    if digest in dep["required"]:
        u = await h.client.put(f"{H}/site-deployments/{dep['id']}/files/{digest}", content=html, headers=h.auth(tok))
        assert u.status_code == 200, u.text
    return str(dep["id"])


async def test_sign_in_lists_handles_with_roles_and_every_page_renders(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    async with browser(harness) as b:
        assert (await b.get(f"{D}/")).headers["location"] == f"{D}/login"
        await sign_in(b, tok)
        cookie = next(c for c in b.cookies.jar if c.name == "gharart_dash")
        assert cookie.has_nonstandard_attr("HttpOnly")
        home = await b.get(f"{D}/")
        assert home.status_code == 200
        assert 'data-handle="acme"' in home.text and "role-owner" in home.text
        assert "Signed in." in home.text
        assert re.search(r'id="last-rid">req_', home.text)
        for path in ("/h/acme", "/h/acme/links", "/h/acme/import", "/h/acme/sites", "/h/acme/intel",
                     "/h/acme/files", "/h/acme/docs", "/support"):
            r = await b.get(D + path)
            assert r.status_code == 200, (path, r.text[:500])
            assert problem_code(r.text) == [], (path, problem_code(r.text))
            assert '<meta name="viewport"' in r.text and 'lang="en"' in r.text
        op = await b.get(f"{D}/operator")
        assert problem_code(op.text) == ["operator_only"]


async def test_bad_token_shows_unauthenticated(harness: Harness) -> None:
    async with browser(harness) as b:
        csrf = csrf_of((await b.get(f"{D}/login")).text)
        r = await b.post(f"{D}/login", data={"csrf": csrf, "token": "gha_pat_nope"})
        assert r.status_code == 401
        assert problem_code(r.text) == ["unauthenticated"]


async def test_csrf_is_required_on_every_post(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    await make_link(harness, tok, "promo", "https://a.example/", "https://b.example/")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        for data in ({}, {"csrf": "forged"}):
            r = await b.post(f"{D}/h/acme/links/promo/rollback",
                             data={**data, "targetVersion": "1", "expectedCurrentVersion": "2", "reason": "x"})
            assert r.status_code == 403
            assert problem_code(r.text) == ["csrf_failed"]
        r = await b.post(f"{D}/h/acme/links/create", data={"slug": "x", "destination": "https://x.example/"})
        assert r.status_code == 403
        assert (await harness.client.get(f"{H}/links/promo", headers=harness.auth(tok))).json()["version"] == 2
        assert (await harness.client.get(f"{H}/links/x", headers=harness.auth(tok))).status_code == 404
        # A fresh browser has no CSRF cookie: even a copied token value is refused.
        async with browser(harness) as other:
            r = await other.post(f"{D}/login", data={"csrf": csrf, "token": tok})
            assert r.status_code == 403


async def test_viewer_sees_no_write_controls_and_the_api_refuses_anyway(harness: Harness) -> None:
    owner = await harness.create_owner("acme")
    viewer = await harness.add_member("acme", owner, "v@acme.example.com", "viewer")
    await make_link(harness, owner, "promo", "https://a.example/", "https://b.example/")
    dep = await deploy(harness, owner, b"<h1>one</h1>", "one")
    f = await harness.client.post(f"{H}/files", headers=harness.auth(owner),
                                  files={"file": ("a.txt", b"hello", "text/plain")})
    assert f.status_code == 201, f.text
    file_id = f.json()["id"]
    async with browser(harness) as b:
        csrf = await sign_in(b, viewer)
        assert "role-viewer" in (await b.get(f"{D}/")).text
        pages = {
            "/h/acme": ["audit-table"],
            "/h/acme/links": ["create-link", "health-form"],
            "/h/acme/links/promo": ["rollback-form", "edit-form"],
            "/h/acme/import": ["import-form"],
            "/h/acme/sites": ["mode-form", "deploy-form"],
            f"/h/acme/sites/{dep}": ["promote-form", "rollback-form", "binding-form"],
            "/h/acme/files": ["upload-form"],
            f"/h/acme/files/{file_id}": ["extend-form", "share-form", "mode-form"],
            "/h/acme/docs": ["policy-form", "evaluate-form"],
            "/h/acme/intel": ["crawl-form", "replay-form"],
        }
        for path, forms in pages.items():
            html = (await b.get(D + path)).text
            assert 'id="role">viewer<' in html, path
            for form in forms:
                assert f'id="{form}"' not in html, (path, form)
        # Posting anyway: the API refuses and nothing changes.
        r = await b.post(f"{D}/h/acme/links/promo/rollback",
                         data={"csrf": csrf, "targetVersion": "1", "expectedCurrentVersion": "2", "reason": "x"})
        assert r.status_code == 303
        page = await b.get(r.headers["location"])
        assert problem_code(page.text) == ["forbidden_role"]
        r = await b.post(f"{D}/h/acme/sites/{dep}/promote",
                         data={"csrf": csrf, "confirm": "yes", "expectedLiveDeploymentId": ""})
        assert problem_code((await b.get(r.headers["location"])).text) == ["forbidden_role"]
        r = await b.post(f"{D}/h/acme/files/{file_id}/update", data={"csrf": csrf, "mode": "public"})
        assert problem_code((await b.get(r.headers["location"])).text) == ["forbidden_role"]
    assert (await harness.client.get(f"{H}/links/promo", headers=harness.auth(owner))).json()["version"] == 2
    assert (await harness.client.get(f"{H}/site", headers=harness.auth(owner))).json()["liveDeploymentId"] is None
    got = await harness.client.get(f"{H}/files/{file_id}", headers=harness.auth(owner))
    assert got.json()["mode"] == "private"


async def test_link_rollback_needs_target_and_expected_version(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    await make_link(harness, tok, "promo", "https://a.example/", "https://b.example/", "https://c.example/")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        page = await b.get(f"{D}/h/acme/links/promo")
        assert 'id="rollback-form"' in page.text and 'name="expectedCurrentVersion"' in page.text
        stale = await b.post(f"{D}/h/acme/links/promo/rollback",
                             data={"csrf": csrf, "targetVersion": "1", "expectedCurrentVersion": "2", "reason": "r"})
        shown = await b.get(stale.headers["location"])
        assert problem_code(shown.text) == ["stale_version"]
        assert "currentVersion" in shown.text
        failed_rid = re.search(r'id="last-rid">([^<]+)<', shown.text)
        assert failed_rid and failed_rid.group(1).startswith("req_")
        ok = await b.post(f"{D}/h/acme/links/promo/rollback",
                          data={"csrf": csrf, "targetVersion": "1", "expectedCurrentVersion": "3", "reason": "bad"})
        shown = await b.get(ok.headers["location"])
        assert "Rolled back promo to version 1" in shown.text
        assert 'id="current-version">4<' in shown.text
        edit = await b.post(f"{D}/h/acme/links/promo/edit",
                            data={"csrf": csrf, "destination": "https://d.example/", "expectedVersion": "3"})
        assert problem_code((await b.get(edit.headers["location"])).text) == ["version_conflict"]
        handle_page = await b.get(f"{D}/h/acme")
        assert 'id="audit-table"' in handle_page.text and "link.rollback" in handle_page.text
        assert 'id="members-table"' in handle_page.text and "owner@acme.example.com" in handle_page.text
        diff = await b.get(f"{D}/h/acme/links/promo?diff=3..4")
        assert 'id="diff-table"' in diff.text and "https://c.example/" in diff.text
        prev = await b.post(f"{D}/h/acme/links/promo/preview", data={"csrf": csrf, "userAgent": "curl/8"})
        assert 'id="preview-result"' in prev.text and "https://a.example/" in prev.text
    link = (await harness.client.get(f"{H}/links/promo", headers=harness.auth(tok))).json()
    assert (link["version"], link["destination"]) == (4, "https://a.example/")


async def test_import_dry_run_shows_row_errors_then_imports(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    csv_text = "slug,destination\ngood,https://good.example/\nbad,javascript:alert(1)\n"
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        dry = await b.post(f"{D}/h/acme/import", data={"csrf": csrf, "csv": csv_text, "mode": "dryRun"})
        assert dry.status_code == 200
        assert 'id="import-rows"' in dry.text and "row-failed" in dry.text and "invalid_url" in dry.text
        assert (await harness.client.get(f"{H}/links/good", headers=harness.auth(tok))).status_code == 404
        errors_url = re.search(r'href="([^"]+errors.csv)"', dry.text).group(1)  # type: ignore[union-attr]
        errors = await b.get(errors_url)
        assert errors.status_code == 200 and "invalid_url" in errors.text and "good" not in errors.text
        atomic = await b.post(f"{D}/h/acme/import", data={"csrf": csrf, "csv": csv_text, "mode": "atomic"})
        assert problem_code(atomic.text) == ["import_failed"]
        partial = await b.post(f"{D}/h/acme/import", files={"upload": ("l.csv", csv_text.encode(), "text/csv")},
                               data={"csrf": csrf, "mode": "partial"})
        assert "created 1" in partial.text
    assert (await harness.client.get(f"{H}/links/good", headers=harness.auth(tok))).status_code == 200
    async with browser(harness) as b:
        await sign_in(b, tok)
        export = await b.get(f"{D}/h/acme/links-export?format=csv")
        assert export.status_code == 200 and "good,https://good.example/" in export.text
        assert export.headers["content-disposition"].startswith("attachment")


async def test_health_check_start_and_run_page(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    await make_link(harness, tok, "promo", "https://a.example/")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        r = await b.post(f"{D}/h/acme/health-check", data={"csrf": csrf})
        assert r.status_code == 303 and "/health-check/run_" in r.headers["location"]
        await harness.drain()
        page = await b.get(r.headers["location"])
        assert page.status_code == 200 and 'id="run-status"' in page.text
        assert problem_code(page.text) == []


async def test_sites_preview_promote_rollback_and_mode(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    one = await deploy(harness, tok, b"<h1>release one</h1>", "one")
    two = await deploy(harness, tok, b"<h1>release two</h1>", "two")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        listing = await b.get(f"{D}/h/acme/sites")
        assert f'data-deployment="{one}"' in listing.text and f'data-deployment="{two}"' in listing.text
        frame = await b.get(f"{D}/h/acme/sites/{one}/preview/")
        assert frame.status_code == 200 and b"release one" in frame.content
        assert frame.headers["x-gharart-deployment"] == one
        assert frame.headers["content-security-policy"].startswith("sandbox")
        page = await b.get(f"{D}/h/acme/sites/{one}")
        assert 'id="preview-frame"' in page.text and 'id="promote-form"' in page.text
        unconfirmed = await b.post(f"{D}/h/acme/sites/{one}/promote", data={"csrf": csrf})
        assert "Tick the confirmation box" in (await b.get(unconfirmed.headers["location"])).text
        for dep, expected in ((one, ""), (two, one)):
            r = await b.post(f"{D}/h/acme/sites/{dep}/promote",
                             data={"csrf": csrf, "confirm": "yes", "expectedLiveDeploymentId": expected})
            assert f"{dep} is live." in (await b.get(r.headers["location"])).text
        r = await b.post(f"{D}/h/acme/sites-rollback", data={"csrf": csrf, "confirm": "yes", "reason": "broken",
                                                             "targetDeploymentId": one,
                                                             "expectedLiveDeploymentId": two})
        assert f"Rolled back: {one} is live." in (await b.get(r.headers["location"])).text
        site = (await harness.client.get(f"{H}/site", headers=harness.auth(tok))).json()
        assert site["liveDeploymentId"] == one
        r = await b.post(f"{D}/h/acme/site-mode", data={"csrf": csrf, "mode": "maintenance",
                                                        "expectedModeVersion": str(site["modeVersion"] - 1)})
        assert problem_code((await b.get(r.headers["location"])).text) == ["version_conflict"]
        r = await b.post(f"{D}/h/acme/site-mode", data={"csrf": csrf, "mode": "maintenance",
                                                        "expectedModeVersion": str(site["modeVersion"])})
        assert 'id="site-mode">maintenance' in (await b.get(r.headers["location"])).text


async def test_sites_deploy_an_archive_from_the_form(harness: Harness) -> None:
    import io
    import tarfile
    import zipfile

    tok = await harness.create_owner("acme")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("index.html", "<h1>from the form</h1>")
        zf.writestr("about/index.html", "<p>about</p>")
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        data = b"<h1>tarball</h1>"
        info = tarfile.TarInfo("index.html")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        assert 'id="deploy-form"' in (await b.get(f"{D}/h/acme/sites")).text
        r = await b.post(f"{D}/h/acme/sites/deploy", data={"csrf": csrf, "message": "spring launch"},
                         files={"archive": ("site.zip", zbuf.getvalue(), "application/zip")})
        assert r.status_code == 303, r.text
        dep_id = r.headers["location"].rsplit("/", 1)[1]
        assert dep_id.startswith("dep_")
        page = await b.get(r.headers["location"])
        assert 'id="dep-status">deployed' in page.text and "spring launch" in page.text
        frame = await b.get(f"{D}/h/acme/sites/{dep_id}/preview/about/")
        assert frame.status_code == 200 and frame.content == b"<p>about</p>"
        r = await b.post(f"{D}/h/acme/sites/deploy", data={"csrf": csrf, "message": "tarball"},
                         files={"archive": ("site.tar.gz", tbuf.getvalue(), "application/gzip")})
        assert 'id="dep-status">deployed' in (await b.get(r.headers["location"])).text
        # not an archive, an unsafe archive, no CSRF token: refused, nothing deployed
        r = await b.post(f"{D}/h/acme/sites/deploy", data={"csrf": csrf},
                         files={"archive": ("notes.txt", b"hello", "text/plain")})
        assert "is not a .zip, .tar or .tar.gz archive" in (await b.get(r.headers["location"])).text
        evil = io.BytesIO()
        with zipfile.ZipFile(evil, "w") as zf:
            zf.writestr("../escape.html", "x")
        r = await b.post(f"{D}/h/acme/sites/deploy", data={"csrf": csrf},
                         files={"archive": ("evil.zip", evil.getvalue(), "application/zip")})
        assert problem_code((await b.get(r.headers["location"])).text) == ["unsafe_archive"]
        r = await b.post(f"{D}/h/acme/sites/deploy", data={"csrf": "forged"},
                         files={"archive": ("site.zip", zbuf.getvalue(), "application/zip")})
        assert r.status_code == 403
    deps = (await harness.client.get(f"{H}/site-deployments", headers=harness.auth(tok))).json()["items"]
    assert sorted(d["message"] for d in deps) == ["spring launch", "tarball"]


async def test_files_upload_share_extend_and_access_log(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        r = await b.post(f"{D}/h/acme/files/upload", data={"csrf": csrf, "mode": "link"},
                         files={"file": ("brief.txt", b"campaign brief", "text/plain")})
        assert r.status_code == 303 and "/files/fil_" in r.headers["location"]
        file_url = r.headers["location"]
        file_id = file_url.rsplit("/", 1)[1]
        r = await b.post(f"{file_url}/share", data={"csrf": csrf, "emails": "guest@partner.example"})
        assert "Shared with guest@partner.example" in (await b.get(r.headers["location"])).text
        r = await b.post(f"{file_url}/update", data={"csrf": csrf, "expiresAt": "2099-01-01T10:00"})
        page = await b.get(r.headers["location"])
        assert 'id="file-expires">2099-01-01T10:00:00' in page.text
        share_id = re.search(r'data-share="(shr_\w+)"', page.text).group(1)  # type: ignore[union-attr]
    messages = harness.outbox.messages
    assert messages, "the share mailed no magic link"
    body = str(messages[-1])
    m = re.search(r"/v2/public/files/(fil_[A-Z0-9a-z]+)\?token=([A-Za-z0-9_\-]+)", body)
    assert m and m.group(1) == file_id
    got = await harness.client.get(f"/v2/public/files/{file_id}?token={m.group(2)}")
    assert got.status_code == 200 and got.content == b"campaign brief"
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        r = await b.post(f"{file_url}/shares/{share_id}/revoke", data={"csrf": csrf})
        assert "Revoked share" in (await b.get(r.headers["location"])).text
    got = await harness.client.get(f"/v2/public/files/{file_id}?token={m.group(2)}")
    assert got.status_code == 403 and got.json()["code"] == "link_revoked"


async def test_report_a_problem_carries_the_last_request_id(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    await make_link(harness, tok, "promo", "https://a.example/", "https://b.example/")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        r = await b.post(f"{D}/h/acme/links/promo/rollback",
                         data={"csrf": csrf, "targetVersion": "1", "expectedCurrentVersion": "1", "reason": "x"})
        page = await b.get(r.headers["location"])
        rid = re.search(r'id="last-rid">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
        link = re.search(r'href="(/dashboard/support\?[^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = await b.get(link.replace("&amp;", "&"))
        assert f'value="{rid}"' in form.text and "<option selected>acme</option>" in form.text
        assert 'value="lnk_' in form.text
        sent = await b.post(f"{D}/support", data={"csrf": csrf, "summary": "Rollback refused",
                                                  "details": "stale_version on promo", "handle": "acme",
                                                  "requestId": rid})
        assert sent.status_code == 201, sent.text
        assert re.search(rf'id="attached-rid">{re.escape(rid)}<', sent.text)


async def test_operator_sees_the_escalation_queue(harness: Harness) -> None:
    op = await harness.create_user_token("ops@gharart.example", operator=True,
                                         scopes=("links:read", "support:write", "operator"))
    async with browser(harness) as b:
        await sign_in(b, op)
        assert 'href="/dashboard/operator"' in (await b.get(f"{D}/")).text
        page = await b.get(f"{D}/operator")
        assert problem_code(page.text) == [] and 'id="escalations"' in page.text


@pytest.mark.parametrize("path", ["/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"])
async def test_static_assets(harness: Harness, path: str) -> None:
    r = await harness.client.get(path)
    assert r.status_code == 200 and r.content
    assert (await harness.client.get("/dashboard/static/..%2Fapp.py")).status_code == 404


async def test_a_big_import_is_followed_on_its_run_page() -> None:
    from entrypoints.harness import make_harness

    async with make_harness(import_sync_rows=1) as h:
        tok = await h.create_owner("acme")
        csv_text = "slug,destination\na,https://a.example/\nb,https://b.example/\n"
        async with browser(h) as b:
            csrf = await sign_in(b, tok)
            r = await b.post(f"{D}/h/acme/import", data={"csrf": csrf, "csv": csv_text, "mode": "atomic"})
            assert r.status_code == 303 and re.search(r"/import/run_\w+$", r.headers["location"])
            await h.drain()
            page = await b.get(r.headers["location"])
            assert page.status_code == 200 and problem_code(page.text) == []
            assert 'id="run-status">completed<' in page.text
        assert (await h.client.get(f"{H}/links/b", headers=h.auth(tok))).status_code == 200


async def test_bindings_on_a_pending_deployment_and_missing_blobs(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    html = b"<h1>pending</h1>"
    digest = hashlib.sha256(html).hexdigest()
    r = await harness.client.post(f"{H}/site-deployments", headers=harness.auth(tok),
                                  json={"manifest": {"index.html": {"sha256": digest, "size": len(html)}}})
    dep = r.json()["id"]
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        listing = await b.get(f"{D}/h/acme/sites")
        row = re.search(rf'<tr data-deployment="{dep}".*?</tr>', listing.text, re.S).group(0)  # type: ignore[union-attr]
        assert "pending" in row and 'class="warn">1<' in row
        frame = await b.get(f"{D}/h/acme/sites/{dep}/preview/")
        assert frame.status_code == 409 and "artifact_missing" in frame.text and digest in frame.text
        page = await b.get(f"{D}/h/acme/sites/{dep}")
        assert 'id="binding-form"' in page.text and 'id="promote-form"' not in page.text
        bad = await b.post(f"{D}/h/acme/bindings", data={"csrf": csrf, "deploymentId": dep, "route": "/api/x",
                                                         "function": "nope", "config": "{}"})
        assert problem_code((await b.get(bad.headers["location"])).text) == ["unknown_function"]
        ok = await b.post(f"{D}/h/acme/bindings", data={"csrf": csrf, "deploymentId": dep, "route": "/api/hello",
                                                        "function": "json", "config": '{"body": {"hi": 1}}'})
        shown = await b.get(ok.headers["location"])
        assert "Bound /api/hello to json." in shown.text
        assert re.search(r'id="bindings-table".*?/api/hello', shown.text, re.S)


async def test_crawl_and_replay_from_the_dashboard(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    live = await deploy(harness, tok, b'<h1>home</h1><a href="/about.html">about</a>', "live")
    r = await harness.client.post(f"{H}/site-deployments/{live}/promote", json={"expectedLiveDeploymentId": None},
                                  headers=harness.auth(tok))
    assert r.status_code == 200, r.text
    candidate = await deploy(harness, tok, b"<h1>new home</h1>", "candidate")
    async with browser(harness) as b:
        csrf = await sign_in(b, tok)
        crawl = await b.post(f"{D}/h/acme/intel/crawl", data={"csrf": csrf, "hostname": "acme.localhost"})
        assert crawl.status_code == 303 and "/intel/acme.localhost/crawl/run_" in crawl.headers["location"]
        await harness.drain()
        run = await b.get(crawl.headers["location"])
        assert 'id="run-status">completed<' in run.text, run.text
        intel = await b.get(f"{D}/h/acme/intel?hostname=acme.localhost")
        snapshot = re.search(r'name="snapshotId" value="(snp_\w+)"', intel.text).group(1)  # type: ignore[union-attr]
        replay = await b.post(f"{D}/h/acme/intel/replay", data={"csrf": csrf, "hostname": "acme.localhost",
                                                                "snapshotId": snapshot, "deploymentId": candidate})
        assert "/replay/run_" in replay.headers["location"]
        await harness.drain()
        result = await b.get(replay.headers["location"])
        assert 'id="run-status">completed<' in result.text
        assert "verdict-" in result.text and 'id="replay-diff"' in result.text


async def test_operator_escalates_a_report_and_moves_it_along(harness: Harness) -> None:
    tok = await harness.create_owner("acme")
    op = await harness.create_user_token("ops@gharart.example", operator=True,
                                         scopes=("links:read", "support:write", "operator"))
    r = await harness.client.post("/v2/support/report", headers=harness.auth(tok),
                                  json={"summary": "broken", "details": "it broke", "handle": "acme"})
    report_id = r.json()["reportId"]
    async with browser(harness) as b:
        csrf = await sign_in(b, op)
        page = await b.get(f"{D}/operator")
        assert report_id in page.text
        r = await b.post(f"{D}/operator/escalations", data={"csrf": csrf, "reportIds": report_id, "note": "look"})
        shown = await b.get(r.headers["location"])
        assert "Escalation created." in shown.text
        esc = re.search(r"<code>(esc_\w+)</code></td><td>open<", shown.text).group(1)  # type: ignore[union-attr]
        for status in ("acknowledged", "resolved"):
            r = await b.post(f"{D}/operator/escalations/{esc}", data={"csrf": csrf, "status": status})
            assert f"is {status}." in (await b.get(r.headers["location"])).text
        r = await b.post(f"{D}/operator/escalations/{esc}", data={"csrf": csrf, "status": "open"})
        assert problem_code((await b.get(r.headers["location"])).text) == ["invalid_transition"]


async def test_dashboard_writes_over_every_store(any_harness: Harness) -> None:
    """The page's own request and the API call it makes must not hold two write locks (SQLite)."""
    h = any_harness
    tok = await h.create_owner("acme")
    await make_link(h, tok, "promo", "https://a.example/", "https://b.example/")
    async with browser(h) as b:
        csrf = await sign_in(b, tok)
        r = await b.post(f"{D}/h/acme/links/promo/rollback",
                         data={"csrf": csrf, "targetVersion": "1", "expectedCurrentVersion": "2", "reason": "r"})
        assert "Rolled back promo" in (await b.get(r.headers["location"])).text
        r = await b.post(f"{D}/h/acme/files/upload", data={"csrf": csrf},
                         files={"file": ("a.txt", b"hello", "text/plain")})
        assert r.status_code == 303 and "/files/fil_" in r.headers["location"]
