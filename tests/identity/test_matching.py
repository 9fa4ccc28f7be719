"""Training the Splink model: a failed EM session must not leave a damaged model behind."""

from __future__ import annotations

from typing import Any

import pytest

from c360.identity import matching
from c360.identity.atoms import Atom


def rec(source: str, key: str, name: str, domain: str, email: str, phone: str | None) -> Atom:
    """One record as an atom of its own (its e-mail joins nothing here)."""
    return Atom(
        f"{source}:{key}",
        [f"{source}:{key}"],
        names=(name,),
        domains=(domain,),
        phones=(phone,) if phone else (),
        sources=(source,),
        account=True,
    )


def records() -> list[Atom]:
    out = []
    for i, word in enumerate(("acme", "zenith", "orbit", "nimbus", "quartz", "willow")):
        for source in ("crm", "billing"):
            for person in ("a", "b"):
                out.append(
                    rec(
                        source,
                        f"{word}-{person}",
                        f"{word} works",
                        f"{word}.com",
                        f"{person}@{word}.com",
                        f"+4420790{i:05d}" if source == "crm" else None,
                    )
                )
    return out


COMPARISONS = ["name", "domain", "phone", "postcode", "city", "person_name", "country", "identifier"]


def levels(model: dict[str, Any], column: str) -> list[dict[str, Any]]:
    comparison = next(c for c in model["comparisons"] if c["output_column_name"] == column)
    return [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]


def test_an_unobserved_level_gets_a_modest_m_and_the_others_make_room() -> None:
    model = {
        "comparisons": [
            {
                "output_column_name": "phone",
                "comparison_levels": [
                    {"is_null_level": True},
                    {"label_for_charts": "exact", "m_probability": 1.0},
                    {"label_for_charts": "else"},
                ],
            },
            {
                "output_column_name": "domain",
                "comparison_levels": [  # nothing trained yet: left for EM
                    {"is_null_level": True},
                    {"label_for_charts": "exact"},
                    {"label_for_charts": "else"},
                ],
            },
        ]
    }
    out = matching.fill_unobserved_m(model)
    phone = levels(out, "phone")
    assert [lv["m_probability"] for lv in phone] == [pytest.approx(1.0 - matching.UNOBSERVED_M), matching.UNOBSERVED_M]
    assert sum(lv["m_probability"] for lv in phone) == pytest.approx(1.0)
    assert all("m_probability" not in lv for lv in levels(out, "domain"))
    assert "m_probability" not in out["comparisons"][0]["comparison_levels"][0]


def test_a_failing_em_session_is_dropped_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name comparison is estimated only in the session blocked on domain: when that session
    fails, the model keeps the names' starting values, not a half-finished session's."""
    import splink.internals.expectation_maximisation as em

    populate = em.populate_m_u_from_lookup

    def failing(fixed: Any, level: Any, column: str, lookup: Any) -> None:
        if column == "name":
            raise ValueError("m_probability value 0.0 is below the minimum allowed value")
        populate(fixed, level, column, lookup)

    monkeypatch.setattr(em, "populate_m_u_from_lookup", failing)
    outcome = matching.match(records(), grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    assert [c["output_column_name"] for c in model["comparisons"]] == COMPARISONS
    assert [lv["m_probability"] for lv in levels(model, "name")] == pytest.approx(matching.M_PRIORS["name"])
    assert outcome.links  # the model still scores: same name, same domain pairs link


def test_em_never_trains_a_comparison_on_pairs_blocked_on_its_own_column() -> None:
    """Blocked on the main name, every pair agrees on a name: that session must not read this as
    what matches look like (it did, and a comparison of names learnt that matches share one word)."""
    outcome = matching.match(records(), grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    name = levels(model, "name")
    # Trained on the domain-blocked session only, where the companies' records agree on names.
    assert name[0]["m_probability"] > 0.9
    for column in ("name", "domain", "phone"):
        assert all(isinstance(lv.get("m_probability"), float) for lv in levels(model, column)), column


def test_agreement_weighed_as_disagreement_falls_back_to_the_priors() -> None:
    model = {
        "comparisons": [
            {
                "output_column_name": "domain",
                "comparison_levels": [
                    {"is_null_level": True},
                    {"label_for_charts": "a domain in common", "m_probability": 0.0001, "u_probability": 0.001},
                    {"label_for_charts": "else", "m_probability": 0.9999, "u_probability": 0.999},
                ],
            }
        ]
    }
    out = matching.sane_m(model)
    assert [lv["m_probability"] for lv in levels(out, "domain")] == list(matching.M_PRIORS["domain"])


def test_the_match_rate_is_held_to_a_sane_range() -> None:
    assert matching._sane_prior({"probability_two_random_records_match": 0.0}, 1000)[
        "probability_two_random_records_match"
    ] == pytest.approx(0.1 * 1000 / 2 / (1000 * 999 / 2))
    assert (
        matching._sane_prior({"probability_two_random_records_match": 1e-3}, 1000)[
            "probability_two_random_records_match"
        ]
        == 1e-3
    )
    assert matching._sane_prior({}, 2)["probability_two_random_records_match"] == 0.5


def test_a_level_met_only_among_non_matches_is_floored_not_zeroed() -> None:
    """Namesakes (same name, another domain and phone) are all non-matches: EM drives the m of
    'phone differs' towards 0, squaring it each iteration. It stops at the floor, so the session
    completes and the level stays a strong (finite) vote against a match."""
    out = []
    for i, word in enumerate(("acme", "zenith", "orbit", "nimbus", "quartz", "willow", "harbor", "summit")):
        for source in ("crm", "billing"):
            out.append(
                rec(source, f"{word}-{source}", f"{word} works", f"{word}.com", f"a@{word}.com", f"+4420790{i:05d}")
            )
        for j in range(3):
            out.append(
                rec(
                    "crm",
                    f"{word}-other{j}",
                    f"{word} works",
                    f"{word}{j}.net",
                    f"b@{word}{j}.net",
                    f"+4420791{i:03d}{j:02d}",
                )
            )
    outcome = matching.match(out, grain="account", threshold=0.5)
    model = outcome.model
    assert model is not None
    assert [c["output_column_name"] for c in model["comparisons"]] == COMPARISONS
    phone_differs = levels(model, "phone")[-1]["m_probability"]
    assert phone_differs == pytest.approx(matching.EM_M_FLOOR, rel=0.5) or phone_differs < 1e-6
    assert sorted((m.left, m.right) for m in outcome.links) == sorted(
        (f"billing:{w}-billing", f"crm:{w}-crm")
        for w in ("acme", "zenith", "orbit", "nimbus", "quartz", "willow", "harbor", "summit")
    )
