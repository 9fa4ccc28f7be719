"""The OpenAPI document for client generators: valid, readable operation ids, real status codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from c360.api import create_app
from c360.spec.validate import load_spec
from c360.store import Store
from tests.conftest import BuiltDemo


@pytest.fixture(scope="module")
def client(built_demo: BuiltDemo) -> Iterator[TestClient]:
    store = Store.open(built_demo.store_url)
    app = create_app(load_spec(built_demo.spec_path), store, refresh_seconds=0, mask_key=b"k" * 32, jwt=None)
    with TestClient(app) as c:
        yield c
    store.close()


@pytest.fixture(scope="module")
def doc(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").json()
    return body


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/customers/c_x", "GET"),
        ("PUT", "/v1/schema", "GET"),
        ("GET", "/v1/customers:batchGet", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_405_says_what_is_allowed(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_the_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    validate(doc)  # type: ignore[arg-type]


def test_operation_ids_read_well_in_generated_clients(doc: dict[str, Any]) -> None:
    ids = {(method, path): op.get("operationId") for path, ops in doc["paths"].items() for method, op in ops.items()}
    assert ids[("get", "/v1/customers/{customer_id}")] == "getCustomer"
    assert ids[("post", "/v1/customers:batchGet")] == "batchGetCustomers"
    assert ids[("get", "/v1/customers:lookup")] == "lookupCustomer"
    assert ids[("get", "/v1/customers")] == "listCustomers"
    assert ids[("get", "/v1/schema")] == "getSchema"
    assert ids[("get", "/v1/subscriptions")] == "getSubscriptions"
    assert ids[("get", "/healthz")] == "getHealth" and ids[("get", "/readyz")] == "getReadiness"
    assert ids[("get", "/metrics")] == "getMetrics"
    assert len(set(ids.values())) == len(ids)


def test_pinned_major_answers_are_documented(doc: dict[str, Any]) -> None:
    for path in ("/v1/customers/{customer_id}", "/v1/customers", "/v1/customers:lookup", "/v1/schema"):
        responses = doc["paths"][path]["get"]["responses"]
        assert {"410", "503"} <= set(responses), path
    assert {"410", "503"} <= set(doc["paths"]["/v1/customers:batchGet"]["post"]["responses"])
