"""OpenLineage inputs name the real source systems (the naming spec), checked with the client's models."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from c360.governance import openlineage
from c360.governance.openlineage import LineageConfig, build_event, emitter, event_json, source_dataset
from c360.spec.models import SourceSpec
from c360.spec.validate import load_spec

DEMO_SPEC = Path(__file__).parents[2] / "src" / "c360" / "demo" / "product.yaml"


def src(connector: str, stream: str | None = None, **options: Any) -> SourceSpec:
    return SourceSpec.model_validate({"connector": connector, "stream": stream, "key": "id", **options})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            src("postgres", "accounts", host="db.acme.internal", port=6432, dbname="crm", schema_name="sales"),
            ("postgres://db.acme.internal:6432", "crm.sales.accounts"),
        ),
        (
            src("postgres", "accounts", dsn="postgresql://u:secret@pg:5432/crm"),
            ("postgres://pg:5432", "crm.public.accounts"),
        ),
        (src("mysql", "users", host="my", database="app"), ("mysql://my:3306", "app.users")),
        (src("s3", "crm/accounts.csv", bucket="acme-exports"), ("s3://acme-exports", "crm/accounts.csv")),
        (src("s3", None, bucket="acme-exports", prefix="crm/"), ("s3://acme-exports", "crm/")),
        (src("csv", None, path="/data/crm.csv"), ("file", "/data/crm.csv")),
        (
            src("salesforce", "Account", instance_url="https://acme.my.salesforce.com/"),
            ("https://acme.my.salesforce.com", "Account"),
        ),
        (src("zendesk", "tickets", subdomain="acme"), ("https://acme.zendesk.com", "tickets")),
        (src("hubspot", "companies"), ("https://api.hubapi.com", "companies")),
        (src("stripe", "customers"), ("https://api.stripe.com", "customers")),
        (
            src("snowflake", "ACCOUNTS", account="acme-xy123", user="u", database="CRM", schema_name="SALES"),
            ("snowflake://acme-xy123", "CRM.SALES.ACCOUNTS"),
        ),
        (src("bigquery", "accounts", project="p", dataset="d"), ("bigquery", "p.d.accounts")),
        (src("kafka", None, bootstrap_servers="k1:9092,k2:9092", topic="events"), ("kafka://k1:9092", "events")),
    ],
)
def test_source_names_follow_the_naming_spec(source: SourceSpec, expected: tuple[str, str]) -> None:
    assert source_dataset("s", source) == expected
    assert "secret" not in "".join(source_dataset("s", source))


def test_relative_files_resolve_against_the_spec_folder(tmp_path: Path) -> None:
    assert source_dataset("crm", src("csv", None, path="crm.csv"), base_dir=tmp_path) == (
        "file",
        str(tmp_path.resolve() / "crm.csv"),
    )


def test_events_validate_with_the_client_models() -> None:
    from openlineage.client.event_v2 import InputDataset

    product = load_spec(DEMO_SPEC).model
    data = json.loads(event_json(build_event(product, "COMPLETE", "b1", base_dir=DEMO_SPEC.parent, customers=3)))
    for i in data["inputs"]:
        InputDataset(namespace=i["namespace"], name=i["name"])  # the model accepts every name
        assert i["namespace"] == "file" and Path(i["name"].split(".db/")[0]).is_absolute()
    assert data["outputs"][0]["namespace"] == "c360"


def test_configured_without_the_client_warns_and_emits_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_openlineage(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("openlineage"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openlineage)
    product = load_spec(DEMO_SPEC).model
    out = tmp_path / "events.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        em = emitter(product, LineageConfig(file=out))
    assert any("openlineage-python" in str(w.message) for w in caught)
    assert em.errors and "c360[lineage]" in em.errors[0]
    em.start("r1")
    em.complete("r1", customers=1)
    assert not out.exists()
    assert openlineage.LineageEmitter is type(em)
