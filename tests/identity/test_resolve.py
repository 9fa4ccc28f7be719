"""Clustering decisions over the identity graph, with the matcher replaced by hand-made scores.

Scores are match weights in bits (log2 of the posterior odds) between atoms; the prior of two
random atoms matching is -13 bits, so a weak atom needs at least -7 bits (6 bits of evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from c360.identity import resolve as resolve_mod
from c360.identity.atoms import Atom
from c360.identity.matching import MatchLink, MatchOutcome
from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord
from c360.identity.resolve import resolve
from c360.spec.validate import Rule

PEOPLE = frozenset({"support", "product"})
PRIOR = 2.0**-13 / (1 + 2.0**-13)


def rec(
    source: str,
    key: str,
    *,
    name: str | None = None,
    domain: str | None = None,
    email: str | None = None,
    person: str | None = None,
    refs: dict[str, str] | None = None,
    ids: dict[str, str] | None = None,
    parent: str | None = None,
) -> IdentityRecord:
    attrs = IdentityAttributes(
        name=name, name_tokens=tuple((name or "").split()) or None, email=email, email_domain=domain, person_name=person
    )
    return IdentityRecord(source, key, attrs, refs or {}, ids or {}, parent)


class Scores(dict[tuple[str, str], float]):
    """(record, record) → weight in bits, between the atoms holding them."""

    atoms: list[Atom]


@pytest.fixture()
def scores(monkeypatch: pytest.MonkeyPatch) -> Scores:
    table = Scores()

    def fake_match(atoms: Sequence[Atom], **_: Any) -> MatchOutcome:
        table.atoms = list(atoms)
        atom_of = {m: a.rid for a in atoms for m in a.members}
        out = []
        for (a, b), bits in table.items():
            if a in atom_of and b in atom_of and atom_of[a] != atom_of[b]:
                p = 2.0**bits / (1 + 2.0**bits)
                out.append(MatchLink(atom_of[a], atom_of[b], p, {"name": 5.0 if bits > 0 else -1.0}, bits))
        return MatchOutcome(out, [], {"probability_two_random_records_match": PRIOR}, True)

    monkeypatch.setattr(resolve_mod, "match", fake_match)
    return table


def clusters_of(result: resolve_mod.Resolution) -> set[frozenset[str]]:
    return {frozenset(c) for c in result.clusters}


def run(records: list[IdentityRecord], rules: Sequence[Rule] = (), **kw: Any) -> resolve_mod.Resolution:
    return resolve(records, rules, grain="account", threshold=0.9, review_threshold=0.5, person_sources=PEOPLE, **kw)


def test_account_records_link_above_the_threshold_only(scores: Scores) -> None:
    records = [rec("crm", "1", name="acme"), rec("billing", "a", name="acme"), rec("billing", "b", name="acme x")]
    scores[("crm:1", "billing:a")] = 8.0
    scores[("crm:1", "billing:b")] = -9.0  # neither over the threshold nor 6 bits of evidence
    out = run(records)
    assert clusters_of(out) == {frozenset({"crm:1", "billing:a"}), frozenset({"billing:b"})}


def test_the_same_email_on_a_ticket_and_a_product_user_is_one_customer(scores: Scores) -> None:
    """Loss 1: evidence between people. A ticket and a product user sharing an address are one."""
    records = [
        rec("crm", "1", name="acme", domain="acme.com"),
        rec("product", "u1", name="acme", domain="acme.com", email="jo@acme.com"),
        rec("support", "t1", domain="acme.com", email="jo@acme.com"),
    ]
    scores[("crm:1", "product:u1")] = 10.0
    out = run(records)
    assert clusters_of(out) == {frozenset({"crm:1", "product:u1", "support:t1"})}
    assert {(link.method, link.evidence.get("email")) for link in out.links} >= {("email", "jo@acme.com")}


def test_users_of_one_workspace_are_one_customer_whatever_it_is_called(scores: Scores) -> None:
    """Loss 1: 13 of 14 users of a workspace named "Untitled" used to become 13 customers."""
    records = [
        rec("product", f"u{i}", name="untitled", email=f"p{i}@gmail.com", ids={"workspace_id": "77"}) for i in range(14)
    ]
    out = run(records)
    assert clusters_of(out) == {frozenset(f"product:u{i}" for i in range(14))}


def test_a_person_between_two_customers_is_not_guessed(scores: Scores) -> None:
    records = [
        rec("crm", "1", name="acme coffee leeds"),
        rec("crm", "2", name="acme coffee york"),
        rec("support", "t", email="jo@gmail.com", domain=None, person="jo bloggs", name=None),
    ]
    scores[("support:t", "crm:1")] = -2.0
    scores[("support:t", "crm:2")] = -3.0  # within 3 bits of the best
    out = run(records)
    assert frozenset({"support:t"}) not in clusters_of(out)
    assert all(len(c) == 1 for c in out.clusters if "support:t" not in c)
    assert {m.right for m in out.review} | {m.left for m in out.review} >= {"crm:1", "crm:2"}
    assert "support:t" in out.unresolved


def test_a_clear_favourite_takes_the_person_even_below_the_threshold(scores: Scores) -> None:
    records = [
        rec("crm", "1", name="acme", domain="acme.com"),
        rec("crm", "2", name="zenith", domain="zen.com"),
        rec("support", "t", domain="acme.com", email="jo@acme.com"),
    ]
    scores[("support:t", "crm:1")] = -1.0  # 12 bits of evidence: one domain, nothing against
    scores[("support:t", "crm:2")] = -12.0
    out = run(records)
    assert frozenset({"crm:1", "support:t"}) in clusters_of(out)


def test_a_person_never_chains_two_customers(scores: Scores) -> None:
    records = [
        rec("billing", "a", name="acme"),
        rec("billing", "b", name="acme labs"),
        rec("support", "t", domain="acme.com", email="jo@acme.com"),
    ]
    scores[("support:t", "billing:a")] = 9.0
    scores[("support:t", "billing:b")] = 9.0
    out = run(records)
    assert not any({"billing:a", "billing:b"} <= c for c in clusters_of(out))


def test_two_crm_accounts_stay_apart_unless_their_own_evidence_says_duplicate(scores: Scores) -> None:
    """Loss 2: subsidiaries on a parent's domain. People bridge them; the CRM keeps them apart."""
    records = [
        rec("crm", "log", name="halden logistics", domain="halden.com"),
        rec("crm", "de", name="halden deutschland", domain="halden.com"),
        rec("billing", "b", name="halden logistics", domain="halden.com"),
        rec(
            "product",
            "u",
            name="halden logistics",
            domain="halden.com",
            email="a@halden.com",
            ids={"workspace_id": "1"},
        ),
        rec(
            "product",
            "v",
            name="halden deutschland",
            domain="halden.com",
            email="b@halden.com",
            ids={"workspace_id": "2"},
        ),
    ]
    scores[("billing:b", "crm:log")] = 20.0
    scores[("billing:b", "crm:de")] = 6.0  # the shared domain: a bridge the CRM refuses
    scores[("product:u", "crm:log")] = 20.0
    scores[("product:v", "crm:de")] = 19.0
    scores[("product:u", "product:v")] = 15.0  # colleagues on one domain: no bridge either
    scores[("crm:log", "crm:de")] = 2.0  # domain alike, names not: no duplicate
    out = run(records)
    assert clusters_of(out) == {frozenset({"crm:log", "billing:b", "product:u"}), frozenset({"crm:de", "product:v"})}
    assert any("different records of a source" in c.evidence.get("refused", "") for c in out.conflicts)


