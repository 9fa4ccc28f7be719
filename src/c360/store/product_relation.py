"""The published product as a flat, typed relation: one row per customer, one column per field.

The store keeps each snapshot as one JSON document per customer (``snapshot_records``). Tools
that test a data contract against the product, such as ``datacontract test``, need a relation
whose columns are the contract's instead. Two are made here, from the fields' names and types
(``{field: type}``, the spec's field types, ``customer_id`` first):

* on a PostgreSQL store, a view (:func:`create_view`) that decodes the records of the version
  the ``published`` pointer names and casts each field to its type. It reads the pointer on
  every query, so it shows a newly published snapshot at once; recreate it when the fields change;
* on any store, a Parquet file of the published snapshot (:func:`write_parquet`).

Both are named by :func:`relation_name`, which cannot collide with the store's own tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from c360.core import jsonutil
from c360.core.errors import StoreError
from c360.store.schema import published, snapshot_records

if TYPE_CHECKING:
    import pyarrow as pa

    from c360.store.store import Store

__all__ = ["PG_TYPES", "create_view", "relation_name", "view_sql", "write_parquet"]

# A field type → its PostgreSQL column type (each is also how the view casts the JSON value).
PG_TYPES: Mapping[str, str] = {
    "string": "varchar",
    "integer": "bigint",
    "decimal": "double precision",
    "boolean": "boolean",
    "timestamp": "timestamptz",
    "date": "date",
    "json": "jsonb",
}

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_NAME = 63  # PostgreSQL truncates longer identifiers


def relation_name(product: str) -> str:
    """``c360_<product>``: the view's (and the Parquet file's) name; no store table starts with ``c360_``."""
    name = f"c360_{product}"
    if not _NAME.match(product) or len(name) > _MAX_NAME:
        raise StoreError(
            f"cannot name a relation for product {product!r}: "
            f"expected a lower-case identifier of at most {_MAX_NAME - len('c360_')} characters"
        )
    return name


def _checked(fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """The fields as (name, type), ``customer_id`` first; an unknown type or a bad name is an error."""
    out = [("customer_id", "string")] + [(n, t) for n, t in fields.items() if n != "customer_id"]
    for name, kind in out:
        if not _NAME.match(name):
            raise StoreError(f"field {name!r} is not a lower-case identifier")
        if kind not in PG_TYPES:
            raise StoreError(f"field {name!r} has unknown type {kind!r} (known: {', '.join(PG_TYPES)})")
    return out


def _pg_column(name: str, kind: str) -> str:
    if name == "customer_id":
        return 'r.customer_id::varchar AS "customer_id"'
    if kind == "json":  # a JSON null is SQL NULL, like every other field's
        return f"nullif(j.d -> '{name}', 'null'::jsonb) AS \"{name}\""
    return f"(j.d ->> '{name}')::{PG_TYPES[kind]} AS \"{name}\""


def view_sql(name: str, fields: Mapping[str, str]) -> str:
    """The ``CREATE VIEW`` statement of the product's view (names checked, so safe to inline)."""
    columns = ",\n  ".join(_pg_column(n, k) for n, k in _checked(fields))
    return (
        f'CREATE VIEW "{name}" AS SELECT\n  {columns}\n'
        f"FROM {snapshot_records.name} r\n"
        f"JOIN {published.name} p ON p.id = 1 AND r.version = p.version\n"
        "CROSS JOIN LATERAL (SELECT convert_from(r.data, 'UTF8')::jsonb AS d) j"
    )


def create_view(store: Store, product: str, fields: Mapping[str, str]) -> str:
    """(Re)create the product's view in a PostgreSQL store, in one transaction; returns its name.

    The view always shows the published snapshot (it reads the ``published`` pointer), with the
    columns of ``fields``: call this again when they change.
    """
    if store.dialect != "postgresql":
        raise StoreError(f"a view of the product needs a PostgreSQL store, not {store.dialect}")
    name = relation_name(product)
    ddl = view_sql(name, fields)
    try:
        with store.engine.begin() as conn:
            conn.execute(text(f'DROP VIEW IF EXISTS "{name}"'))
            conn.execute(text(ddl))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot create view {name}: {exc}") from exc
    return name


def _arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "decimal": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "json": pa.json_(),
    }
    return pa.schema([pa.field(n, types[k]) for n, k in columns])


def _batch(records: list[dict[str, Any]], columns: list[tuple[str, str]], schema: pa.Schema) -> pa.Table:
    """One batch of records as an Arrow table of ``schema`` (text values parsed to their types)."""
    import pyarrow as pa

    arrays = []
    for (name, kind), field in zip(columns, schema, strict=True):
        values = [r.get(name) for r in records]
        try:
            if kind in ("timestamp", "date"):
                arrays.append(pa.array(values, pa.string()).cast(field.type))
            elif kind == "json":
                dumped = [None if v is None else jsonutil.dumps(v).decode() for v in values]
                arrays.append(pa.array(dumped, pa.string()).cast(field.type))
            else:
                arrays.append(pa.array(values, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise StoreError(f"field {name!r} holds a value that is not a {kind}: {exc}") from exc
    return pa.Table.from_arrays(arrays, schema=schema)


def _chunks(rows: Iterable[tuple[str, bytes]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for cid, data in rows:
        chunk.append({**jsonutil.loads(data), "customer_id": cid})
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_parquet(store: Store, fields: Mapping[str, str], path: Path, *, chunk: int = 50_000) -> int:
    """Write the published snapshot to ``path`` as Parquet, typed by ``fields``; returns the rows written.

    The file is written beside ``path`` and moved into place, so a reader never sees half of it.
    Nothing published is an error.
    """
    import pyarrow.parquet as pq

    version = store.current_version()
    if version is None:
        raise StoreError("nothing is published yet: build the product before writing its data")
    columns = _checked(fields)
    schema = _arrow_schema(columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    rows = 0
    try:
        with pq.ParquetWriter(partial, schema) as writer:
            for records in _chunks(store.snapshot_rows(version), chunk):
                writer.write_table(_batch(records, columns, schema))
                rows += len(records)
            if rows == 0:
                writer.write_table(schema.empty_table())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return rows
