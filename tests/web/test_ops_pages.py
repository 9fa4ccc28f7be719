"""The operations page (builds, snapshots) and the subscriptions page (live SLA status, freshness chart)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re

import orjson
import pytest

from c360.core.clock import utcnow
from c360.governance.sla import evaluate
from c360.store import latency_repo, ops_repo
from c360.store.latency_repo import LatencyRow
from c360.web.ops import scrub
from tests.conftest import need_module
from tests.web.conftest import ROLES, Site

if importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import expect

    from tests.web.test_browser import Live, live, shot  # the live server, in Chromium
else:  # pragma: no cover - the browser test skips, or fails under C360_REQUIRE_SERVICES=1

    @pytest.fixture(scope="module")
    def live() -> None:
        need_module("playwright")


# The elements reaching past the viewport's right edge (outside any scrolling container), to name in a failure.
WIDE = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
  && !e.closest('.table-scroll, .svgbox')).slice(0, 8).map(e => e.tagName + '.' + e.className + ' '
  + Math.round(e.getBoundingClientRect().right))"""
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def test_signed_out_goes_to_sign_in(site: Site) -> None:
    for path in ("/app/ops", "/app/subscriptions"):
        r = site.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/app/login?next="), path


def test_ops_per_role_and_refusals_are_audited(site: Site) -> None:
    expected = {"owner": 200, "steward": 200, "dpo": 403, "viewer": 403}
    for role, consumer in ROLES.items():
        site.sign_in(consumer)
        r = site.client.get("/app/ops")
        assert r.status_code == expected[role], role
        home = site.client.get("/app")
        assert ('href="/app/ops"' in home.text) is (expected[role] == 200), role
        assert 'href="/app/subscriptions"' in home.text
    refused = [r for r in site.audit_rows("web_refused") if orjson.loads(r["detail"]).get("path") == "/app/ops"]
    assert [r["actor"] for r in refused] == ["web:privacy_office", "web:analyst"]
    assert all(orjson.loads(r["detail"])["needs"] == "steward" for r in refused)


def test_ops_shows_builds_and_snapshots(site: Site) -> None:
    site.sign_in(ROLES["owner"])
    page = site.client.get("/app/ops").text
    runs = ops_repo.build_runs(site.store)
    snaps, current = ops_repo.snapshot_history(site.store)
    assert runs and current is not None
    run = runs[0]
    summary = orjson.loads(run.summary or "{}")
    assert run.run_id in page and "succeeded" in page
    for stage in summary["seconds"]:
        assert f"<td>{stage}</td>" in page
    for source, n in summary["staged"].items():
        assert f"<td>{source}</td><td>{n}</td>" in page
    quarantined = sum(summary["quarantined"].values())
    assert f"{quarantined} record(s)" in page
    assert "Quality gate" in page and "passed" in page
    assert f'<tr class="current"><td>{current}</td>' in page
    assert all(s.run_id in page for s in snaps)
    assert page.index('id="builds"') < page.index('id="snapshots"')


def test_ops_shows_no_personal_data(site: Site) -> None:
    site.sign_in(ROLES["owner"])
    page = site.client.get("/app/ops").text
    assert not EMAIL.search(page)
    version = site.store.current_version()
    assert version is not None
    pii = [n for n, f in site.spec.model.fields.items() if f.pii]
    values = {
        str(rec[n])
        for _, data in site.store.snapshot_rows(version)
        for rec in [orjson.loads(data)]
        for n in pii
        if rec.get(n) and len(str(rec[n])) > 3
    }
    assert values and not [v for v in values if v in page]
    for q in site.store.quarantined():
        assert q["location"] not in page
        assert not q["raw"] or q["raw"] not in page


def test_scrub_hides_quoted_values_and_addresses() -> None:
    assert scrub("missing key 'id'") == "missing key 'id'"
    assert "ann@example.com" not in scrub("bad email ann@example.com in column 'Email'")
    assert "Acme Very Long Company Name Ltd" not in scrub("name 'Acme Very Long Company Name Ltd' too long")
    assert "4111111111111111" not in scrub("card 4111111111111111")


def test_subscriptions_show_the_evaluations_status(site: Site) -> None:
    for consumer in ROLES.values():
        site.sign_in(consumer)
        r = site.client.get("/app/subscriptions")
        assert r.status_code == 200, consumer
    page = r.text
    statuses = evaluate(site.spec.model, site.store)
    assert statuses
    cards = page.split('class="card subscription"')[1:]
    assert len(cards) == len(statuses)
    for status, card in zip(statuses, cards, strict=True):
        assert f"<code>{status.consumer}</code>" in card
        assert status.purpose in card
        assert all(f"<code>{f}</code>" in card for f in status.fields)
        assert ("compliant" if status.compliant else "in breach") in card
        if status.freshness:
            assert f"SLA {status.freshness}" in card
        if status.latency_p99_ms is not None:
            assert f"SLA {status.latency_p99_ms:g} ms" in card
        assert '<svg class="spark"' in card and "<polyline" in card
        assert "no latency to chart" in card  # no read answered yet
    assert 'id="latency-history"' in page and "every 60 s" in page
    api = site.client.get("/v1/subscriptions", headers={"Authorization": f"Bearer {site.keys['product_owner']}"})
    if api.status_code == 200:
        served = api.json()
        items = served.get("subscriptions", served) if isinstance(served, dict) else served
        assert [s["compliant"] for s in items] == [s.compliant for s in statuses]