def test_a_crm_duplicate_with_agreeing_evidence_joins(scores: Scores) -> None:
    records = [rec("crm", "1", name="acme", domain="acme.com"), rec("crm", "2", name="acme (duplicate)")]
    scores[("crm:1", "crm:2")] = 6.0
    assert clusters_of(run(records)) == {frozenset({"crm:1", "crm:2"})}


def test_an_account_and_its_parent_stay_apart_whatever_the_score(scores: Scores) -> None:
    records = [
        rec("crm", "p", name="halden group", domain="halden.com"),
        rec("crm", "s", name="halden group uk", domain="halden.com", parent="p"),
    ]
    scores[("crm:p", "crm:s")] = 30.0
    out = run(records)
    assert clusters_of(out) == {frozenset({"crm:p"}), frozenset({"crm:s"})}


def test_a_15_character_salesforce_id_finds_its_18_character_account(scores: Scores) -> None:
    """Loss 3: rules compared exact strings, so Stripe's 15-character id never matched."""
    rule = Rule("billing", "crm_account_id", "crm", "Id")
    records = [
        rec("crm", "0015g0000WvoNiqAQE", name="acme", refs={"Id": "0015g0000WvoNiqAQE"}),
        rec("crm", "0015g0000WvoNirAQE", name="zenith", refs={"Id": "0015g0000WvoNirAQE"}),
        rec("billing", "a", name="acme ltd", refs={"crm_account_id": "0015g0000WvoNiq"}),
        rec("billing", "b", name="odd", refs={"crm_account_id": "0015g0000WvoNiqAQ"}),
    ]  # 17 characters
    out = run(records, [rule])
    assert frozenset({"crm:0015g0000WvoNiqAQE", "billing:a"}) in clusters_of(out)
    assert out.transform_failures == {"billing.crm_account_id": 1}
    assert any(link.method == "rule" for link in out.links)


