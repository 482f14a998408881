"""The dashboard in headless Chromium against a real server process.

Walks the guides' flows through the UI: import links and roll one back; deploy (through the
API), preview, promote and roll back a site; upload, share, extend a file and open the magic link
from the mail outbox; report a problem carrying a request ID; sign in by an email link read from
the outbox. Screenshots of every main page go to
``.ci/artifacts/screenshots/``.

Needs the ``playwright`` Python package and a system Chromium (Debian ``chromium``); the browser
is never downloaded by Playwright. Without either the test is skipped with the reason.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
SHOTS = ROOT / ".ci" / "artifacts" / "screenshots"
JWT_SECRET = "dashboard-test-secret-of-32-bytes-or-more"
OPERATOR = "ops@gharart.example.com"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

UNLABELED_JS = """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
  .filter(el => el.tagName === 'BUTTON' ? !(el.textContent.trim() || el.getAttribute('aria-label'))
                                         : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 120))"""


def _chromium() -> str | None:
    for candidate in (os.environ.get("GHARART_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    # Set-up: install the Debian package when we may (root, apt available); bounded in time.
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        try:
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False, timeout=600,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    return None


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from entrypoints.cli.main import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=60, cwd=str(ROOT))


@pytest.fixture(scope="module")
def chromium() -> tuple[Any, str]:
    """Playwright's sync API and the system Chromium, or a skip saying which is missing."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium available and it could not be installed (Debian package `chromium`); "
                    "Playwright's own browser downloads are not used")
    return sync_api, executable


