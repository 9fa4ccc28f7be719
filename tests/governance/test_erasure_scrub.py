"""Erasure leaves no identifier behind: undeclared ids in kept records, and free text of others."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from c360.connectors.base import get_path
from c360.core import jsonutil
from c360.governance import suppression
from c360.governance.erasure import SubjectRef, erase
from c360.governance.suppression import ERASED, Keys
from c360.pipeline.build import build
from c360.store import Store
from c360.store.schema import identity_map, staged_records
from tests.governance.test_erasure import AS_OF, Case, Person, case, dump, pg_demo_template, pick_person, residue  # noqa: F401

KEYS = Keys(b"s" * 32, b"n" * 32)


# -- helpers ---------------------------------------------------------------------------------------


def payload(store: Store, source: str, key: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        raw = conn.execute(
            select(staged_records.c.payload).where(staged_records.c.source == source, staged_records.c.key == key)
        ).scalar_one()
    return jsonutil.loads(raw)  # type: ignore[no-any-return]


def phone_of(case: Case, person: Person) -> str:  # noqa: F811
    """The person's phone as a source holds it (the demo's billing customers carry one)."""
    for s, k in person.keys:
        src = case.spec.model.sources[s]
        for col in [c for a, c in src.identity.items() if a == "phone"]:
            v = get_path(payload(case.store, s, k), src.column_path(col))
            if isinstance(v, str) and sum(ch.isdigit() for ch in v) >= 7:
                return v
    raise AssertionError("the picked person has no phone")


def written_forms(phone: str) -> list[str]:
    """The same number as people write it: grouped with parentheses, international, bare digits."""
    d = re.sub(r"\D", "", phone)
    return [f"({d[:3]}) {d[3:6]}-{d[6:]}", f"+1 {d[:3]} {d[3:6]} {d[6:]}", d]


def another_ticket(
    case: Case,  # noqa: F811
    person: Person,
    not_of: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """A support ticket of someone else (and of another customer than ``not_of``), as its source
    file holds it."""
    with case.store.engine.connect() as conn:
        owners = dict(
            conn.execute(
                select(identity_map.c.key, identity_map.c.customer_id).where(identity_map.c.source == "support")
            ).all()
        )
    for line in (case.dir / "support_tickets.jsonl").read_text().splitlines():
        try:
            t = json.loads(line)
        except ValueError:
            continue
        key, requester = str(t["id"]), t.get("requester") or {}
        if (
            ("support", key) not in person.keys
            and (requester.get("email") or "").lower() != person.email
            and key in owners
            and owners[key] != not_of
        ):
            return key, t
    raise AssertionError("no other ticket")


def rewrite_ticket(path: Path, ticket: dict[str, Any]) -> None:
    """Replace one ticket in the support source file (the next full sync stages it)."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f'{{"id":{ticket["id"]},'):
            lines[i] = json.dumps(ticket, separators=(",", ":"))
            break
    else:
        raise AssertionError(f"ticket {ticket['id']} not in {path}")
    path.write_text("\n".join(lines) + "\n")


def note_about(person: Person, phone: str) -> tuple[str, str]:
    """Free text naming the person's email and phone, and what is left after the scrub."""
    v1, v2, v3 = written_forms(phone)
    note = (
        f"Please copy {person.email.upper()} and call her on {v1} or {v2}; tel. {v3}. "
        "Our ops desk is ops@example.org, ticket 4711."
    )
    left = (
        f"Please copy {ERASED} and call her on {ERASED} or {ERASED}; tel. {ERASED}. "
        "Our ops desk is ops@example.org, ticket 4711."
    )
    return note, left


