"""OpenLineage run events, checked with the openlineage-python client's models, to file and HTTP."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from c360.core.errors import BuildError
from c360.governance.openlineage import (
    LineageConfig,
    LineageEmitter,
    build_event,
    column_transformations,
    emitter,
    event_json,
    run_uuid,
)
from c360.pipeline.build import build
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import BuiltDemo, need_module

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DEMO_SPEC = Path(__file__).parents[2] / "src" / "c360" / "demo" / "product.yaml"


@pytest.fixture(autouse=True)
def _client() -> None:
    need_module("openlineage.client")


def parse_event(data: dict[str, Any]) -> Any:
    """Rebuild a run event from its JSON with the client's models; their validators check it."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.facet_v2 import error_message_run, schema_dataset

    def schema(f: dict[str, Any]) -> Any:
        return schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(
                    name=x["name"],
                    type=x.get("type"),
                    description=x.get("description"),
                    ordinal_position=x.get("ordinal_position"),
                )
                for x in f["fields"]
            ]
        )

    def lineage(f: dict[str, Any]) -> Any:
        return cl.ColumnLineageDatasetFacet(
            fields={
                name: cl.Fields(
                    inputFields=[
                        cl.InputField(
                            i["namespace"],
                            i["name"],
                            i["field"],
                            transformations=[
                                cl.Transformation(type=t["type"], subtype=t.get("subtype"))
                                for t in i.get("transformations", [])
                            ],
                        )
                        for i in v["inputFields"]
                    ],
                    transformationDescription=v.get("transformationDescription"),
                )
                for name, v in f["fields"].items()
            }
        )

    run_facets: dict[str, Any] = {}
    if "errorMessage" in data["run"].get("facets", {}):
        e = data["run"]["facets"]["errorMessage"]
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=e["message"], programmingLanguage=e["programmingLanguage"]
        )
    return RunEvent(
        eventType=RunState(data["eventType"]),
        eventTime=data["eventTime"],
        run=Run(runId=data["run"]["runId"], facets=run_facets),
        job=Job(namespace=data["job"]["namespace"], name=data["job"]["name"]),
        inputs=[
            InputDataset(i["namespace"], i["name"], facets={"schema": schema(i["facets"]["schema"])})
            for i in data["inputs"]
        ],
        outputs=[
            OutputDataset(
                o["namespace"],
                o["name"],
                facets={
                    "schema": schema(o["facets"]["schema"]),
                    "columnLineage": lineage(o["facets"]["columnLineage"]),
                },
            )
            for o in data["outputs"]
        ],
        producer=data["producer"],
    )


def test_event_round_trips_through_the_client_models() -> None:
    product = load_spec(DEMO_SPEC).model
    event = build_event(product, "FAIL", "build-1", error="quality gate failed", customers=None)
    data = json.loads(event_json(event))
    rebuilt = parse_event(data)
    assert rebuilt.eventType.value == "FAIL"
    assert rebuilt.run.runId == run_uuid("build-1") == data["run"]["runId"]
    assert data["run"]["facets"]["errorMessage"]["message"] == "quality gate failed"
    (out,) = data["outputs"]
    assert out["name"] == "customer_360.snapshot"
    names = [f["name"] for f in out["facets"]["schema"]["fields"]]
    assert names == product.field_names
    # the demo's sources are files: the ``file`` namespace and their paths (as the spec writes them)
    assert {(i["namespace"], i["name"]) for i in data["inputs"]} == {
        ("file", f"{s.options['path']}/{s.stream or n}" if s.connector == "sqlite" else str(s.options["path"]))
        for n, s in product.sources.items()
    }


