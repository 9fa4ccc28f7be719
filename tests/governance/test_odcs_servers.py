"""The ODCS export's ``servers:`` block names the serving store, checked by the standard's own schema.

It also says where the published product is a flat, typed relation (a PostgreSQL store's view,
or a Parquet file written on export): those relations are checked here against the spec.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml
from sqlalchemy import text

from c360.core.errors import StoreError
from c360.governance.contracts import export, odcs_document, odcs_servers
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store
from c360.store.product_relation import create_view, relation_name, view_sql, write_parquet
from tests.api.stores import pg_database

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


# -- the product as a flat, typed relation ------------------------------------------------------

# One field of each type the spec knows, and two published snapshots of them.
FIELDS = {
    "name": "string",
    "seats": "integer",
    "mrr": "decimal",
    "active": "boolean",
    "last_login": "timestamp",
    "signed_on": "date",
    "tags": "json",
}
FIRST = {
    "c_1": {"name": "Acme", "seats": 3, "mrr": 12.5, "active": True, "last_login": "2026-05-20T20:16:38Z",
            "signed_on": "2024-01-31", "tags": {"tier": "gold"}},
    "c_2": {"name": None, "seats": None, "mrr": None, "active": None, "last_login": None, "signed_on": None,
            "tags": None},
}  # fmt: skip
SECOND = {"c_3": {**FIRST["c_1"], "name": "Borealis", "seats": 40}}


def publish(store: Store, records: dict[str, dict[str, Any]]) -> int:
    run = store.start_run("build")
    version = store.begin_snapshot(run, "1.0.0", dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    store.write_snapshot(version, [(cid, {**r, "customer_id": cid}) for cid, r in records.items()])
    store.publish(version)
    store.finish_run(run, "ok", {})
    return version


def test_schema_object_and_quality_name_the_relation() -> None:
    text = EXAMPLE.read_text().replace(
        "    expr: crm.Tier\n", "    expr: crm.Tier\n    checks:\n      - {check: range, min: 0, max: 9}\n", 1
    )
    product = load_spec_text(text, EXAMPLE).model
    (schema,) = odcs_document(product)["schema"]
    assert schema["name"] == schema["physicalName"] == relation_name(product.product) == "c360_customer_360"
    (rule,) = next(p for p in schema["properties"] if p["name"] == "segment")["quality"]
    assert rule["query"] == "SELECT COUNT(*) FROM c360_customer_360 WHERE segment < 0 OR segment > 9"
    assert rule["description"] == "segment within range min 0 max 9" and rule["mustBe"] == 0


def test_parquet_server_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_STORE_URL", raising=False)
    data = tmp_path / "rel" / "c360_x.parquet"
    parquet, store = odcs_servers("sqlite:///rel/store.db", data=data, product="x")
    assert parquet == {
        "server": "product",
        "type": "local",
        "format": "parquet",
        "path": str(data.resolve()),
        "description": "The published snapshot of x as Parquet, one row per customer",
    }
    assert store["server"] == "store" and store["database"] == "rel/store.db"
    assert odcs_servers(None, data=data, product="x") == [parquet]
    product = load_spec(EXAMPLE).model
    doc = odcs_document(product, store_url="duckdb:////srv/s.duckdb", data=data)
    assert [s["type"] for s in doc["servers"]] == ["local", "duckdb"]
    check(doc)


def test_postgresql_server_names_the_view() -> None:
    (server,) = odcs_servers("postgresql://u:secret@pg/c360", product="customer_360")
    assert "view c360_customer_360" in server["description"] and server["schema"] == "public"
    assert "secret" not in json.dumps(server)


def test_relation_names_are_safe() -> None:
    assert relation_name("orders") == "c360_orders"
    for bad in ("Orders", "x; drop table customers", "a" * 60):
        with pytest.raises(StoreError):
            relation_name(bad)
    with pytest.raises(StoreError, match="unknown type"):
        view_sql("c360_x", {"n": "money"})
    with pytest.raises(StoreError, match="not a lower-case identifier"):
        view_sql("c360_x", {'n"; drop': "string"})


def test_parquet_has_the_spec_columns_and_types(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    try:
        with pytest.raises(StoreError, match="nothing is published"):
            write_parquet(store, FIELDS, tmp_path / "x.parquet")
        publish(store, FIRST)
        path = tmp_path / "out" / "c360_x.parquet"
        assert write_parquet(store, FIELDS, path, chunk=1) == 2
    finally:
        store.close()
    table = pq.read_table(path)
    assert table.schema.names == ["customer_id", *FIELDS]
    assert [str(t) for t in table.schema.types] == [
        "string", "string", "int64", "double", "bool", "timestamp[us, tz=UTC]", "date32[day]", "extension<arrow.json>",
    ]  # fmt: skip
    rows = {r["customer_id"]: r for r in table.to_pylist()}
    assert rows["c_1"]["last_login"] == dt.datetime(2026, 5, 20, 20, 16, 38, tzinfo=dt.UTC)
    assert rows["c_1"]["signed_on"] == dt.date(2024, 1, 31) and rows["c_1"]["seats"] == 3
    assert json.loads(rows["c_1"]["tags"]) == {"tier": "gold"}
    assert rows["c_2"] == {"customer_id": "c_2", **dict.fromkeys(FIELDS)}
    assert not list(path.parent.glob("*.partial"))


def test_parquet_rejects_a_value_of_the_wrong_type(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    try:
        publish(store, {"c_1": {"seats": "many"}})
        with pytest.raises(StoreError, match="'seats' holds a value that is not a integer"):
            write_parquet(store, {"seats": "integer"}, tmp_path / "x.parquet")
        with pytest.raises(StoreError, match="needs a PostgreSQL store"):
            create_view(store, "x", {"seats": "integer"})
    finally:
        store.close()
    assert not (tmp_path / "x.parquet").exists()


def test_postgresql_view_follows_the_published_snapshot() -> None:
    with pg_database() as url:
        store = Store.open(url)
        try:
            publish(store, FIRST)
            assert create_view(store, "x", FIELDS) == "c360_x"
            with store.engine.connect() as conn:
                types = conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'c360_x' ORDER BY ordinal_position"
                    )
                ).all()
                rows = {r.customer_id: r._asdict() for r in conn.execute(text("SELECT * FROM c360_x"))}
            assert types == [
                ("customer_id", "character varying"), ("name", "character varying"), ("seats", "bigint"),
                ("mrr", "double precision"), ("active", "boolean"), ("last_login", "timestamp with time zone"),
                ("signed_on", "date"), ("tags", "jsonb"),
            ]  # fmt: skip
            assert rows["c_1"]["last_login"] == dt.datetime(2026, 5, 20, 20, 16, 38, tzinfo=dt.UTC)
            assert rows["c_1"]["tags"] == {"tier": "gold"} and rows["c_1"]["signed_on"] == dt.date(2024, 1, 31)
            assert rows["c_2"] == {"customer_id": "c_2", **dict.fromkeys(FIELDS)}

            publish(store, SECOND)  # a new publish: the view shows it, without being recreated
            with store.engine.connect() as conn:
                now = conn.execute(text("SELECT customer_id, name, seats FROM c360_x")).all()
            assert now == [("c_3", "Borealis", 40)]

            create_view(store, "x", {"seats": "integer"})  # fewer fields: the view is replaced
            with store.engine.connect() as conn:
                assert conn.execute(text("SELECT * FROM c360_x")).all() == [("c_3", 40)]
        finally:
            store.close()
