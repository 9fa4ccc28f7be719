"""Training the Splink model: a failed EM session must not leave a damaged model behind."""

from __future__ import annotations

from typing import Any

import pytest

from c360.identity import matching
from c360.identity.normalise import IdentityAttributes
from c360.identity.records import IdentityRecord


def rec(source: str, key: str, name: str, domain: str, email: str, phone: str | None) -> IdentityRecord:
    attrs = IdentityAttributes(name=name, name_tokens=tuple(name.split()), web_domain=None, email=email,
                               email_domain=domain, phone=phone, address=None, postcode=None, country=None,
                               person_name=None)
    return IdentityRecord(source, key, attrs, {})


def records() -> list[IdentityRecord]:
    out = []
    for i, word in enumerate(("acme", "zenith", "orbit", "nimbus", "quartz", "willow")):
        for source in ("crm", "billing"):
            for person in ("a", "b"):
                out.append(rec(source, f"{word}-{person}", f"{word} works", f"{word}.com", f"{person}@{word}.com",
                               f"+4420790{i:05d}" if source == "crm" else None))
    return out


def levels(model: dict[str, Any], column: str) -> list[dict[str, Any]]:
    comparison = next(c for c in model["comparisons"] if c["output_column_name"] == column)
    return [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]


def test_an_unobserved_level_gets_a_modest_m_and_the_others_make_room() -> None:
    model = {"comparisons": [
        {"output_column_name": "phone", "comparison_levels": [
            {"is_null_level": True},
            {"label_for_charts": "exact", "m_probability": 1.0},
            {"label_for_charts": "else"},
        ]},
        {"output_column_name": "domain", "comparison_levels": [  # nothing trained yet: left for EM
            {"is_null_level": True}, {"label_for_charts": "exact"}, {"label_for_charts": "else"},
        ]},
    ]}
    out = matching.fill_unobserved_m(model)
    phone = levels(out, "phone")
    assert [lv["m_probability"] for lv in phone] == [pytest.approx(1.0 - matching.UNOBSERVED_M),
                                                      matching.UNOBSERVED_M]
    assert sum(lv["m_probability"] for lv in phone) == pytest.approx(1.0)
    assert all("m_probability" not in lv for lv in levels(out, "domain"))
    assert "m_probability" not in out["comparisons"][0]["comparison_levels"][0]


def test_a_failing_em_session_is_dropped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Splink takes a blocked-on comparison out for the session; a failure must not keep it out."""
    import splink.internals.expectation_maximisation as em

    populate = em.populate_m_u_from_lookup

    def failing(fixed: Any, level: Any, column: str, lookup: Any) -> None:
        if column == "domain":  # only the session blocked on name estimates domain
            raise ValueError("m_probability value 0.0 is below the minimum allowed value")
        populate(fixed, level, column, lookup)

    whole = matching.match(records(), grain="account", threshold=0.5).model
    assert whole is not None
    monkeypatch.setattr(em, "populate_m_u_from_lookup", failing)
    outcome = matching.match(records(), grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    assert [c["output_column_name"] for c in model["comparisons"]] == ["name", "domain", "email", "phone", "postcode"]
    # The match rate is the one estimated before EM (as in a run where EM succeeds), not a
    # half-finished session's.
    assert model["probability_two_random_records_match"] == whole["probability_two_random_records_match"]
    assert all(isinstance(lv.get("m_probability"), float) for lv in levels(model, "name"))
    # Domain was never trained: it carries no m, and the name-blocked session's failure left no trace.
    assert all("m_probability" not in lv for lv in levels(model, "domain"))
    assert outcome.links  # the model still scores: same-name, same-email pairs link


def test_a_level_unseen_in_the_first_session_does_not_break_the_second() -> None:
    """Phones only on CRM records: no domain-blocked match disagrees on phone, so its 'else' is unseen."""
    outcome = matching.match(records(), grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    for column in ("name", "domain", "email"):
        assert all(isinstance(lv.get("m_probability"), float) for lv in levels(model, column)), column
    assert all(isinstance(lv.get("m_probability"), float) for lv in levels(model, "phone"))


def test_a_level_met_only_among_non_matches_is_floored_not_zeroed() -> None:
    """Namesakes (same name, another domain and phone) are all non-matches: EM drives the m of
    'phone differs' towards 0, squaring it each iteration. It stops at the floor, so the session
    completes and the level stays a strong (finite) vote against a match."""
    out = []
    for i, word in enumerate(("acme", "zenith", "orbit", "nimbus", "quartz", "willow", "harbor", "summit")):
        for source in ("crm", "billing"):
            out.append(rec(source, f"{word}-{source}", f"{word} works", f"{word}.com", f"a@{word}.com",
                           f"+4420790{i:05d}"))
        for j in range(3):
            out.append(rec("crm", f"{word}-other{j}", f"{word} works", f"{word}{j}.net", f"b@{word}{j}.net",
                           f"+4420791{i:03d}{j:02d}"))
    outcome = matching.match(out, grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    assert [c["output_column_name"] for c in model["comparisons"]] == ["name", "domain", "email", "phone", "postcode"]
    phone_differs = levels(model, "phone")[-1]["m_probability"]
    assert phone_differs == matching.EM_M_FLOOR
    assert sorted((m.left, m.right) for m in outcome.links) == sorted(
        (f"billing:{w}-billing", f"crm:{w}-crm") for w in ("acme", "zenith", "orbit", "nimbus", "quartz", "willow",
                                                          "harbor", "summit"))
