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
from c360.spec.models import ColumnType, ProductSpec, SourceSpec

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
    """A source's normalised rows, ready for DuckDB.

    Rows are gathered in small Python buffers and packed into Arrow record batches every
    ``CHUNK`` rows, so a million rows cost Arrow's compact columns, not millions of objects.
    """

    CHUNK = 65_536

    columns: dict[str, ColumnType]
    lists: frozenset[str] = frozenset()  # columns read through a list path (``a.b[].c``): lists of values
    keys: list[str] = field(default_factory=list)
    customer_ids: list[str | None] = field(default_factory=list)
    _fetched: list[dt.datetime] = field(default_factory=list)
    _buffer: dict[str, list[Any]] = field(default_factory=dict)
    _batches: list[pa.RecordBatch] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._buffer = {c: [] for c in self.columns}

    def append(self, key: str, fetched_at: dt.datetime, row: Mapping[str, Any]) -> None:
        self.keys.append(key)
        self._fetched.append(fetched_at)
        for c in self.columns:
            self._buffer[c].append(row.get(c))
        if len(self._fetched) >= self.CHUNK:
            self._pack()

    def _pack(self) -> None:
        if not self._fetched:
            return
        arrays = [pa.array(self._fetched, pa.timestamp("us", tz="UTC"))]
        arrays += [pa.array(self._buffer[c], self._type(c, t)) for c, t in self.columns.items()]
        self._batches.append(pa.RecordBatch.from_arrays(arrays, names=["_fetched_at", *self.columns]))
        self._fetched = []
        self._buffer = {c: [] for c in self.columns}

    @classmethod
    def for_source(cls, source: SourceSpec) -> SourceFrame:
        """An empty frame with the source's declared columns."""
        return cls(
            {c: col.type for c, col in source.columns.items()},
            frozenset(c for c, col in source.columns.items() if col.from_ and "[]" in col.from_),
        )

    def _type(self, column: str, t: ColumnType) -> pa.DataType:
        return pa.list_(ARROW_TYPES[t]) if column in self.lists else ARROW_TYPES[t]

    def __len__(self) -> int:
        return len(self.keys)

    def _table(self) -> pa.Table:
        self._pack()
        schema = pa.schema(
            [("_fetched_at", pa.timestamp("us", tz="UTC")), *((c, self._type(c, t)) for c, t in self.columns.items())]
        )
        return pa.Table.from_batches(self._batches, schema=schema)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row's values by column, in the order rows were appended."""
        self._pack()
        for batch in self._batches:
            yield from batch.select(list(self.columns)).to_pylist()

    def column(self, name: str) -> list[Any]:
        return list(self._table().column(name).to_pylist())

    def to_arrow(self) -> pa.Table:
        table = self._table()
        return table.add_column(0, "_key", pa.array(self.keys, pa.string())).add_column(
            0, "customer_id", pa.array(self.customer_ids or [None] * len(self.keys), pa.string())
        )


def connect() -> duckdb.DuckDBPyConnection:
    return duck.connect()


def materialise(
    product: ProductSpec, frames: Mapping[str, SourceFrame], customer_ids: list[str], as_of: dt.datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Compute every field for every customer; yields (customer_id, record) in id order."""
    plan = compile_plan(product, as_of)
    con = connect()
    try:
        con.register("customers_arrow", pa.table({"customer_id": pa.array(customer_ids, pa.string())}))
        con.execute("CREATE TABLE customers AS SELECT * FROM customers_arrow")
        for name, frame in frames.items():
            con.register(f"{name}_arrow", frame.to_arrow())
            con.execute(
                f"CREATE TABLE {source_table(name)} AS SELECT * FROM {name}_arrow WHERE customer_id IS NOT NULL"
            )
        try:
            yield from run_plan(con, plan)
        except BuildError as exc:
            raise _culprit(con, product, as_of) or exc from exc
    finally:
        con.close()


def _culprit(con: duckdb.DuckDBPyConnection, product: ProductSpec, as_of: dt.datetime) -> BuildError | None:
    """The same failure naming its field: each field computed alone until one fails."""
    for fname in product.fields:
        try:
            for _ in run_plan(con, compile_plan(product, as_of, only=[fname])):
                pass
        except BuildError as exc:
            detail = str(exc).removeprefix("computing the fields failed: ").split("\n", 1)[0]
            return BuildError(f"computing field '{fname}' ({product.fields[fname].expr}) failed: {detail}")
    return None


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
    frames = {name: SourceFrame.for_source(src) for name, src in product.sources.items()}
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