def last_audit(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT kind, detail FROM audit_log ORDER BY seq DESC")).first()
    assert row is not None and row.kind == "erasure"
    return jsonutil.loads(row.detail)  # type: ignore[no-any-return]


# -- (a) undeclared identifiers in the person's own, kept records ---------------------------------


def test_an_anonymised_ticket_keeps_no_support_desk_id_of_the_person(case: Case) -> None:  # noqa: F811
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    tickets = [k for s, k in person.keys if s == "support"]
    assert tickets, "the picked person has no ticket"
    ids = {str(get_path(payload(store, "support", k), "requester.id")) for k in tickets}
    needles = sorted(ids)
    assert residue(store, needles)  # the scan finds the requester id before the erasure
    # Tickets the desk filed under another address of the same user keep it: they are not found.
    others = [
        row.key
        for row in store.staged("support")
        if ("support", row.key) not in person.keys and str(get_path(row.payload, "requester.id")) in ids
    ]
    result = erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request")
    kept = [r for r in result.plan.records if r.source == "support" and r.action == "anonymise"]
    assert {r.key for r in kept} == set(tickets)
    for r in kept:
        body = payload(store, "support", str(r.new_key))
        assert body["requester"] == {"id": ERASED}, body
        assert not any(i in jsonutil.dumps(body).decode() for i in ids)
    expected = [f"staged_records.payload: {i}" for i in needles for _ in others]
    assert sorted(residue(store, needles)) == sorted(expected)
    # A full re-sync brings the tickets back from the source file: anonymised the same way.
    report = build(spec, store, full=True, as_of=AS_OF)
    support = next(s for s in report.synced if s.source == "support")
    assert support.counts.new == 0 and support.counts.changed == 0, support.counts
    assert sorted(residue(store, needles)) == sorted(expected)


# -- (b) the person's email and phone in the free text of someone else's ticket -------------------


def test_free_text_of_another_persons_ticket_is_scrubbed_and_stays_scrubbed(case: Case) -> None:  # noqa: F811
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    phone = phone_of(case, person)
    key, ticket = another_ticket(case, person)
    note, left = note_about(person, phone)
    ticket["description"] = note
    ticket["comments"] = [{"author_id": 4711, "body": f"forwarded from <{person.email}>"}]
    rewrite_ticket(case.dir / "support_tickets.jsonl", ticket)
    build(spec, store, full=True, as_of=AS_OF)
    assert payload(store, "support", key)["description"] == note
    untouched = {k: v for k, v in ticket.items() if k not in ("description", "comments")}

    dry = erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request", dry_run=True)
    result = erase(store, spec, SubjectRef(email=person.email), reason="Art. 17 request")
    after = payload(store, "support", key)
    assert after["description"] == left
    assert after["comments"] == [{"author_id": 4711, "body": f"forwarded from <{ERASED}>"}]
    assert {k: v for k, v in after.items() if k not in ("description", "comments")} == untouched
    assert residue(store, [person.email, *written_forms(phone)[:2]]) == []
    # The dry run counted it, and the erasure's report and audit row say so.
    assert dry.plan.counts().get("scrubbed") == 1 and result.plan.counts().get("scrubbed") == 1
    assert last_audit(store).get("scrubbed") == 1
    # The source still says it: a full re-sync scrubs it again on arrival, so nothing changes.
    report = build(spec, store, full=True, as_of=AS_OF)
    support = next(s for s in report.synced if s.source == "support")
    assert support.counts.new == 0 and support.counts.changed == 0, support.counts
    assert payload(store, "support", key)["description"] == left
    assert residue(store, [person.email]) == []


def test_erasing_a_customer_scrubs_their_emails_from_other_customers_tickets(case: Case) -> None:  # noqa: F811
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    cid = next(
        r.customer_id
        for r in erase(store, spec, SubjectRef(email=person.email), reason="r", dry_run=True).plan.records
        if r.customer_id
    )
    key, _ = another_ticket(case, person, not_of=cid)
    body = {**payload(store, "support", key), "description": f"see {person.email} for the contract"}
    with store.engine.begin() as conn:
        conn.execute(
            update(staged_records)
            .where(staged_records.c.source == "support", staged_records.c.key == key)
            .values(payload=jsonutil.dumps(body), content_hash=jsonutil.content_hash(body))
        )
    result = erase(store, spec, SubjectRef(customer_id=str(cid)), reason="Art. 17 request")
    assert result.plan.scope == "customer"
    assert payload(store, "support", key)["description"] == f"see {ERASED} for the contract"
    assert residue(store, [person.email]) == []
    assert result.plan.counts().get("scrubbed", 0) >= 1


def test_the_scrub_rolls_back_with_the_erasure(case: Case) -> None:  # noqa: F811
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    key, _ = another_ticket(case, person)
    body = {**payload(store, "support", key), "description": f"cc {person.email}"}
    with store.engine.begin() as conn:
        conn.execute(
            update(staged_records)
            .where(staged_records.c.source == "support", staged_records.c.key == key)
            .values(payload=jsonutil.dumps(body), content_hash=jsonutil.content_hash(body))
        )
    before = dump(store)

    def fail(at: str) -> None:
        if at == "audit":
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        erase(store, spec, SubjectRef(email=person.email), reason="r", hook=fail)
    assert dump(store) == before
    assert payload(store, "support", key)["description"] == f"cc {person.email}"


def test_the_erasure_transaction_runs_with_secure_delete(case: Case) -> None:  # noqa: F811
    if case.kind != "sqlite":
        pytest.skip("a SQLite pragma")
    store, spec = case.store, case.spec
    person = pick_person(store, spec)
    store.close()  # one pooled connection from here on, with secure_delete off
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA secure_delete=OFF")
    # The erasure must not rely on how its connection was opened.
    erase(store, spec, SubjectRef(email=person.email), reason="r")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1


# -- the matching itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("303.932.8211", "(303) 932-8211"),
        ("303.932.8211", "+1 303 932 8211"),
        ("303.932.8211", "3039328211"),
        ("+1 303 932 8211", "303-932-8211"),
        ("020 7946 0958", "+44 20 7946 0958"),
        ("020 7946 0958", "+44 (0)20 7946 0958"),
        ("+44 20 7946 0958", "020 7946 0958"),
    ],
)
def test_a_phone_is_found_in_its_common_written_forms(stored: str, written: str) -> None:
    digests = KEYS.phone_digests(stored)
    assert suppression.mask_free_text(f"call {written} today", KEYS, digests) == f"call {ERASED} today"


@pytest.mark.parametrize(
    "written",
    [
        "303 555 8211",
        "9328211 0",
        "2025-02-19 06:00",
        "2025-02-19T06:00:27Z",
        "932 8211",
        "30393282110",
        "503.932.8211",
    ],
)
def test_other_numbers_are_left_alone(written: str) -> None:
    digests = KEYS.phone_digests("303.932.8211")
    assert suppression.mask_free_text(f"note {written} end", KEYS, digests) == f"note {written} end"


def test_only_the_erased_email_is_masked_in_any_case() -> None:
    digests = {KEYS.email_digest("Jane.Doe@Acme.com")}
    value = {"a": ["mail JANE.DOE@acme.COM or jane.doe2@acme.com", 3], "b": "x@y.org"}
    masked = {"a": [f"mail {ERASED} or jane.doe2@acme.com", 3], "b": "x@y.org"}
    assert suppression.mask_free_text(value, KEYS, digests) == masked
    # What holds nothing erased comes back as the same object: not copied, not rewritten.
    untouched = {"a": "nothing here", "b": ["call 303 555 8211 on 2025-02-19", "x@y.org"]}
    digests |= KEYS.phone_digests("303.932.8211")
    assert suppression.mask_free_text(untouched, KEYS, digests) is untouched
