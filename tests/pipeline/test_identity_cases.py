"""Specs that are valid but give the matcher little to go on still build, and say what they lost."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from c360.pipeline.build import build
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store import identity as idmap

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

ACCOUNTS = """\
product: accounts
version: 1.0.0
owner: {team: data}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: id
    columns: {id: string, name: string, website: string, phone: string, duns: string}
    identity: {name: name, web_domain: website, phone: phone, duns: duns}
identity:
  identifiers: {duns: {transform: digits}}
fields:
  account_name: {type: string, description: Name, expr: first(crm.name)}
"""


def write(d: Path, name: str, text: str) -> None:
    (d / name).write_text(text, encoding="utf-8")


def mapped(store: Store) -> dict[str, str]:
    return {f"{r.source}:{r.key}": r.customer_id for r in idmap.all_rows(store)}


def test_one_source_reserved_tlds_and_unparsable_phones_still_build(tmp_path: Path) -> None:
    """Websites on .test/.example and phones no library can read: the prior never reaches 0."""
    write(tmp_path, "product.yaml", ACCOUNTS)
    rows = ["id,name,website,phone,duns"]
    for i in range(40):
        rows.append(f"a{i},Company {i} Holdings,www.company{i}.test,not a phone {i},")
    rows += [
        "d1,Atlantic Logistics,www.bobby.example,+1-384-555-0180 x4817,49-450-6609",
        "d2,Atlantc Logistics,bobby.example,1 384 555 0180,494506609",
        "d3,Pacific Print,www.pacific.invalid,???,",
    ]
    write(tmp_path, "crm.csv", "\n".join(rows) + "\n")
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(tmp_path / "product.yaml"), store, as_of=AS_OF)
    assert report.version is not None
    ids = mapped(store)
    assert len(ids) == 43
    assert ids["crm:d1"] == ids["crm:d2"]  # one DUNS number after its transform
    assert ids["crm:d3"] != ids["crm:d1"] and len(set(ids.values())) == 42


def test_people_with_nothing_but_free_mail_build_and_stay_unresolved(tmp_path: Path) -> None:
    write(
        tmp_path,
        "product.yaml",
        """\
product: desk
version: 1.0.0
owner: {team: data}
sources:
  support:
    connector: csv
    path: tickets.csv
    key: id
    columns: {id: string, email: string, requester: string}
    identity: {email: email, person_name: requester}
fields:
  tickets: {type: integer, description: Tickets, expr: count(support.id)}
""",
    )
    write(
        tmp_path,
        "tickets.csv",
        "id,email,requester\n1,jo@gmail.com,Jo Bloggs\n2,jo@gmail.com,Jo Bloggs\n3,al@yahoo.com,Al\n",
    )
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(tmp_path / "product.yaml"), store, as_of=AS_OF)
    assert report.version is not None
    assert report.unresolved == 3 and report.customers == 0


def test_a_pair_both_refused_and_borderline_is_listed_for_review_once(tmp_path: Path) -> None:
    from c360.store.identity import review_pairs, write_review

    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    with store.engine.begin() as conn:
        write_review(conn, "run", [("crm:1", "crm:2", 0.2, {"refused": "kept apart"}), ("crm:1", "crm:2", 0.2, {})])
    assert review_pairs(store) == [("crm:1", "crm:2", 0.2, {"refused": "kept apart"})]


def test_a_rule_column_is_a_cross_reference_not_a_key_shared_by_its_own_records(tmp_path: Path) -> None:
    """Two billing customers citing one CRM account are not one customer for that alone.

    The second cites the wrong account (a stale cross-reference); name and domain place it.
    """
    write(
        tmp_path,
        "product.yaml",
        """\
product: accounts
version: 1.0.0
owner: {team: data}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: id
    columns: {id: string, name: string, website: string}
    identity: {name: name, web_domain: website}
  billing:
    connector: csv
    path: billing.csv
    key: id
    columns: {id: string, name: string, email: string, crm_id: string}
    identity: {name: name, email: email, crm_id: crm_id}
identity:
  rules: [billing.crm_id = crm.id]
  distinct: [crm, billing]
fields:
  account_name: {type: string, description: Name, expr: first(crm.name)}
""",
    )
    names = [
        "Orchard Design",
        "Harbour Freight",
        "Kestrel Analytics",
        "Lumen Dental",
        "Northwind Bakery",
        "Quarry Stoneworks",
        "Riverbend Clinics",
        "Saffron Foods",
        "Tidewater Marine",
        "Upland Farms",
    ]
    domain = {n: n.lower().replace(" ", "") + ".com" for n in names}
    crm = ["id,name,website"] + [f"a{i},{n},www.{domain[n]}" for i, n in enumerate(names)]
    billing = ["id,name,email,crm_id"] + [f"b{i},{n},ap@{domain[n]},a{i}" for i, n in enumerate(names) if i]
    billing.append("b0,Orchard Design,ap@orcharddesign.com,a1")  # cites Harbour Freight's account
    write(tmp_path, "crm.csv", "\n".join(crm) + "\n")
    write(tmp_path, "billing.csv", "\n".join(billing) + "\n")
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    build(load_spec(tmp_path / "product.yaml"), store, as_of=AS_OF)
    ids = mapped(store)
    assert ids["billing:b0"] != ids["billing:b1"]
    assert ids["billing:b1"] == ids["crm:a1"]
    assert ids["billing:b0"] == ids["crm:a0"]
