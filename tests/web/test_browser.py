"""The web app in a real browser: Debian's Chromium driven by Playwright, against uvicorn on localhost.

Chromium comes from Debian (``apt-get install -y chromium``; ``.ci/run`` installs it), never from
``playwright install``. When it is missing these tests skip with the reason, unless
``C360_REQUIRE_SERVICES=1``, when they fail. Screenshots go to ``build/screenshots/``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from c360.store import Store
from c360.store import identity as idmap
from tests.conftest import REQUIRE_SERVICES, BuiltDemo, need_module
from tests.web.conftest import MASK_KEY, ROLES, copy_demo

need_module("playwright")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import Request as PwRequest  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).parents[2] / "build" / "screenshots"
pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (C360_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def ensure_chromium() -> None:
    """Debian's Chromium at /usr/bin/chromium (``.ci/run`` installs it with apt)."""
    if not CHROMIUM.exists():
        _unavailable("Chromium is not installed: apt-get install -y chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Live:
    url: str
    store: Store
    keys: dict[str, str]
    records: dict[str, dict[str, Any]]
    browser: Browser

    def page(self, width: int = 1280, height: int = 900) -> Page:
        context = self.browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        return context.new_page()

    def sign_in(self, consumer: str, page: Page | None = None) -> Page:
        page = page or self.page()
        page.goto(f"{self.url}/app/login")
        page.fill("#credential", self.keys[consumer])
        page.click("button[type=submit]")
        expect(page.locator("#who")).to_have_text(consumer)
        return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def live(built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    ensure_chromium()
    import uvicorn

    from c360.api import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("C360_READ_AUDIT", "in-process")
        spec, url = copy_demo(built_demo, tmp_path_factory.mktemp("web-browser") / "demo")
        store = Store.open(url)
        keys = {c: store.create_key(c) for c in spec.model.consumers}
        version = store.current_version()
        assert version is not None
        records = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(version)}
        app = create_app(spec, store, refresh_seconds=0, mask_key=MASK_KEY, jwt=None)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="c360-web-test", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
                try:
                    yield Live(f"http://127.0.0.1:{port}", store, keys, records, browser)
                finally:
                    browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            store.close()


def test_sign_in_per_role(live: Live) -> None:
    for role, consumer in ROLES.items():
        page = live.sign_in(consumer)
        nav = page.locator("header nav")
        expect(nav.get_by_role("link", name="Fields")).to_be_visible()
        expect(nav.get_by_role("link", name="Review")).to_have_count(1 if role in ("owner", "steward") else 0)
        expect(nav.get_by_role("link", name="Audit log")).to_have_count(1 if role in ("owner", "dpo") else 0)
        shot(page, f"home-{role}")
        page.context.close()


def test_a_viewer_is_refused_the_review_queue(live: Live) -> None:
    page = live.sign_in("analyst")
    response = page.goto(f"{live.url}/app/review")
    assert response is not None and response.status == 403
    expect(page.locator("#refused")).to_contain_text("steward")
    shot(page, "viewer-refused")
    page.context.close()


def test_search_a_field_and_open_its_lineage(live: Live) -> None:
    page = live.sign_in("analyst")
    page.goto(f"{live.url}/app/fields")
    page.fill("#q", "paid invoices")
    page.press("#q", "Enter")
    expect(page.locator("#result-count")).to_contain_text("matching")
    page.click("a.field-link:text('ltv')")
    expect(page.locator("h1")).to_contain_text("ltv")
    svg = page.locator("#lineage svg.lineage")
    expect(svg).to_be_visible()
    expect(svg.locator("g.source")).to_have_count(1)
    expect(svg.locator("g.field")).to_contain_text("ltv")
    shot(page, "field-lineage")
    phone = live.page(390, 844)
    live.sign_in("analyst", phone)
    phone.goto(f"{live.url}/app/fields/account_name")
    expect(phone.locator("#lineage svg.lineage")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    shot(phone, "field-lineage-phone")
    page.context.close()
    phone.context.close()


def test_look_up_a_customer_and_switch_consumer(live: Live) -> None:
    cid, rec = next((c, r) for c, r in live.records.items() if r.get("mrr") and r.get("billing_contact_email"))
    page = live.sign_in("steward_desk")
    page.goto(f"{live.url}/app/customers")
    page.fill("#lookup input[name=q]", cid)
    page.select_option("#as", "finance")
    expect(page.locator("#customer-id")).to_have_text(cid)  # switching the consumer submits the form
    expect(page.locator("#as-consumer")).to_have_text("finance")
    expect(page.locator('tr[data-field="mrr"]')).to_have_count(1)
    expect(page.locator("#golden")).to_contain_text(rec["billing_contact_email"])
    shot(page, "customer-as-finance")
    page.select_option("#as", "steward_desk")
    expect(page.locator("#as-consumer")).to_have_text("steward_desk")
    expect(page.locator('tr[data-field="mrr"]')).to_have_count(0)
    expect(page.locator("#golden")).not_to_contain_text(rec["billing_contact_email"])
    expect(page.locator("#golden")).to_contain_text("masked: email")
    expect(page.locator("#sources summary").first).to_be_visible()
    shot(page, "customer-as-steward")
    page.context.close()


def test_accept_a_review_pair_with_the_keyboard(live: Live) -> None:
    pairs = idmap.review_pairs(live.store)
    a, b, _, _ = pairs[0]
    page = live.sign_in("steward_desk")
    page.goto(f"{live.url}/app/review")
    expect(page.locator("#left-rid")).to_contain_text(a)
    expect(page.locator("#right-rid")).to_contain_text(b)
    shot(page, "review")
    page.keyboard.press("a")
    expect(page.locator("#message")).to_contain_text("a pin every later build honours")
    expect(page.locator("#remaining")).to_have_text(str(len(pairs) - 1))
    assert [(p.kind, p.left, p.right) for p in idmap.pins(live.store)] == [("link", *sorted((a, b)))]
    shot(page, "review-accepted")
    phone = live.page(390, 844)
    live.sign_in("steward_desk", phone)
    phone.goto(f"{live.url}/app/review")
    shot(phone, "review-phone")
    page.context.close()
    phone.context.close()


def test_erasure_dry_run_then_real_then_audit_and_verify(live: Live) -> None:
    reviewed = {r.split(":")[0] for a, b, _, _ in idmap.review_pairs(live.store) for r in (a, b)}
    cid = next(c for c in live.records if c not in reviewed)
    page = live.sign_in("privacy_office")
    page.goto(f"{live.url}/app/erasure")
    page.select_option("select[name=by]", "customer")
    page.fill("input[name=value]", cid)
    page.fill("#reason", "Art. 17 request, ticket 4711")
    page.click("#dry-run")
    expect(page.locator("#plan")).to_contain_text("nothing changed yet")
    expect(page.locator("#plan")).to_contain_text(cid)
    shot(page, "erasure-dry-run")
    page.check("#confirm")
    page.click("#execute")
    expect(page.locator("#done")).to_contain_text("committed")
    erasure_id = page.locator("#erasure-id").inner_text()
    shot(page, "erasure-done")
    version = live.store.current_version()
    assert version is not None and cid not in dict(live.store.snapshot_rows(version))
    page.click("text=See it in the audit log")
    expect(page.locator("table.audit")).to_contain_text("web:privacy_office")
    expect(page.locator("table.audit td.kind").first).to_have_text("erasure")
    assert erasure_id
    page.goto(f"{live.url}/app/audit?actor=web%3Aprivacy_office")
    expect(page.locator("table.audit")).to_contain_text("erasure_dry_run")
    page.click("#verify")
    expect(page.locator("#verify-result")).to_contain_text("Chain intact")
    shot(page, "audit-verified")
    page.context.close()


def test_offline_docs_render(live: Live) -> None:
    page = live.page()
    hosts: set[str] = set()
    blocked: dict[str, str] = {}
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))

    def failed(r: PwRequest) -> None:
        blocked.setdefault(r.url, r.failure or "")

    page.on("requestfailed", failed)
    page.goto(f"{live.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("c360")
    shot(page, "docs-swagger")
    page.goto(f"{live.url}/redoc")
    expect(page.locator("redoc h1, [role=main] h1").first).to_contain_text("c360", timeout=20_000)
    shot(page, "docs-redoc")
    here = live.url.split("/")[2]
    # ReDoc's menu links its vendor's logo: the page's CSP stops it before it leaves the browser.
    outside = {u: why for u, why in blocked.items() if u.split("/")[2] != here}
    assert hosts - {here} == {u.split("/")[2] for u in outside}, hosts
    assert all(why == "csp" for why in outside.values()), outside
    page.context.close()
