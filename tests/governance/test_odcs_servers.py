"""The ODCS export's ``servers:`` block names the serving store, checked by the standard's own schema."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from c360.governance.contracts import export, odcs_document, odcs_servers
from c360.spec.validate import load_spec

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml"


def odcs_schema() -> dict[str, Any]:
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def check(doc: dict[str, Any]) -> None:
    schema = odcs_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(doc)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://c360:secret@db.internal:6543/c360",
            {"type": "postgresql", "host": "db.internal", "port": 6543, "database": "c360", "schema": "public"},
        ),
        ("postgresql+psycopg://db/c360", {"type": "postgresql", "host": "db", "port": 5432, "database": "c360"}),
        ("sqlite:////srv/c360/store.db", {"type": "custom", "database": "/srv/c360/store.db"}),
        ("sqlite:///rel/store.db", {"type": "custom", "database": "rel/store.db"}),
        ("duckdb:////srv/c360/store.duckdb", {"type": "duckdb", "database": "/srv/c360/store.duckdb"}),
    ],
)
def test_servers_block_per_store(url: str, expected: dict[str, Any]) -> None:
    product = load_spec(EXAMPLE).model
    doc = odcs_document(product, store_url=url)
    (server,) = doc["servers"]
    assert expected.items() <= server.items() and server["server"] == "store"
    assert "secret" not in json.dumps(doc)  # credentials never reach the contract
    check(doc)
    check(odcs_document(product, next(iter(product.consumers)), store_url=url))


def test_sqlite_says_its_engine() -> None:
    (server,) = odcs_servers("sqlite:////x/store.db")
    assert {"property": "engine", "value": "sqlite"} in server["customProperties"]


def test_store_url_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("C360_STORE_URL", "postgresql://u:p@pg:5432/prod")
    written = export(load_spec(EXAMPLE).model, tmp_path, "odcs")
    for path in written:
        doc = yaml.safe_load(path.read_text())
        assert doc["servers"][0]["host"] == "pg"
        check(doc)


def test_no_store_no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_STORE_URL", raising=False)
    assert "servers" not in odcs_document(load_spec(EXAMPLE).model)