@pytest.fixture(scope="module")
def server(chromium: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("dashboard") / "data"
    port = _port()
    env = {**os.environ, "GHARART_DATA_DIR": str(data), "PYTHONPATH": str(SRC),
           "GHARART_HEALTH_TIMEOUT_S": "1", "GHARART_JWT_SECRET": JWT_SECRET, "GHARART_OPERATORS": OPERATOR}
    for key in ("GHARART_DATABASE_URL", "GHARART_OBJECT_STORE", "GHARART_PUBLIC_URL"):
        env.pop(key, None)
    init = _cli(env, "init", "--handle", "acme", "--email", "owner@acme.example.com", "--json")
    assert init.returncode == 0, init.stderr
    token = json.loads(init.stdout)["token"]
    log = open(data.parent / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-c", "from entrypoints.cli.main import main; main()", "serve",
                             "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("server did not start: " + (data.parent / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        yield {"base": base, "token": token, "data": data}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _deploy(base: str, token: str, html: bytes, message: str) -> str:
    auth = {"Authorization": f"Bearer {token}"}
    digest = hashlib.sha256(html).hexdigest()
    r = httpx.post(f"{base}/v2/handles/acme/site-deployments", headers=auth, timeout=10,
                   json={"manifest": {"index.html": {"sha256": digest, "size": len(html)}}, "message": message})
    assert r.status_code == 201, r.text
    dep = r.json()
    if digest in dep["required"]:
        u = httpx.put(f"{base}/v2/handles/acme/site-deployments/{dep['id']}/files/{digest}", content=html,
                      headers=auth, timeout=10)
        assert u.status_code == 200, u.text
    return str(dep["id"])


def _operator_pat(base: str) -> str:
    """An operator signs in at the identity provider (a JWT with the `operator` scope) and makes a PAT."""
    import jwt

    now = int(time.time())
    claims = {"sub": "idp|ops", "email": OPERATOR, "iat": now, "exp": now + 600, "scope": "operator support:write"}
    bearer = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    r = httpx.post(f"{base}/v2/tokens", json={"name": "dashboard", "scopes": ["operator", "support:write"]},
                   headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _magic_link(outbox: Path, recipient: str) -> str:
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if recipient not in str(msg["To"]):
            continue
        for part in msg.walk():
            if part.get_content_type() in ("text/plain", "text/html"):
                m = re.search(r"https?://\S+/v2/public/files/fil_\w+\?token=[\w\-]+", part.get_content())
                if m:
                    return m.group(0)
    raise AssertionError(f"no magic link for {recipient} in {outbox}")


def _sign_in_link(outbox: Path, recipient: str, timeout: float = 10.0) -> str:
    """The newest dashboard sign-in link mailed to ``recipient`` (mail is written just after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if recipient not in str(msg["To"]):
                continue
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    m = re.search(r"https?://\S+/dashboard/login/link\?token=[\w\-]+", part.get_content())
                    if m:
                        return m.group(0)
        if time.monotonic() > deadline:
            raise AssertionError(f"no sign-in link for {recipient} in {outbox}")
        time.sleep(0.2)


def test_dashboard_guides_in_chromium(chromium: tuple[Any, str], server: dict[str, Any]) -> None:
    sync_api, executable = chromium
    SHOTS.mkdir(parents=True, exist_ok=True)
    base, token = server["base"], server["token"]
    one = _deploy(base, token, b"<!doctype html><title>One</title><h1>Release one</h1>", "release one")
    archive = io.BytesIO()  # release two is deployed through the dashboard's form
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.html", "<!doctype html><title>Two</title><h1>Release two</h1>")

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
            context.set_default_timeout(15000)
            page = context.new_page()
            page.on("dialog", lambda d: d.accept())
            expect = sync_api.expect

            def shot(name: str, full: bool = True, on: Any = None) -> None:
                # Every visible field has a label (or an aria-label) and the page has one h1.
                target = on or page
                unlabeled = target.evaluate(UNLABELED_JS)
                assert unlabeled == [], (name, unlabeled)
                assert target.locator("h1").count() == 1, name
                target.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)

            # Sign in.
            page.goto("/dashboard")
            expect(page).to_have_url(re.compile(r"/dashboard/login$"))
            shot("01-sign-in")
            page.get_by_label("Personal access token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator('tr[data-handle="acme"] .role')).to_have_text("owner")
            shot("02-handles")

            # Links: dry run with a bad row, import, change one by import, roll it back.
            page.goto("/dashboard/h/acme/import")
            csv_bad = ("slug,destination,tags\npromo,https://shop.example/spring,campaign\n"
                       "docs,https://docs.example/,\nbroken,javascript:alert(1),\n")
            page.get_by_label("CSV (header").fill(csv_bad)
            page.get_by_label("Dry run").check()
            page.get_by_role("button", name="Run").click()
            expect(page.locator("#import-rows .row-failed")).to_contain_text("invalid_url")
            shot("03-import-dry-run")
            page.get_by_label("CSV (header").fill(csv_bad.replace("broken,javascript:alert(1),\n", ""))
            page.get_by_label("Import all or nothing").check()
            page.get_by_role("button", name="Run").click()
            expect(page.locator("#import-result")).to_contain_text("created 2")
            page.get_by_label("CSV (header").fill("slug,destination\npromo,https://shop.example/summer\n")
            page.get_by_label("Import all or nothing").check()
            page.get_by_role("button", name="Run").click()
            expect(page.locator("#import-result")).to_contain_text("updated 1")
            page.goto("/dashboard/h/acme/links")
            expect(page.locator('tr[data-slug="promo"]')).to_contain_text("https://shop.example/summer")
            shot("04-links")
            page.locator('tr[data-slug="promo"] a').click()
            expect(page.locator("#current-version")).to_have_text("2")
            # A stale expected version is refused with stale_version, shown with its request ID.
            page.get_by_label("Target version").select_option("1")
            page.get_by_label("Expected current version").fill("1")
            page.get_by_label("Reason").fill("summer page broken")
            page.locator("#rollback-form button").click()
            expect(page.locator(".notice.error .problem-code")).to_have_text("stale_version")
            shot("05-link-rollback-stale")
            page.get_by_label("Target version").select_option("1")
            page.get_by_label("Reason").fill("summer page broken")
            page.locator("#rollback-form button").click()
            expect(page.locator(".notice.ok")).to_contain_text("Rolled back promo to version 1")
            expect(page.locator("#current-version")).to_have_text("3")
            page.get_by_label("User-Agent").fill("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
            page.get_by_role("button", name="Preview").click()
            expect(page.locator("#preview-result")).to_contain_text("https://shop.example/spring")
            page.locator("#history-table a", has_text="2→3").click()
            expect(page.locator("#diff-table")).to_contain_text("https://shop.example/summer")
            shot("06-link-history")

            # Sites: deploy an archive, preview, promote, promote the next, roll back.
            page.goto("/dashboard/h/acme/sites")
            page.get_by_label("Site archive").set_input_files(
                {"name": "release-two.zip", "mimeType": "application/zip", "buffer": archive.getvalue()})
            page.get_by_label("Deploy message").fill("release two")
            page.get_by_role("button", name="Deploy", exact=True).click()
            expect(page.locator("#dep-status")).to_have_text("deployed")
            expect(page.frame_locator("#preview-frame").locator("h1")).to_have_text("Release two")
            two = page.url.rstrip("/").rsplit("/", 1)[1]
            assert two.startswith("dep_"), page.url
            page.goto("/dashboard/h/acme/sites")
            expect(page.locator(f'tr[data-deployment="{one}"]')).to_contain_text("deployed")
            expect(page.locator(f'tr[data-deployment="{two}"]')).to_contain_text("release two")
            page.locator(f'tr[data-deployment="{one}"] a').click()
            expect(page.frame_locator("#preview-frame").locator("h1")).to_have_text("Release one")
            page.get_by_label("I confirm: make this deployment live").check()
            page.locator("#promote-form button").click()
            expect(page.locator(".notice.ok")).to_contain_text(f"{one} is live.")
            shot("07-deployment-preview")
            page.goto(f"/dashboard/h/acme/sites/{two}")
            page.get_by_label("I confirm: make this deployment live").check()
            page.locator("#promote-form button").click()
            expect(page.locator(".notice.ok")).to_contain_text(f"{two} is live.")
            page.goto(f"/dashboard/h/acme/sites/{one}")
            page.get_by_label("Reason").fill("release two is broken")
            page.get_by_label("I confirm: the live deployment becomes rolled back").check()
            page.locator("#rollback-form button").click()
            expect(page.locator(".notice.ok")).to_contain_text(f"Rolled back: {one} is live.")
            page.goto("/dashboard/h/acme/sites")
            expect(page.locator(f'tr[data-deployment="{one}"]')).to_contain_text("live")
            expect(page.locator(f'tr[data-deployment="{two}"]')).to_contain_text("rolled_back")
            shot("08-sites")
            profile = httpx.get(f"{base}/profiles/acme/index.html", timeout=10)
            assert profile.headers.get("x-gharart-deployment") == one

            # Files: upload, share, extend, open the magic link.
            page.goto("/dashboard/h/acme/files")
            page.get_by_label("File", exact=True).set_input_files(
                {"name": "brief.txt", "mimeType": "text/plain", "buffer": b"Spring campaign brief\n"})
            page.get_by_label("Mode", exact=True).select_option("link")
            page.get_by_role("button", name="Upload").click()
            expect(page.locator("#file-mode")).to_have_text("link")
            page.get_by_label("Recipients").fill("guest@partner.example")
            page.get_by_role("button", name="Share").click()
            expect(page.locator(".notice.ok")).to_contain_text("Shared with guest@partner.example")
            page.get_by_label("New expiry (UTC)").fill("2099-06-30T12:00")
            page.get_by_role("button", name="Save expiry").click()
            expect(page.locator("#file-expires")).to_contain_text("2099-06-30T12:00")
            link = _magic_link(server["data"] / "outbox", "guest@partner.example")
            got = context.request.get(link)
            assert got.status == 200 and got.body() == b"Spring campaign brief\n"
            page.reload()
            expect(page.locator("#access-log")).to_contain_text("guest@partner.example")
            expect(page.locator("#shares-table")).to_contain_text("guest@partner.example")
            shot("09-file")

            # Report a problem about the last action, carrying its request ID.
            rid = page.locator("#last-rid").inner_text().strip()
            assert rid.startswith("req_")
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            page.get_by_role("button", name="Copy the last request ID").click()
            expect(page.get_by_role("button", name="Copy the last request ID")).to_have_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == rid
            page.get_by_role("link", name="Report a problem").click()
            expect(page.get_by_label("Request ID", exact=True)).to_have_value(rid)
            expect(page.get_by_label("Artifact")).to_have_value(re.compile(r"^fil_"))
            page.get_by_label("Summary").fill("Recipient cannot download the brief")
            page.get_by_label("What happened?").fill("Shared and extended the file; the recipient reports errors.")
            page.get_by_role("button", name="Send report").click()
            expect(page.locator("#attached-rid")).to_have_text(rid)
            shot("10-report")
            page.goto("/dashboard/h/acme/files")
            expect(page.locator("main")).to_contain_text("brief.txt")
            shot("09b-files")

            # Health check with live progress (the page refreshes itself until the run ends).
            page.goto("/dashboard/h/acme/links")
            page.get_by_role("button", name="Start health check").click()
            expect(page.locator("#run-status")).to_have_text(re.compile("completed|failed"), timeout=30000)
            expect(page.locator("#health-results")).to_contain_text("promo")
            shot("12-health-check")

            # Site intelligence: crawl the live site (the handle's own hostname, in-process).
            page.goto("/dashboard/h/acme/intel")
            page.get_by_role("button", name="Start crawl").click()
            expect(page.locator("#run-status")).to_have_text(re.compile("completed|failed"), timeout=30000)
            shot("13-crawl-run")

            # Internal docs: a too-permissive policy shows the linter's refusal and the access diff first.
            auth = {"Authorization": f"Bearer {token}"}
            put = httpx.put(f"{base}/v2/handles/acme/internal-docs/pages/confidential/pricing.md", headers=auth,
                            json={"content": "# Pricing", "contentType": "text/markdown",
                                  "classification": "confidential"}, timeout=10)
            assert put.status_code in (200, 201), put.text
            page.goto("/dashboard/h/acme/docs")
            page.get_by_label("Policy (JSON").fill(json.dumps({"defaultEffect": "deny", "rules": [
                {"id": "open", "pathPrefix": "/", "effect": "allow", "principals": {"anyone": True},
                 "description": "everything to everyone"}]}, indent=2))
            page.get_by_role("button", name="Dry run: show the access diff").click()
            expect(page.locator("#dry-run")).to_contain_text("/confidential/pricing.md")
            expect(page.locator("#would-refuse")).to_be_visible()
            shot("14-docs-dry-run")
            page.get_by_role("button", name="Save policy").click()
            expect(page.locator(".problem-code").first).to_have_text("policy_too_permissive")
            page.get_by_label("Path", exact=True).fill("/confidential/pricing.md")
            page.get_by_label("Anonymous").check()
            page.get_by_role("button", name="Evaluate").click()
            expect(page.locator("#decision")).to_contain_text("deny")
            shot("15-docs-evaluate")

            # Operator: the owner's report is in the queue; escalate it and move it along.
            ops_token = _operator_pat(base)
            ops = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
            ops_page = ops.new_page()
            ops_page.goto("/dashboard/login")
            ops_page.get_by_label("Personal access token").fill(ops_token)
            ops_page.get_by_role("button", name="Sign in").click()
            ops_page.goto("/dashboard/operator")
            expect(ops_page.locator("#escalate-form")).to_contain_text("Recipient cannot download the brief")
            ops_page.locator('#escalate-form input[type="checkbox"]').first.check()
            ops_page.get_by_label("Note").fill("partner download failures")
            ops_page.get_by_role("button", name="Escalate selected").click()
            expect(ops_page.locator(".notice.ok")).to_contain_text("Escalation created.")
            ops_page.get_by_role("button", name="Mark acknowledged").click()
            expect(ops_page.locator("#escalations")).to_contain_text("acknowledged")
            shot("16-operator-escalations", on=ops_page)
            ops.close()

            # Phone width: the links page reflows (no horizontal page scroll beyond tables).
            phone = browser.new_context(viewport={"width": 390, "height": 844}, base_url=base,
                                        storage_state=context.storage_state())
            mobile = phone.new_page()
            mobile.goto("/dashboard/h/acme/links")
            expect(mobile.locator("h1")).to_have_text("Links")
            width = mobile.evaluate("document.documentElement.scrollWidth")
            assert width <= 400, width
            mobile.screenshot(path=str(SHOTS / "11-links-phone.png"), full_page=True)
            phone.close()

            # Sign in by email: ask for a link, open it from the outbox, confirm; a second use is refused.
            mailer = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
            by_mail = mailer.new_page()
            by_mail.goto("/dashboard/login")
            by_mail.get_by_label("Email address").fill("owner@acme.example.com")
            by_mail.get_by_role("button", name="Email me a sign-in link").click()
            expect(by_mail.locator("#link-sent")).to_contain_text("a sign-in link is on its way")
            sign_in_link = _sign_in_link(server["data"] / "outbox", "owner@acme.example.com")
            by_mail.goto(sign_in_link)
            shot("17-sign-in-link", on=by_mail)
            by_mail.get_by_role("button", name="Continue and sign in").click()
            expect(by_mail.locator('tr[data-handle="acme"] .role')).to_have_text("owner")
            by_mail.goto(sign_in_link)
            expect(by_mail.locator(".problem-code").first).to_have_text("login_link_invalid")
            mailer.close()

            # Keyboard: the skip link is the first tab stop.
            page.goto("/dashboard/")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            context.close()
        finally:
            browser.close()
