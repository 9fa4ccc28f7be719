"""Run a compiled plan on DuckDB: source tables in, one row per customer out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from c360.core import duck
from c360.core.errors import BuildError
from c360.engine.compile import Plan, compile_plan, source_table
from c360.spec.models import ColumnType, ProductSpec

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "money": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "json": pa.string(),
}


@dataclass
class SourceFrame:
    """A source's normalised rows, column by column, ready for DuckDB."""

    columns: dict[str, ColumnType]
    keys: list[str] = field(default_factory=list)
    fetched_at: list[dt.datetime] = field(default_factory=list)
    values: dict[str, list[Any]] = field(default_factory=dict)
    customer_ids: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        for c in self.columns:
            self.values.setdefault(c, [])

    def append(self, key: str, fetched_at: dt.datetime, row: Mapping[str, Any]) -> None:
        self.keys.append(key)
        self.fetched_at.append(fetched_at)
        for c in self.columns:
            self.values[c].append(row.get(c))

    def __len__(self) -> int:
        return len(self.keys)

    def row(self, i: int) -> dict[str, Any]:
        return {c: self.values[c][i] for c in self.columns}

    def to_arrow(self) -> pa.Table:
        arrays = {
            "customer_id": pa.array(self.customer_ids, pa.string()),
            "_key": pa.array(self.keys, pa.string()),
            "_fetched_at": pa.array(self.fetched_at, pa.timestamp("us", tz="UTC")),
        }
        for c, t in self.columns.items():
            arrays[c] = pa.array(self.values[c], ARROW_TYPES[t])
        return pa.table(arrays)


def connect() -> duckdb.DuckDBPyConnection:
    return duck.connect()


def materialise(
    product: ProductSpec,
    frames: Mapping[str, SourceFrame],
    customer_ids: list[str],
    as_of: dt.datetime,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Compute every field for every customer; yields (customer_id, record) in id order."""
    plan = compile_plan(product, as_of)
    con = connect()
    try:
        con.register("customers_arrow", pa.table({"customer_id": pa.array(customer_ids, pa.string())}))
        con.execute("CREATE TABLE customers AS SELECT * FROM customers_arrow")
        for name, frame in frames.items():
            con.register(f"{name}_arrow", frame.to_arrow())
            con.execute(f"CREATE TABLE {source_table(name)} AS SELECT * FROM {name}_arrow "
                        "WHERE customer_id IS NOT NULL")
        yield from run_plan(con, plan)
    finally:
        con.close()


def run_plan(con: duckdb.DuckDBPyConnection, plan: Plan) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        cur = con.execute(plan.query())
    except duckdb.Error as exc:
        raise BuildError(f"computing the fields failed: {exc}") from exc
    names = [d[0] for d in cur.description or ()]
    while True:
        chunk = cur.fetchmany(10_000)
        if not chunk:
            return
        for row in chunk:
            record = {n: _plain(v) for n, v in zip(names, row, strict=True)}
            yield str(record["customer_id"]), record


def check_plan(product: ProductSpec) -> list[str]:
    """Run each field's SQL on empty tables; returns a message per field DuckDB rejects."""
    frames = {name: SourceFrame({c: col.type for c, col in src.columns.items()})
              for name, src in product.sources.items()}
    problems = []
    now = dt.datetime.now(dt.UTC)
    for fname in product.fields:
        try:
            _dry(product, frames, fname, now)
        except BuildError as exc:
            problems.append(f"field '{fname}': {str(exc).removeprefix('computing the fields failed: ')}")
    return problems


def _dry(product: ProductSpec, frames: Mapping[str, SourceFrame], fname: str, now: dt.datetime) -> list[Any]:
    plan = compile_plan(product, now, only=[fname])
    con = connect()
    try:
        con.execute("CREATE TABLE customers (customer_id VARCHAR)")
        for name, frame in frames.items():
            con.register(f"{name}_arrow", frame.to_arrow())
            con.execute(f"CREATE TABLE {source_table(name)} AS SELECT * FROM {name}_arrow")
        return list(run_plan(con, plan))
    finally:
        con.close()


def _plain(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return v