def test_subscriptions_chart_follows_the_snapshots(site: Site) -> None:
    import datetime as dt

    from c360.core.clock import utcnow
    from c360.web.sla_chart import freshness_points, freshness_svg

    snaps, _ = ops_repo.snapshot_history(site.store)
    now = utcnow()
    points = freshness_points(snaps, now, 120.0)
    assert points[-1] == (now, 120.0) and len(points) == 2 * len(snaps)
    svg = freshness_svg(points, 900.0, "x", "t")
    assert "SLA 15m" in svg and "stroke-dasharray" in svg
    assert "nothing to chart" in freshness_svg([], 900.0, "y", "t")
    assert freshness_points([], now + dt.timedelta(seconds=1), None) == []


def test_read_latency_is_written_per_interval_and_charted(site: Site) -> None:
    history = site.client.app.state.latency_history  # type: ignore[attr-defined]
    assert history.flush() == 0  # nothing read: nothing written
    ids = [cid for cid, _ in site.store.snapshot_rows(site.store.current_version() or 0)][:5]
    auth = {"Authorization": f"Bearer {site.keys['support']}"}
    for cid in ids:
        assert site.client.get(f"/v1/customers/{cid}", headers=auth).status_code == 200
    assert history.flush() == 1  # one row: support's five reads
    assert history.flush() == 0  # and nothing again until the next read
    series = latency_repo.series(site.store, "support", utcnow() - dt.timedelta(hours=1))
    assert [p.reads for p in series] == [len(ids)] and 0 < series[0].p99_ms <= series[0].max_ms

    site.sign_in(ROLES["owner"])
    page = site.client.get("/app/subscriptions").text
    cards = {c.split("</code>")[0]: c for c in page.split('class="card subscription"')[1:]}
    support = next(c for k, c in cards.items() if k.endswith("<code>support"))
    chart = re.search(r'<svg class="spark" id="sub-\d+-p99".*?</svg>', support, re.S)
    assert chart is not None and "SLA 50 ms" in chart.group(0)
    assert len(re.search(r'class="p99" points="([^"]+)"', chart.group(0)).group(1).split()) == 2  # type: ignore[union-attr]
    finance = next(c for k, c in cards.items() if k.endswith("<code>finance"))
    assert "no latency to chart" in finance


def test_latency_series_takes_the_slowest_worker_per_bucket(site: Site) -> None:
    t = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    rows = [
        LatencyRow(t, "support", "a:1", 60, 100, 1.0, 9.0, 12.0),
        LatencyRow(t + dt.timedelta(seconds=5), "support", "b:2", 60, 50, 2.0, 30.0, 31.0),
        LatencyRow(t + dt.timedelta(minutes=1), "support", "a:1", 60, 10, 1.0, 4.0, 5.0),
        LatencyRow(t, "finance", "a:1", 60, 7, 1.0, 99.0, 99.0),
    ]
    latency_repo.record(site.store, rows)
    series = latency_repo.series(site.store, "support", t - dt.timedelta(hours=1))
    assert [(p.at, p.reads, p.p99_ms, p.max_ms) for p in series] == [
        (dt.datetime(2026, 1, 1, 12, 1, tzinfo=dt.UTC), 150, 30.0, 31.0),
        (dt.datetime(2026, 1, 1, 12, 2, tzinfo=dt.UTC), 10, 4.0, 5.0),
    ]
    assert latency_repo.series(site.store, "support", t + dt.timedelta(seconds=10)) == series[1:]
    assert latency_repo.prune(site.store, t + dt.timedelta(seconds=10)) == 3
    assert [p.reads for p in latency_repo.series(site.store, "support", t - dt.timedelta(hours=1))] == [10]


def test_latency_history_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.api.latency_history import interval_seconds, retention_days

    monkeypatch.setenv("C360_LATENCY_HISTORY_SECONDS", "0")
    assert interval_seconds() == 0
    monkeypatch.setenv("C360_LATENCY_HISTORY_SECONDS", "soon")
    with pytest.raises(ValueError, match="C360_LATENCY_HISTORY_SECONDS='soon': expected 0"):
        interval_seconds()
    monkeypatch.setenv("C360_LATENCY_HISTORY_DAYS", "-1")
    with pytest.raises(ValueError, match="C360_LATENCY_HISTORY_DAYS='-1'"):
        retention_days()


def test_a_store_that_cannot_be_written_loses_one_interval_not_the_server(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    from c360.api.latency_history import LatencyHistory
    from c360.governance.sla import LatencyRecorder

    recorder = LatencyRecorder()
    history = LatencyHistory(site.store, recorder, seconds=60, days=30)
    recorder.observe("support", 0.002)
    with site.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE latency_history")
    assert history.flush() == 0 and "latency history not written" in caplog.text
    recorder.observe("support", 0.003)
    assert history.flush() == 0 and caplog.text.count("latency history not written") == 1  # said once


# -- in the browser, at phone width --------------------------------------------------------


@pytest.mark.slow
def test_ops_and_subscriptions_fit_a_phone(live: Live) -> None:
    page = live.page(390, 844)
    live.sign_in(ROLES["owner"], page)
    for path, name in (("/app/ops", "ops-phone"), ("/app/subscriptions", "subscriptions-phone")):
        response = page.goto(f"{live.url}{path}")
        assert response is not None and response.status == 200, path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        shot(page, name)
    expect(page.locator("svg.spark").first).to_be_visible()
    for path in (
        "/app",
        "/app/fields",
        "/app/fields/mrr",
        "/app/review",
        "/app/customers",
        "/app/audit",
        "/app/erasure",
    ):
        page.goto(f"{live.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (path, page.evaluate(WIDE))
    page.context.close()
