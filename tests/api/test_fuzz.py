"""Schemathesis against /openapi.json with a valid key: no 5xx, no answer that breaks its schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import BuiltDemo, need_module

need_module("schemathesis")

import schemathesis  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from c360.api import create_app  # noqa: E402
from c360.spec.validate import load_spec  # noqa: E402
from c360.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def app_and_key(built_demo: BuiltDemo) -> Iterator[tuple[object, str]]:
    spec = load_spec(built_demo.spec_path)
    store = Store.open(built_demo.store_url)
    key = store.create_key("finance")
    app = create_app(spec, store, refresh_seconds=0, mask_key=b"k", jwt=None)
    with TestClient(app):  # runs the lifespan: the snapshot is loaded
        yield app, key
    store.close()


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def test_no_server_errors_and_answers_match_the_schema(app_and_key: tuple[object, str]) -> None:
    # Operations are walked here rather than through schemathesis' pytest plugin, so the run stays
    # bounded (a few examples per operation) and independent of the plugin's pytest support.
    app, key = app_and_key
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/v1/customers/{customer_id}",
        "/v1/customers:batchGet",
        "/v1/customers:lookup",
        "/v1/customers",
        "/v1/schema",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        run()
