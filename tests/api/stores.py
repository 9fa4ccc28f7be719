"""Both production stores for the serving tests: SQLite, and a fresh PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, delete, insert, select, text

from c360.store import Store
from c360.store.schema import metadata
from tests.conftest import need_service

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN = f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test"
STORES = ["sqlite", "postgresql"]


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test module; dropped afterwards."""
    need_service("PostgreSQL", PG_HOST, PG_PORT)
    name = f"c360_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def copy_store(src_url: str, dst_url: str) -> Store:
    """Every table of one store copied into a freshly migrated other store (a built demo, moved)."""
    src = Store.open(src_url)
    dst = Store.open(dst_url)
    try:
        with src.engine.connect() as read, dst.engine.begin() as write:
            for table in reversed(metadata.sorted_tables):
                write.execute(delete(table))  # rows a migration seeded
            for table in metadata.sorted_tables:
                rows = [dict(r._mapping) for r in read.execute(select(table))]
                if rows:
                    write.execute(insert(table), rows)
                serial = [c for c in table.primary_key.columns if c.autoincrement is True]
                if rows and serial and dst.dialect == "postgresql":
                    # Explicit ids do not move PostgreSQL's sequences: move them past the copied rows.
                    col = serial[0].name
                    write.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{col}'), "
                            f"(SELECT max({col}) FROM {table.name}))"
                        )
                    )
    finally:
        src.close()
    return dst


@contextmanager
def store_of(kind: str, sqlite_url: str) -> Iterator[Store]:
    """The built demo's store as ``kind``: the SQLite file itself, or a PostgreSQL copy of it."""
    if kind == "sqlite":
        store = Store.open(sqlite_url)
        try:
            yield store
        finally:
            store.close()
        return
    with pg_database() as url:
        store = copy_store(sqlite_url, url)
        try:
            yield store
        finally:
            store.close()