def test_column_lineage_of_a_field_combining_several_sources() -> None:
    product = load_spec(DEMO_SPEC).model
    data = json.loads(event_json(build_event(product, "START", "build-2", base_dir=DEMO_SPEC.parent)))
    fields = data["outputs"][0]["facets"]["columnLineage"]["fields"]
    inputs = {(i["namespace"], i["name"], i["field"]) for i in fields["account_name"]["inputFields"]}
    here = DEMO_SPEC.parent.resolve()
    assert inputs == {
        ("file", str(here / "crm_accounts.csv"), "Name"),
        ("file", str(here / "billing_customers.jsonl"), "name"),
    }
    assert {(i["namespace"], i["name"]) for i in data["inputs"]} >= {
        (i["namespace"], i["name"]) for i in fields["account_name"]["inputFields"]
    }
    mrr = {i["field"]: i["transformations"][0] for i in fields["mrr"]["inputFields"]}
    assert mrr["amount"] == {"type": "DIRECT", "subtype": "AGGREGATION"}
    assert mrr["status"] == {"type": "INDIRECT", "subtype": "FILTER"}
    assert mrr["interval"] == {"type": "INDIRECT", "subtype": "CONDITIONAL"}


def test_transformations_of_plain_and_combined_expressions() -> None:
    assert column_transformations("crm.Name") == [("crm", "Name", "DIRECT", "IDENTITY")]
    assert column_transformations("coalesce(crm.Name, billing.name)") == [
        ("crm", "Name", "DIRECT", "TRANSFORMATION"),
        ("billing", "name", "DIRECT", "TRANSFORMATION"),
    ]


def test_configuration_comes_from_the_environment_and_hides_the_key(tmp_path: Path) -> None:
    cfg = LineageConfig.from_env(
        {
            "C360_OPENLINEAGE_FILE": str(tmp_path / "ol.jsonl"),
            "C360_OPENLINEAGE_API_KEY": "s3cret",
            "C360_OPENLINEAGE_NAMESPACE": "prod",
        }
    )
    assert cfg.enabled and cfg.namespace == "prod" and cfg.file == tmp_path / "ol.jsonl"
    assert "s3cret" not in repr(cfg)
    assert not LineageConfig.from_env({}).enabled


def _demo(built_demo: BuiltDemo, tmp_path: Path) -> tuple[Path, Store]:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    return d, Store.open(f"sqlite:///{d}/store.db")


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_build_emits_start_and_complete_and_a_failed_one_fail(
    built_demo: BuiltDemo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d, store = _demo(built_demo, tmp_path)
    log = tmp_path / "lineage" / "events.jsonl"
    monkeypatch.setenv("C360_OPENLINEAGE_FILE", str(log))
    spec = load_spec(d / "product.yaml")
    report = build(spec, store, skip_sync=True, as_of=AS_OF)
    events = _events(log)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {run_uuid(report.run_id)}
    for e in events:
        parse_event(e)
    assert events[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == report.customers

    def boom(stage: str) -> None:
        if stage == "normalise":
            raise RuntimeError("disk full")

    with pytest.raises(BuildError):
        build(spec, store, skip_sync=True, as_of=AS_OF, fail_after=boom)
    events = _events(log)
    assert [e["eventType"] for e in events[2:]] == ["START", "FAIL"]
    assert "disk full" in events[3]["run"]["facets"]["errorMessage"]["message"]
    parse_event(events[3])


@pytest.fixture()
def endpoint() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/lineage", received
    server.shutdown()
    server.server_close()


def test_events_are_posted_to_an_http_endpoint_with_the_bearer_key(
    endpoint: tuple[str, list[tuple[dict[str, str], dict[str, Any]]]],
) -> None:
    url, received = endpoint
    product = load_spec(DEMO_SPEC).model
    em = emitter(product, LineageConfig.from_mapping({"url": url, "api_key": "k-123", "namespace": "test"}))
    em.start("build-9")
    em.complete("build-9", customers=7)
    assert [b["eventType"] for _, b in received] == ["START", "COMPLETE"]
    headers, body = received[1]
    assert headers["Authorization"] == "Bearer k-123"
    assert body["job"] == {"namespace": "test", "name": "customer_360.build", "facets": body["job"]["facets"]}
    parse_event(body)
    assert em.errors == []


def test_an_unreachable_endpoint_is_reported_not_raised() -> None:
    product = load_spec(DEMO_SPEC).model
    em = LineageEmitter(product, LineageConfig(url="http://127.0.0.1:9/api/v1/lineage", timeout=0.5))
    em.fail("build-3", "boom")
    assert len(em.errors) == 1 and "cannot reach OpenLineage endpoint" in em.errors[0]
