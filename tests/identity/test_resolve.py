"""Clustering decisions, with the matcher replaced by hand-made scores: pins, rules, people, ambiguity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from c360.identity import resolve as resolve_mod
from c360.identity.matching import MatchLink, MatchOutcome
from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord
from c360.identity.resolve import resolve
from c360.identity.rollup import GROUP_SOURCE, roll_up
from c360.spec.validate import Rule

PEOPLE = frozenset({"support"})


def rec(source: str, key: str, *, name: str | None = None, domain: str | None = None, email: str | None = None,
        refs: dict[str, str] | None = None) -> IdentityRecord:
    attrs = IdentityAttributes(name=name, name_tokens=tuple((name or "").split()), web_domain=None,
                               email=email, email_domain=domain, phone=None, address=None, postcode=None,
                               country=None, person_name=None)
    return IdentityRecord(source, key, attrs, refs or {})


@pytest.fixture()
def scores(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], float]:
    """Pairs and their match probabilities; the matcher returns exactly these."""
    table: dict[tuple[str, str], float] = {}

    def fake_match(records: Sequence[IdentityRecord], **_: Any) -> MatchOutcome:
        ids = {r.rid for r in records}
        out = [MatchLink(a, b, p, {"name": 10.0}) for (a, b), p in table.items() if a in ids and b in ids]
        return MatchOutcome(out, [], None, False)

    monkeypatch.setattr(resolve_mod, "match", fake_match)
    return table


def clusters_of(result: resolve_mod.Resolution) -> set[frozenset[str]]:
    return {frozenset(c) for c in result.clusters}


def test_accounts_link_above_the_threshold_only(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "1", name="acme"), rec("billing", "a", name="acme"), rec("billing", "b", name="acme x")]
    scores[("crm:1", "billing:a")] = 0.95
    scores[("crm:1", "billing:b")] = 0.6
    out = resolve(records, [], grain="account", threshold=0.9, review_threshold=0.5)
    assert clusters_of(out) == {frozenset({"crm:1", "billing:a"}), frozenset({"billing:b"})}
    assert [(m.left, m.right) for m in out.review] == [("crm:1", "billing:b")]


def test_people_of_one_domain_join_their_account_together(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "1", name="acme", domain="acme.com"),
               rec("support", "t1", name="acme", domain="acme.com", email="a@acme.com"),
               rec("support", "t2", domain="acme.com", email="b@acme.com")]
    scores[("crm:1", f"{GROUP_SOURCE}:acme.com")] = 0.99
    out = resolve(records, [], grain="account", threshold=0.9, person_sources=PEOPLE)
    assert clusters_of(out) == {frozenset({"crm:1", "support:t1", "support:t2"})}
    assert out.evidence()["support:t2"].method == "domain"


def test_a_person_between_two_accounts_is_not_guessed(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "leeds", name="acme coffee leeds"), rec("crm", "york", name="acme coffee york"),
               rec("support", "t", name="acme coffee", email="x@gmail.com")]
    scores[("crm:leeds", "support:t")] = 0.8
    scores[("crm:york", "support:t")] = 0.78
    out = resolve(records, [], grain="account", threshold=0.9, attach_threshold=0.5, review_threshold=0.3,
                  person_sources=PEOPLE)
    assert frozenset({"crm:leeds", "crm:york"}) not in clusters_of(out)
    assert frozenset({"support:t"}) in clusters_of(out)
    assert {(m.left, m.right) for m in out.review} == {("crm:leeds", "support:t"), ("crm:york", "support:t")}


def test_a_clear_favourite_account_takes_the_person(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "leeds", name="acme coffee leeds"), rec("crm", "york", name="acme coffee york"),
               rec("support", "t", name="acme coffee leeds", email="x@gmail.com")]
    scores[("crm:leeds", "support:t")] = 0.99
    scores[("crm:york", "support:t")] = 0.4
    out = resolve(records, [], grain="account", threshold=0.9, attach_threshold=0.5, review_threshold=0.3,
                  person_sources=PEOPLE)
    assert frozenset({"crm:leeds", "support:t"}) in clusters_of(out)


def test_a_person_never_chains_two_accounts(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "a", name="ivory"), rec("crm", "b", name="ivory media"),
               rec("support", "t", name="ivory", email="x@yahoo.com")]
    scores[("crm:a", "support:t")] = 0.99
    scores[("crm:b", "support:t")] = 0.95
    out = resolve(records, [], grain="account", threshold=0.9, person_sources=PEOPLE)
    assert not any({"crm:a", "crm:b"} <= c for c in clusters_of(out))


def test_a_person_with_no_evidence_stays_unresolved(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "1", name="acme"), rec("support", "t", email="someone@gmail.com")]
    out = resolve(records, [], grain="account", threshold=0.9, person_sources=PEOPLE)
    assert out.unresolved == ["support:t"]
    assert all("support:t" not in c for c in out.clusters)


def test_rules_link_and_a_refuted_cross_reference_is_not_applied(scores: dict[tuple[str, str], float]) -> None:
    rule = Rule("billing", "crm_account_id", "crm", "Id")
    records = [rec("crm", "1", name="acme", refs={"Id": "1"}), rec("crm", "2", name="davis", refs={"Id": "2"}),
               rec("billing", "ok", name="acme", refs={"crm_account_id": "1"}),
               rec("billing", "stale", name="davis", refs={"crm_account_id": "1"})]
    scores[("crm:2", "billing:stale")] = 0.99
    out = resolve(records, [rule], grain="account", threshold=0.9)
    assert clusters_of(out) == {frozenset({"crm:1", "billing:ok"}), frozenset({"crm:2", "billing:stale"})}
    assert [(c.left, c.right) for c in out.conflicts] == [("billing:stale", "crm:1")]


def test_pins_win_over_evidence(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "1", name="acme"), rec("billing", "a", name="acme"), rec("billing", "b", name="zeta")]
    scores[("crm:1", "billing:a")] = 0.99
    out = resolve(records, [], grain="account", threshold=0.9, link_pins=[("crm:1", "billing:b")],
                  unlink_pins=[("crm:1", "billing:a")])
    assert clusters_of(out) == {frozenset({"crm:1", "billing:b"}), frozenset({"billing:a"})}
    assert out.evidence()["billing:b"].method == "pinned"


def test_roll_up_sets_a_contractor_apart() -> None:
    people = [rec("support", "1", name="client co", domain="client.com"),
              rec("support", "2", name="client co", domain="client.com"),
              rec("support", "3", name="zebra consulting", domain="client.com")]
    rolled = roll_up(people, PEOPLE)
    assert rolled.members == {f"{GROUP_SOURCE}:client.com": ["support:1", "support:2"]}
    assert "support:3" in {r.rid for r in rolled.records}


def test_a_newcomer_that_merely_resembles_an_account_does_not_move_its_people(
    scores: dict[tuple[str, str], float],
) -> None:
    records = [rec("crm", "old", name="cedar labs"), rec("crm", "new", name="cedar outdoor"),
               rec("support", "t", name="cedar", email="x@gmail.com")]
    scores[("crm:old", "support:t")] = 0.8
    scores[("crm:new", "support:t")] = 0.78
    # Afresh, the person is too close to call ...
    fresh = resolve(records, [], grain="account", threshold=0.9, attach_threshold=0.5, review_threshold=0.3,
                    person_sources=PEOPLE)
    assert frozenset({"support:t"}) in clusters_of(fresh)
    # ... but having belonged to the old account, they stay with it.
    kept = resolve(records, [], grain="account", threshold=0.9, attach_threshold=0.5, review_threshold=0.3,
                   person_sources=PEOPLE, previous={"crm:old": "c_1", "support:t": "c_1"})
    assert frozenset({"crm:old", "support:t"}) in clusters_of(kept)
    assert kept.evidence()["support:t"].evidence["kept"].startswith("previous decision")


def test_roll_up_gives_each_organisation_on_a_shared_domain_its_own_group() -> None:
    people = [rec("support", "1", name="krause hotels", domain="krause.de"),
              rec("support", "2", name="krause robotics", domain="krause.de"),
              rec("support", "3", name="krause robotics", domain="krause.de"),
              rec("support", "4", name="krauserobotics", domain="krause.de")]  # a workspace slug
    rolled = roll_up(people, PEOPLE)
    assert rolled.members == {f"{GROUP_SOURCE}:krause.de": ["support:2", "support:3", "support:4"],
                              f"{GROUP_SOURCE}:krause.de#2": ["support:1"]}
    names = {r.rid: r.attrs.name for r in rolled.records}
    assert names[f"{GROUP_SOURCE}:krause.de#2"] == "krause hotels"


def test_roll_up_places_a_short_name_with_the_one_organisation_that_holds_it() -> None:
    people = [rec("product", "1", name="soleil", domain="soleil.fr"),
              rec("support", "2", name="soleil outdoor", domain="soleil.fr"),
              rec("support", "3", name="bramble farms", domain="soleil.fr"),  # the parent, on its domain
              rec("support", "4", name="bramble farms", domain="soleil.fr")]
    rolled = roll_up(people, PEOPLE | {"product"})
    assert rolled.members == {f"{GROUP_SOURCE}:soleil.fr": ["support:3", "support:4"]}
    # "soleil" is the subsidiary's short name: it stands apart with the subsidiary's people.
    assert {"product:1", "support:2"} <= {r.rid for r in rolled.records}


def test_roll_up_keeps_a_person_the_name_cannot_place_with_the_people_they_were_with() -> None:
    people = [rec("support", "old", name="krause hotels", domain="krause.de"),
              rec("support", "nameless", domain="krause.de"),
              rec("support", "short", name="krause", domain="krause.de"),
              rec("support", "n1", name="krause robotics", domain="krause.de"),
              rec("support", "n2", name="krause robotics", domain="krause.de")]
    # Afresh, people the name cannot place go with the domain's largest organisation ...
    fresh = roll_up(people, PEOPLE)
    assert fresh.members[f"{GROUP_SOURCE}:krause.de"] == ["support:n1", "support:n2", "support:nameless",
                                                          "support:short"]
    # ... but those resolved before stay with the people they were resolved with.
    previous = {"support:old": "c_hotels", "support:nameless": "c_hotels", "support:short": "c_hotels"}
    again = roll_up(people, PEOPLE, previous)
    assert sorted(again.members.values()) == [["support:n1", "support:n2"],
                                              ["support:nameless", "support:old", "support:short"]]
    # Nobody they were with left to join: a group of their own, still apart from the newcomer.
    alone = roll_up([people[1], *people[3:]], PEOPLE, previous)
    assert sorted(alone.members.values()) == [["support:n1", "support:n2"], ["support:nameless"]]


def test_a_newcomer_on_an_accounts_domain_does_not_take_its_people(scores: dict[tuple[str, str], float]) -> None:
    records = [rec("crm", "hotels", name="krause hotels", domain="krause.de"),
               rec("crm", "robotics", name="krause robotics", domain="krause.de"),
               rec("support", "1", name="krause hotels", domain="krause.de"),
               rec("support", "2", name="krause robotics", domain="krause.de")]
    group_of = {r: g for g, rs in roll_up(records, PEOPLE).members.items() for r in rs}
    scores[("crm:hotels", group_of["support:1"])] = 0.99
    scores[("crm:robotics", group_of["support:1"])] = 0.6
    scores[("crm:robotics", group_of["support:2"])] = 0.99
    scores[("crm:hotels", group_of["support:2"])] = 0.6
    out = resolve(records, [], grain="account", threshold=0.9, person_sources=PEOPLE)
    assert clusters_of(out) == {frozenset({"crm:hotels", "support:1"}), frozenset({"crm:robotics", "support:2"})}
    assert out.evidence()["support:1"].evidence == {"domain": "krause.de"}


def test_splink_predictions_read_a_chunk_at_a_time_give_the_same_links(monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.identity import matching

    records = [rec(s, str(i), name=f"{word} works", domain=f"{word}.com", email=f"{p}@{word}.com")
               for i, (s, word, p) in enumerate((s, w, p) for w in ("acme", "zenith", "orbit", "nimbus")
                                                for s in ("crm", "billing") for p in ("a", "b"))]
    whole = matching.match(records, grain="account", threshold=0.5)
    monkeypatch.setattr(matching, "PREDICTION_CHUNK", 1)
    chunked = matching.match(records, grain="account", threshold=0.5, model=whole.model)
    assert whole.links
    assert sorted((m.left, m.right, m.probability, sorted(m.weights.items())) for m in chunked.links) == \
        sorted((m.left, m.right, m.probability, sorted(m.weights.items())) for m in whole.links)


def test_a_person_without_a_corporate_domain_joins_the_one_group_naming_their_organisation() -> None:
    sources = PEOPLE | {"product"}
    people = [rec("product", "1", name="hoshi", domain="hoshi.co.jp"),
              rec("product", "2", name="hoshi", domain="hoshi.co.jp"),
              rec("product", "free", name="hoshi", email="ysato@yahoo.com"),  # the same workspace
              rec("support", "free", name="hoshi", email="ysato@yahoo.com")]  # no support person names it
    rolled = roll_up(people, sources)
    assert rolled.members == {f"{GROUP_SOURCE}:hoshi.co.jp": ["product:1", "product:2", "product:free"]}
    assert rolled.by_organisation == {"product:free": "hoshi"}
    assert "support:free" in {r.rid for r in rolled.records}
    assert "product:free" not in {r.rid for r in rolled.records}


def test_an_organisation_name_two_groups_share_places_nobody() -> None:
    sources = PEOPLE | {"product"}
    people = [rec("product", "1", name="anchor", domain="anchor.com"),
              rec("product", "2", name="anchor", domain="anchor-marine.co.uk"),
              rec("product", "free", name="anchor", email="jo@gmail.com")]
    rolled = roll_up(people, sources)
    assert rolled.by_organisation == {}
    assert "product:free" in {r.rid for r in rolled.records}


def test_a_person_placed_by_organisation_says_so_in_the_evidence(scores: dict[tuple[str, str], float]) -> None:
    sources = PEOPLE | {"product"}
    records = [rec("crm", "a", name="hoshi", domain="hoshi.co.jp"),
               rec("product", "1", name="hoshi", domain="hoshi.co.jp"),
               rec("product", "free", name="hoshi", email="ysato@yahoo.com")]
    scores[("crm:a", f"{GROUP_SOURCE}:hoshi.co.jp")] = 0.99
    out = resolve(records, [], grain="account", threshold=0.9, person_sources=sources)
    assert clusters_of(out) == {frozenset({"crm:a", "product:1", "product:free"})}
    link = out.evidence()["product:free"]
    assert (link.method, link.evidence) == ("organisation", {"organisation": "hoshi", "domain": "hoshi.co.jp"})
