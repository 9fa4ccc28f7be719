"""How good is an identity map? Pairwise and cluster-level figures against a truth file.

Pairwise precision/recall/F1 count pairs of records placed together; B-cubed
averages per-record precision and recall; over-merged true entities share a
predicted cluster with another entity, split ones spread over several clusters.
Records the map leaves unresolved count as singletons.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TruthRow:
    source: str
    key: str
    entity: str
    kind: str = "clean"


@dataclass
class Scores:
    precision: float
    recall: float
    f1: float
    cross_source_precision: float
    cross_source_recall: float
    cross_source_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    records: int
    true_entities: int
    predicted_clusters: int
    over_merged_entities: int
    split_entities: int
    unresolved: int
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Truth kinds whose records no evidence can place: they must stay unresolved, and the
# "decidable" figures leave them out (the all-records figures keep them, as singletons).
UNDECIDABLE_KINDS = frozenset({"free_mail_no_org"})


def evaluate_all(truth: Iterable[TruthRow], predicted: Mapping[str, str]) -> dict[str, Any]:
    """Scores over every record, and over the decidable ones, plus how undecidable ones fared."""
    rows = list(truth)
    undecidable = [t for t in rows if t.kind in UNDECIDABLE_KINDS]
    guessed = sum(1 for t in undecidable if predicted.get(f"{t.source}:{t.key}"))
    decidable = [t for t in rows if t.kind not in UNDECIDABLE_KINDS]
    out = evaluate(rows, predicted).as_dict()
    out["decidable"] = {k: v for k, v in evaluate(decidable, predicted).as_dict().items() if k != "by_kind"}
    out["undecidable_records"] = len(undecidable)
    out["undecidable_guessed"] = guessed
    # The best any resolver can score while leaving the undecidable records unresolved: every
    # decidable record with its true entity, every undecidable one a singleton.
    best = evaluate(rows, {f"{t.source}:{t.key}": f"truth:{t.entity}" for t in decidable})
    out["ceiling"] = {"precision": best.precision, "recall": best.recall, "f1": best.f1}
    return out


def read_truth(path: Path, column: str | None = None) -> list[TruthRow]:
    """Read ``source,source_key,<truth id>[,kind]``.

    The truth id's column is ``column``, else ``true_account_id``, else the one column named
    ``true_…`` (``true_person_id``), else the one column beside source, source_key and kind.
    """
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        found = list(reader.fieldnames or [])
        if not {"source", "source_key"} <= set(found):
            raise ValueError(
                f"{path}: expected columns source,source_key and a truth id column "
                f"(true_account_id, true_person_id, ...); found {','.join(found)}"
            )
        others = [c for c in found if c not in ("source", "source_key", "kind")]
        named = [c for c in others if c.startswith("true_")]
        if column is not None:
            if column not in found:
                raise ValueError(f"{path}: no column '{column}'; found {','.join(found)}")
            entity = column
        elif "true_account_id" in others:
            entity = "true_account_id"
        elif len(named) == 1 or len(others) == 1:
            entity = (named or others)[0]
        else:
            raise ValueError(
                f"{path}: which column holds the true id? found {','.join(others) or 'none'}; "
                "name it with --truth-column"
            )
        return [TruthRow(r["source"], r["source_key"], r[entity], (r.get("kind") or "clean")) for r in reader]


def _pairs(groups: Iterable[list[str]]) -> int:
    return sum(len(g) * (len(g) - 1) // 2 for g in groups)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(truth: Iterable[TruthRow], predicted: Mapping[str, str]) -> Scores:
    """Score ``predicted`` (``source:key`` → customer_id) against ``truth``."""
    rows = list(truth)
    rid = [f"{t.source}:{t.key}" for t in rows]
    ent = {r: t.entity for r, t in zip(rid, rows, strict=True)}
    src = {r: t.source for r, t in zip(rid, rows, strict=True)}
    # Unresolved records are their own singletons.
    pred = {r: predicted.get(r) or f"__unresolved__{r}" for r in rid}
    unresolved = sum(1 for r in rid if r not in predicted or not predicted[r])
    tables = _Tables.of(rid, pred, ent)
    p, r_ = tables.precision_recall(_pairs)
    xp, xr = tables.precision_recall(lambda groups: _cross_pairs(groups, src))
    bp, br = _bcubed(rid, pred, ent, tables)
    ents_per_pred = {c: {ent[r] for r in g} for c, g in tables.by_pred.items()}
    over = {e for c, es in ents_per_pred.items() if len(es) > 1 for e in es}
    split = {e for e, g in tables.by_ent.items() if len({pred[r] for r in g}) > 1}
    return Scores(
        round(p, 4),
        round(r_, 4),
        round(_f1(p, r_), 4),
        round(xp, 4),
        round(xr, 4),
        round(_f1(xp, xr), 4),
        round(bp, 4),
        round(br, 4),
        round(_f1(bp, br), 4),
        len(rid),
        len(tables.by_ent),
        len(tables.by_pred),
        len(over),
        len(split),
        unresolved,
        _by_kind(rows, rid, pred, ent, ents_per_pred, split),
    )


@dataclass
class _Tables:
    """Records by (predicted cluster, true entity), by predicted cluster, and by true entity."""

    by_cell: dict[tuple[str, str], list[str]]
    by_pred: dict[str, list[str]]
    by_ent: dict[str, list[str]]

    @classmethod
    def of(cls, rid: list[str], pred: Mapping[str, str], ent: Mapping[str, str]) -> _Tables:
        by_cell: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in rid:
            by_cell[(pred[r], ent[r])].append(r)
        by_pred: dict[str, list[str]] = defaultdict(list)
        by_ent: dict[str, list[str]] = defaultdict(list)
        for r in rid:
            by_pred[pred[r]].append(r)
            by_ent[ent[r]].append(r)
        return cls(by_cell, by_pred, by_ent)

    def precision_recall(self, count: Callable[[Iterable[list[str]]], int]) -> tuple[float, float]:
        """Precision and recall over the pairs ``count`` counts in a list of groups."""
        tp = count(self.by_cell.values())
        fp, fn = count(self.by_pred.values()) - tp, count(self.by_ent.values()) - tp
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return p, r


def _cross_pairs(groups: Iterable[list[str]], src: Mapping[str, str]) -> int:
    """Pairs in ``groups`` whose two records come from different sources."""
    total = 0
    for g in groups:
        counts = Counter(src[r] for r in g)
        n = len(g)
        total += n * (n - 1) // 2 - _pairs([[""] * c for c in counts.values()])
    return total


def _bcubed(rid: list[str], pred: Mapping[str, str], ent: Mapping[str, str], tables: _Tables) -> tuple[float, float]:
    """B-cubed precision and recall: per-record shares, averaged."""
    cell_size = {k: len(v) for k, v in tables.by_cell.items()}
    by_pred, by_ent = tables.by_pred, tables.by_ent
    bp = sum(cell_size[(pred[r], ent[r])] / len(by_pred[pred[r]]) for r in rid) / len(rid) if rid else 1.0
    br = sum(cell_size[(pred[r], ent[r])] / len(by_ent[ent[r]]) for r in rid) / len(rid) if rid else 1.0
    return bp, br


def _by_kind(
    rows: list[TruthRow],
    rid: list[str],
    pred: Mapping[str, str],
    ent: Mapping[str, str],
    ents_per_pred: Mapping[str, set[str]],
    split: set[str],
) -> dict[str, dict[str, float]]:
    """For each kind of truth record: how many, how many in an over-merged cluster, of a split entity."""
    kinds: dict[str, dict[str, float]] = {}
    kind_of = {r: t.kind for r, t in zip(rid, rows, strict=True)}
    for kind in sorted(set(kind_of.values())):
        members = [r for r in rid if kind_of[r] == kind]
        wrong_merge = sum(1 for r in members if len(ents_per_pred[pred[r]]) > 1)
        wrong_split = sum(1 for r in members if ent[r] in split)
        kinds[kind] = {"records": len(members), "in_over_merged_cluster": wrong_merge, "of_split_entity": wrong_split}
    return kinds
