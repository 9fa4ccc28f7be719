"""The demo product re-pointed at real systems by editing only its spec.

Product telemetry moves from the SQLite file into the machine's PostgreSQL; billing moves
from JSONL exports to a server speaking Stripe's API (read through the official SDK).
The published product must be the same.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.pipeline.build import build
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store import identity as idmap
from tests.conftest import BuiltDemo, need_module, need_service
from tests.connectors.fakes.stripe import API_KEY, StripeFake
from tests.connectors.httpfake import serve

PG = "postgresql://postgres@127.0.0.1:5432/test"
AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def by_crm_key(store: Store) -> dict[str, dict[str, Any]]:
    """Each CRM account's published record, without the (random) customer id."""
    rows = {cid: json.loads(data) for cid, data in store.snapshot_rows(store.current_version() or 0)}
    out = {}
    for r in idmap.all_rows(store):
        if r.source == "crm":
            record = dict(rows[r.customer_id])
            record.pop("customer_id")
            out[r.key] = record
    return out


@pytest.fixture()
def postgres_users(built_demo: BuiltDemo) -> Iterator[str]:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    need_module("psycopg")
    import psycopg

    table = f"users_{uuid.uuid4().hex[:8]}"
    src = sqlite3.connect(built_demo.dir / "product.db")
    cols = [c[1] for c in src.execute("PRAGMA table_info(users)")]
    rows = src.execute(f"SELECT {', '.join(cols)} FROM users").fetchall()
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (id integer primary key, "
            + ", ".join(f"{c} text" if c not in ("seats",) else f"{c} integer" for c in cols[1:])
            + ")"
        )
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})", rows)
    yield table
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def stripe_fake(d: Path) -> StripeFake:
    fake = StripeFake()
    for stream, name in (
        ("customers", "billing_customers.jsonl"),
        ("subscriptions", "billing_subscriptions.jsonl"),
        ("invoices", "billing_invoices.jsonl"),
    ):
        for line in (d / name).read_text().splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            oid, created = obj.pop("id"), obj.pop("created")
            obj.pop("object", None)
            fake.add(stream, oid, created, **obj)
    return fake


def test_product_from_postgres_and_billing_from_stripe_gives_the_same_product(
    built_demo: BuiltDemo, tmp_path: Path, postgres_users: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("stripe")
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d, ignore=shutil.ignore_patterns("store.db*", ".c360"))
    expected = by_crm_key(Store.open(built_demo.store_url))

    with serve(stripe_fake(d)) as server:
        monkeypatch.setenv("STRIPE_API_KEY", API_KEY)
        text = (d / "product.yaml").read_text()
        for source, stream in (("billing", "customers"), ("subscriptions", "subscriptions"), ("invoices", "invoices")):
            text = re.sub(
                rf"(\n  {source}:\n(?:    .*\n)*?)    connector: jsonl\n    path: [^\n]+\n",
                rf"\g<1>    connector: stripe\n    stream: {stream}\n    base_url: {server.url}\n"
                r"    api_key: ${STRIPE_API_KEY}\n",
                text,
            )
        text = text.replace(
            "    connector: sqlite\n    path: product.db\n    stream: users\n",
            f"    connector: postgres\n    dsn: {PG}\n    stream: {postgres_users}\n",
        )
        assert text.count("connector: stripe") == 3 and "connector: postgres" in text
        (d / "product.yaml").write_text(text)

        spec = load_spec(d / "product.yaml")
        store = Store.open(f"sqlite:///{d}/store.db")
        report = build(spec, store, as_of=AS_OF)
    assert report.staged["billing"] == len([x for x in (d / "billing_customers.jsonl").read_text().splitlines()])
    got = by_crm_key(store)
    assert got.keys() == expected.keys()
    assert got == expected
    assert os.environ["STRIPE_API_KEY"] not in (d / "product.yaml").read_text()
