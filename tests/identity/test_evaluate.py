"""The evaluation maths on hand-made cases."""

from __future__ import annotations

import pytest

from c360.identity.evaluate import TruthRow, evaluate, evaluate_all

T = [
    TruthRow("crm", "1", "A"),
    TruthRow("billing", "1", "A"),
    TruthRow("support", "1", "A"),
    TruthRow("crm", "2", "B"),
    TruthRow("billing", "2", "B"),
]


def test_perfect() -> None:
    s = evaluate(T, {"crm:1": "x", "billing:1": "x", "support:1": "x", "crm:2": "y", "billing:2": "y"})
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert (s.over_merged_entities, s.split_entities, s.unresolved) == (0, 0, 0)


def test_split_costs_recall() -> None:
    # A's support record on its own: true pairs 3 + 1 = 4, found 1 + 1 = 2.
    s = evaluate(T, {"crm:1": "x", "billing:1": "x", "support:1": "z", "crm:2": "y", "billing:2": "y"})
    assert s.precision == 1.0 and s.recall == 0.5
    assert s.f1 == pytest.approx(2 * 0.5 / 1.5, abs=1e-4)
    assert s.split_entities == 1
    # B-cubed recall: A's three records see 2/3, 2/3, 1/3; B's see 1, 1.
    assert s.bcubed_recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5, abs=1e-4)


def test_merge_costs_precision() -> None:
    s = evaluate(T, {r: "x" for r in ("crm:1", "billing:1", "support:1", "crm:2", "billing:2")})
    # predicted pairs 10, true 4, correct 4.
    assert s.precision == 0.4 and s.recall == 1.0
    assert s.over_merged_entities == 2
    # Across sources: predicted 10 - 1 (crm-crm) - 1 (billing-billing) = 8; true 3 + 1 = 4.
    assert s.cross_source_precision == 0.5


def test_unresolved_records_are_singletons() -> None:
    s = evaluate(T, {"crm:1": "x", "billing:1": "x", "crm:2": "y", "billing:2": "y"})
    assert s.unresolved == 1 and s.precision == 1.0 and s.recall == 0.5


def test_undecidable_records_are_scored_apart() -> None:
    rows = [*T, TruthRow("support", "9", "A", "free_mail_no_org")]
    pred = {"crm:1": "x", "billing:1": "x", "support:1": "x", "crm:2": "y", "billing:2": "y"}
    out = evaluate_all(rows, pred)
    assert out["recall"] < 1.0
    assert out["decidable"]["recall"] == 1.0
    assert (out["undecidable_records"], out["undecidable_guessed"]) == (1, 0)
    assert evaluate_all(rows, {**pred, "support:9": "x"})["undecidable_guessed"] == 1


def test_the_ceiling_leaves_undecidable_records_unresolved() -> None:
    # A has 4 records, one undecidable: true pairs 6 + 1 (B) = 7; a perfect resolver that
    # does not guess finds 3 + 1 = 4 of them, with no wrong pair.
    rows = [*T, TruthRow("support", "9", "A", "free_mail_no_org")]
    best = evaluate_all(rows, {})["ceiling"]
    assert best["precision"] == 1.0
    assert best["recall"] == pytest.approx(4 / 7, abs=1e-4)
    assert best["f1"] == pytest.approx(2 * (4 / 7) / (1 + 4 / 7), abs=1e-4)
    # With nothing undecidable the ceiling is perfect.
    assert evaluate_all(T, {})["ceiling"]["f1"] == 1.0
