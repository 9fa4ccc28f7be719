"""A consumer pinned to an earlier major is served that major's shape, not the current one.

Version 2.0.0 renames ``mrr`` to ``monthly_recurring_revenue`` (breaking) and declares one more
billing column (so billing is normalised again with 1.0.0's declaration). Finance pins major 1.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from c360.api import create_app
from c360.core.errors import C360Error
from c360.governance.erasure import SubjectRef, erase
from c360.pipeline.build import BuildReport, build
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import DEMO_AS_OF, BuiltDemo

# Both serving modes: the shared serving file and each process's own memory.
pytestmark = pytest.mark.usefixtures("serving_mode")

SUNSET = (dt.date.today() + dt.timedelta(days=30)).isoformat()
AS_OF = dt.datetime.fromisoformat(DEMO_AS_OF).replace(tzinfo=dt.UTC)


def version_two(text: str, *, pin: bool = True) -> str:
    text = text.replace("version: 1.0.0", "version: 2.0.0")
    text = text.replace("  mrr:\n", "  monthly_recurring_revenue:\n")
    text = text.replace(" mrr,", " monthly_recurring_revenue,").replace("[mrr,", "[monthly_recurring_revenue,")
    text = text.replace("retain: {mrr:", "retain: {monthly_recurring_revenue:")
    text = text.replace("      delinquent: boolean\n", "      delinquent: boolean\n      livemode: boolean\n")
    if pin:
        text = text.replace(
            "purpose: revenue reporting, freshness: 24h}", "purpose: revenue reporting, freshness: 24h, major: 1}"
        )
        text += f"\nlifecycle:\n  sunset: {{1: {SUNSET}}}\n"
    assert " mrr" not in text.replace("major: 1", "")
    return text


@dataclass
class Pinned:
    dir: Path
    store: Store
    report: BuildReport
    client: TestClient
    keys: dict[str, str]
    current: dict[str, dict[str, object]]  # customer → its record in 2.0.0's shape


@pytest.fixture()
def pinned(built_demo: BuiltDemo, tmp_path: Path) -> Iterator[Pinned]:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    (d / "product.yaml").write_text(version_two((d / "product.yaml").read_text()))
    spec = load_spec(d / "product.yaml")
    store = Store.open(f"sqlite:///{d}/store.db")
    report = build(spec, store, skip_sync=True, as_of=AS_OF)
    keys = {c: store.create_key(c) for c in ("finance", "churn_model", "marketing")}
    current = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(report.version or 0)}
    with TestClient(create_app(spec, store, refresh_seconds=0)) as c:
        yield Pinned(d, store, report, c, keys, current)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_build_materialises_the_pinned_major_from_its_recorded_spec(pinned: Pinned) -> None:
    major = pinned.report.majors[1]
    assert major["spec_version"] == "1.0.0" and major["consumers"] == ["finance"]
    assert major["customers"] == pinned.report.customers
    assert "billing" in major["renormalised"] and "crm" not in major["renormalised"]
    assert pinned.store.view_majors(pinned.report.version or 0) == {1: "1.0.0"}


def test_the_pinned_consumer_reads_the_old_shape_and_the_others_the_new(pinned: Pinned) -> None:
    c, keys = pinned.client, pinned.keys
    paying = [cid for cid, r in pinned.current.items() if r.get("monthly_recurring_revenue")]
    assert paying
    for cid in paying[:20]:
        old = c.get(f"/v1/customers/{cid}", headers=auth(keys["finance"]))
        assert old.status_code == 200, old.text
        assert old.headers["x-c360-major"] == "1" and old.headers["deprecation"] == "true"
        body = old.json()
        assert "monthly_recurring_revenue" not in body
        assert body["mrr"] == pytest.approx(pinned.current[cid]["monthly_recurring_revenue"])
        assert body["ltv"] == pytest.approx(pinned.current[cid]["ltv"])
        new = c.get(f"/v1/customers/{cid}", headers=auth(keys["churn_model"]))
        assert new.status_code == 200 and "deprecation" not in new.headers
        assert "mrr" not in new.json()
        assert new.json()["monthly_recurring_revenue"] == pytest.approx(body["mrr"])
    # Pages and batches are in the same shape.
    page = c.get("/v1/customers?limit=5", headers=auth(keys["finance"])).json()
    assert all("mrr" in item and "monthly_recurring_revenue" not in item for item in page["items"])
    batch = c.post("/v1/customers:batchGet", json={"ids": paying[:3]}, headers=auth(keys["finance"])).json()
    assert [i["customer_id"] for i in batch["items"]] == paying[:3] and all("mrr" in i for i in batch["items"])


def test_the_pinned_consumers_schema_is_its_majors(pinned: Pinned) -> None:
    old = pinned.client.get("/v1/schema", headers=auth(pinned.keys["finance"])).json()
    assert old["version"] == "1.0.0"
    names = {f["name"] for f in old["fields"]}
    assert "mrr" in names and "monthly_recurring_revenue" not in names
    new = pinned.client.get("/v1/schema", headers=auth(pinned.keys["churn_model"])).json()
    assert new["version"] == "2.0.0"
    assert "monthly_recurring_revenue" in {f["name"] for f in new["fields"]}


def test_erasing_a_customer_removes_it_from_every_shape(pinned: Pinned) -> None:
    cid = next(iter(pinned.current))
    version = pinned.report.version or 0
    assert cid in dict(pinned.store.view_rows(version, 1))
    spec = load_spec(pinned.dir / "product.yaml")
    erase(pinned.store, spec, SubjectRef(customer_id=cid), reason="Art. 17 request, test")
    assert cid not in dict(pinned.store.view_rows(version, 1))
    assert cid not in dict(pinned.store.snapshot_rows(version))


def test_a_pin_to_a_major_this_store_never_saw_fails_the_build_clearly(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    text = version_two((d / "product.yaml").read_text()).replace("version: 2.0.0", "version: 3.0.0")
    text = text.replace("{1: ", "{2: ").replace("major: 1}", "major: 2}")
    (d / "product.yaml").write_text(text)
    store = Store.open(f"sqlite:///{d}/store.db")
    before = store.current_version()
    with pytest.raises(C360Error, match="no spec of major 2 was ever built or applied"):
        build(load_spec(d / "product.yaml"), store, skip_sync=True, as_of=AS_OF)
    assert store.current_version() == before


def test_a_snapshot_without_the_pinned_majors_view_answers_503_not_the_wrong_shape(pinned: Pinned) -> None:
    # The major-1 pin is added after the 2.0.0 build: that snapshot holds no major-1 view.
    text = (pinned.dir / "product.yaml").read_text()
    unpinned = pinned.dir / "unpinned.yaml"
    text = text.replace(", major: 1}", "}").replace("version: 2.0.0", "version: 2.1.0")
    unpinned.write_text(text.split("\nlifecycle:")[0])
    spec = load_spec(unpinned)
    report = build(spec, pinned.store, skip_sync=True, as_of=AS_OF)
    assert report.majors == {}
    with TestClient(create_app(load_spec(pinned.dir / "product.yaml"), pinned.store, refresh_seconds=0)) as c:
        cid = next(iter(pinned.current))
        r = c.get(f"/v1/customers/{cid}", headers=auth(pinned.keys["finance"]))
        assert r.status_code == 503 and r.json()["error"]["code"] == "major_unavailable"
        assert c.get(f"/v1/customers/{cid}", headers=auth(pinned.keys["churn_model"])).status_code == 200


def test_a_subject_export_shows_the_customer_in_every_shape_it_is_served(pinned: Pinned) -> None:
    from c360.governance.subject import export_subject

    spec = load_spec(pinned.dir / "product.yaml")
    email = next(r.payload["email"] for r in pinned.store.staged("billing") if r.payload.get("email"))
    out = export_subject(pinned.store, spec, email=email)
    assert out["customers"], "the billing contact's customer is in the export"
    for customer in out["customers"]:
        current = {f["field"]: f["value"] for f in customer["fields"]}
        assert "monthly_recurring_revenue" in current and "mrr" not in current
        [old] = customer["earlier_majors"]
        assert (old["major"], old["spec_version"]) == (1, "1.0.0")
        fields = {f["field"]: f for f in old["fields"]}
        assert "mrr" in fields and "monthly_recurring_revenue" not in fields
        assert fields["mrr"]["value"] == current["monthly_recurring_revenue"]
        assert {x["source"] for x in fields["mrr"]["lineage"]} == {"subscriptions"}