def test_a_rule_with_a_declared_transform() -> None:
    rule = Rule("billing", "ref", "crm", "code", ("lower",), ("trim", "lower"))
    records = [rec("crm", "1", refs={"code": " ACME-1 "}), rec("billing", "a", refs={"ref": "Acme-1"})]
    tagged = resolve_mod.rule_values(records, [rule])
    assert tagged["crm:1"] == tagged["billing:a"] == ["r0:acme-1"]


def test_a_wrong_cross_reference_loses_to_the_better_candidate(scores: Scores) -> None:
    rule = Rule("billing", "crm_account_id", "crm", "Id")
    records = [
        rec("crm", "X", name="halden deutschland", refs={"Id": "X"}),
        rec("crm", "Y", name="halden logistics", refs={"Id": "Y"}),
        rec("billing", "b", name="halden logistics", refs={"crm_account_id": "X"}),
    ]
    scores[("billing:b", "X")] = 0.0
    scores[("billing:b", "crm:X")] = 1.0  # the rule's pair: weighs the threshold, no more
    scores[("billing:b", "crm:Y")] = 25.0
    out = run(records, [rule])
    assert frozenset({"billing:b", "crm:Y"}) in clusters_of(out)
    assert frozenset({"crm:X"}) in clusters_of(out)


def test_declaring_an_identifier_keeps_the_record_in_matching(scores: Scores) -> None:
    """Loss 4: a record with a rule column was kept out of the domain roll-up."""
    records = [
        rec("crm", "1", name="acme", domain="acme.com"),
        rec("product", "u", name="acme", domain="acme.com", email="a@acme.com", ids={"workspace_id": "9"}),
    ]
    scores[("product:u", "crm:1")] = 12.0
    assert clusters_of(run(records)) == {frozenset({"crm:1", "product:u"})}


def test_steward_pins_win(scores: Scores) -> None:
    records = [
        rec("crm", "1", name="acme"),
        rec("billing", "a", name="acme"),
        rec("crm", "2", name="zenith"),
        rec("billing", "z", name="zenith"),
    ]
    scores[("crm:1", "billing:a")] = 20.0
    scores[("crm:2", "billing:z")] = 20.0
    out = run(records, link_pins=[("crm:1", "crm:2")], unlink_pins=[("crm:2", "billing:z")])
    # The link joins the two customers whole; the unlink keeps its pair apart all the same.
    assert frozenset({"crm:1", "billing:a", "crm:2"}) in clusters_of(out)
    assert frozenset({"billing:z"}) in clusters_of(out)


def test_people_nothing_places_stay_unresolved(scores: Scores) -> None:
    records = [
        rec("crm", "1", name="acme"),
        rec("support", "t1", email="jo@gmail.com", person="jo"),
        rec("support", "t2", email="jo@gmail.com", person="jo"),
        rec("support", "t3"),
    ]
    out = run(records)
    assert sorted(out.unresolved) == ["support:t1", "support:t2", "support:t3"]
    assert clusters_of(out) == {frozenset({"crm:1"})}


def test_without_sources_of_people_every_system_is_deduplicated_in_itself(scores: Scores) -> None:
    """Four systems of accounts alone (no people): duplicates within one system join too."""
    records = [
        rec("erp", "1", name="united partners"),
        rec("erp", "2", name="untied partners"),
        rec("crm", "3", name="united partners"),
    ]
    scores[("erp:1", "erp:2")] = 9.0
    scores[("erp:1", "crm:3")] = 9.0
    out = resolve(records, [], grain="account", threshold=0.9)
    assert clusters_of(out) == {frozenset({"erp:1", "erp:2", "crm:3"})}
