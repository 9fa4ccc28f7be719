"""The suppression list on both stores: arriving records of erased subjects dropped or anonymised."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from c360.connectors.base import Quarantined, Record
from c360.governance.suppression import ANONYMISE, DROP, Suppressor, is_suppressed, keys_for
from c360.spec.validate import load_spec
from c360.store import Store
from c360.store.schema import suppression
from tests.governance.test_audit import store as store

DEMO = Path(__file__).parents[2] / "src" / "c360" / "demo" / "product.yaml"


@pytest.fixture()
def product() -> Iterator[object]:
    yield load_spec(DEMO).model


def suppress(store: Store, entries: dict[str, str], kind: str = "key") -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(suppression),
            [
                {"digest": d, "kind": kind, "action": a, "erasure_id": "er_1", "created_at": dt.datetime.now(dt.UTC)}
                for d, a in entries.items()
            ],
        )


def billing(key: str, email: str) -> Record:
    return Record(
        key,
        {
            "id": key,
            "name": "Polder Chemicals B.V.",
            "email": email,
            "phone": "030 761 1658",
            "metadata": {"crm_account_id": "001x"},
            "currency": "eur",
        },
    )


def test_nothing_suppressed_admits_everything_untouched(store: Store, product: object) -> None:
    sup = Suppressor.load(store, product)  # type: ignore[arg-type]
    recs = [billing("cus_1", "a@b.com")]
    assert not sup and sup.admit("billing", recs) == recs


def test_a_dropped_key_and_its_children_never_land(store: Store, product: object) -> None:
    keys = keys_for(store)
    suppress(store, {keys.key_digest("billing", "cus_gone"): DROP})
    sup = Suppressor.load(store, product)  # type: ignore[arg-type]
    out = sup.admit("billing", [billing("cus_gone", "x@y.com"), billing("cus_kept", "k@y.com")])
    assert [r.key for r in out] == ["cus_kept"]
    inv = [
        Record("in_1", {"id": "in_1", "customer": "cus_gone", "amount_paid": 100}),
        Record("in_2", {"id": "in_2", "customer": "cus_kept", "amount_paid": 200}),
    ]
    assert [r.key for r in sup.admit("invoices", inv)] == ["in_2"]
    assert sup.dropped == 2


def test_an_anonymised_person_arrives_anonymised_and_their_children_relinked(store: Store, product: object) -> None:
    keys = keys_for(store)
    suppress(store, {keys.key_digest("billing", "cus_p"): ANONYMISE})
    suppress(store, {keys.email_digest("Lotte@Polder.nl"): ANONYMISE}, kind="email")
    sup = Suppressor.load(store, product)  # type: ignore[arg-type]
    [rec] = sup.admit("billing", [billing("cus_p", "lotte@polder.nl")])
    pseudo = keys.pseudonym_key("billing", "cus_p")
    assert rec.key == pseudo and rec.data["id"] == pseudo
    assert "email" not in rec.data and "phone" not in rec.data
    assert rec.data["name"] == "Polder Chemicals B.V." and rec.data["metadata"] == {"crm_account_id": "001x"}
    # Arriving again, it is byte-for-byte the same: the re-sync changes nothing.
    [again] = sup.admit("billing", [billing("cus_p", "lotte@polder.nl")])
    assert again == rec
    [inv] = sup.admit("invoices", [Record("in_9", {"id": "in_9", "customer": "cus_p", "amount_paid": 5})])
    assert inv.key == "in_9" and inv.data["customer"] == pseudo
    # A new record carrying the erased email (another ticket) is anonymised too.
    ticket = Record(
        "77",
        {
            "id": 77,
            "status": "open",
            "requester": {"email": "LOTTE@polder.nl", "name": "Lotte"},
            "organization": {"name": "Polder"},
            "subject": "mail lotte@polder.nl back",
        },
    )
    [t] = sup.admit("support", [ticket])
    assert t.key == keys.pseudonym_key("support", "77")
    assert t.data["requester"] == {} and t.data["subject"] == "mail [erased] back"
    assert t.data["organization"] == {"name": "Polder"}
    # A tombstone of the person's record lands on the pseudonymous key.
    [tomb] = sup.admit("billing", [Record("cus_p", {}, deleted=True)])
    assert tomb.key == pseudo and tomb.deleted
    bad = sup.scrub_quarantined([Quarantined("f.jsonl:3", "invalid JSON", '{"email": "lotte@polder.nl"')])
    assert bad[0].raw == '{"email": "[erased]"'


def test_is_suppressed_by_keyed_hash_only(store: Store) -> None:
    keys = keys_for(store)
    suppress(store, {keys.email_digest("erased@example.com"): DROP}, kind="email")
    assert is_suppressed(store, email=" Erased@Example.com ")
    assert not is_suppressed(store, email="other@example.com")
    assert not is_suppressed(store, source="billing", key="cus_1")
    with store.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(select(suppression))]
    assert all("erased@" not in repr(r) for r in stored)
    assert "suppress" not in repr(keys) or "*" in repr(keys)
