"""At person grain (B2C) people are the customers: no roll-up to an organisation."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import defaultdict
from pathlib import Path

from c360.pipeline.build import build
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store import identity as idmap
from tests.conftest import BuiltDemo

SPEC = """\
product: shoppers
version: 1.0.0
owner: {team: crm}
grain: person
sources:
  support:
    connector: jsonl
    path: support_tickets.jsonl
    key: id
    columns:
      id: string
      status: string
      email: {from: requester.email, type: string, pii: true}
      full_name: {from: requester.name, type: string, pii: true}
    identity: {email: email, person_name: full_name}
  product:
    connector: sqlite
    path: product.db
    stream: users
    key: id
    columns: {id: string, email: string, full_name: string}
    identity: {email: email, person_name: full_name}
identity:
  match: {threshold: 0.9}
fields:
  name: {type: string, description: The person's name, expr: "coalesce(product.full_name, support.full_name)"}
  tickets: {type: integer, description: Tickets raised, expr: "coalesce(count(support.id), 0)"}
consumers:
  service: {fields: [customer_id, name, tickets]}
"""


def test_people_are_customers_and_colleagues_stay_apart(built_demo: BuiltDemo, tmp_path: Path) -> None:
    d = tmp_path / "b2c"
    shutil.copytree(built_demo.dir, d, ignore=shutil.ignore_patterns("store.db*", ".c360", "product.yaml"))
    (d / "product.yaml").write_text(SPEC)
    store = Store.open(f"sqlite:///{d}/store.db")
    report = build(load_spec(d / "product.yaml"), store, as_of=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert report.version is not None
    rows = idmap.all_rows(store)
    import json

    emails: dict[str, set[str]] = defaultdict(set)
    support = {}
    for line in (d / "support_tickets.jsonl").read_text().splitlines():
        try:
            t = json.loads(line)
        except json.JSONDecodeError:
            continue
        support[str(t["id"])] = t["requester"]["email"].lower()
    by_rid = {f"{r.source}:{r.key}": r.customer_id for r in rows}
    for key, email in support.items():
        if f"support:{key}" in by_rid:
            emails[email].add(by_rid[f"support:{key}"])
    # Every ticket of one requester address is one person.
    assert all(len(ids) == 1 for ids in emails.values())
    # Colleagues (same company domain, different addresses) are different people.
    by_domain: dict[str, set[str]] = defaultdict(set)
    for email, ids in emails.items():
        by_domain[email.split("@")[1]] |= ids
    assert any(len(ids) > 1 for ids in by_domain.values())
    assert report.customers > len(emails) // 2
