#!/usr/bin/env python3
"""Score entity-resolution predictions against the persons benchmark truth (see README.md).

  python score.py --data DIR --pred preds.csv [--json]
  python score.py --selftest

preds.csv: source,source_key,cluster_id, one row per record (a record missing from it is a singleton;
rows for records not in truth.csv are counted and ignored).

Reports
  * pairwise precision / recall / F1 over all records (a true pair = two records of one true person);
  * the recall ceiling from stats.json (the share of true pairs that the evidence in the files can reach);
  * per NEGATIVE kind (groups of distinct people who look alike: households, twins, namesakes, ...): of the
    cross-person record pairs inside each group, the share that the prediction wrongly merged, and the
    share of groups with at least one such merge; plus the recall of the true pairs touching those records;
  * per POSITIVE kind (the same person under variation: nicknames, transliteration, moves, ...): the recall
    of the true pairs that touch a record of that kind.

from score import score; score(data_dir, {(source, source_key): cluster_id}) returns the same figures as a dict.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

# used when stats.json does not list them (it does, from generator persons-1 on)
DEFAULT_NEGATIVE_KINDS = [
    "household",
    "family_mailbox",
    "twins",
    "father_son",
    "namesakes_city",
    "shared_mailbox",
    "recycled_phone",
    "shared_account_fk",
    "placeholder",
]


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_predictions(path: str | Path) -> dict:
    """preds.csv -> {(source, source_key): cluster_id}."""
    return {(r["source"], r["source_key"]): r["cluster_id"] for r in _read_csv(Path(path))}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    if not p or not r:
        return 0.0 if p is not None and r is not None else None
    return round(2 * p * r / (p + r), 4)


def _touching(recs: list, tagged: set, cluster: dict, person: dict) -> tuple[int, int]:
    """(true pairs touching a tagged record, of those the ones predicted together) for records `recs`
    (all records of the people concerned)."""
    by_person = defaultdict(list)
    for k in recs:
        by_person[person[k]].append(k)
    tot = found = 0
    for ks in by_person.values():
        un = [k for k in ks if k not in tagged]
        tot += pairs(len(ks)) - pairs(len(un))
        found += sum(pairs(c) for c in Counter(cluster[k] for k in ks).values()) - sum(
            pairs(c) for c in Counter(cluster[k] for k in un).values()
        )
    return tot, found


def score(data_dir: str | Path, pred: dict) -> dict:
    """Score a prediction {(source, source_key): cluster_id} against the truth in data_dir."""
    data = Path(data_dir)
    person = {(r["source"], r["source_key"]): r["true_person_id"] for r in _read_csv(data / "truth.csv")}
    hard = _read_csv(data / "hard_cases.csv")
    stats = json.loads((data / "stats.json").read_text(encoding="utf-8")) if (data / "stats.json").exists() else {}
    negative = list(stats.get("negative_kinds") or DEFAULT_NEGATIVE_KINDS)

    # a record without a prediction is a singleton: give it a cluster id no prediction can carry
    cluster = {k: ("p", str(pred[k])) if k in pred else ("missing", k) for k in person}
    unknown = sum(1 for k in pred if k not in person)
    missing = sum(1 for k in person if k not in pred)

    # ---- pairwise over all records
    true_pairs = sum(pairs(n) for n in Counter(person.values()).values())
    pred_pairs = sum(pairs(n) for n in Counter(cluster.values()).values())
    tp = sum(pairs(n) for n in Counter((cluster[k], person[k]) for k in person).values())
    p, r = _ratio(tp, pred_pairs), _ratio(tp, true_pairs)
    if pred_pairs == 0:
        p = 1.0 if true_pairs == 0 else None
    out = {
        "records": len(person),
        "predicted_records_unknown": unknown,
        "records_missing_prediction": missing,
        "clusters_predicted": len(set(cluster.values())),
        "people": len(set(person.values())),
        "true_pairs": true_pairs,
        "predicted_pairs": pred_pairs,
        "true_positive_pairs": tp,
        "precision": p,
        "recall": r,
        "f1": _f1(p, r),
    }
    rc = stats.get("recall_ceiling") or {}
    out["recall_ceiling"] = rc.get("recall_ceiling")
    out["exact_key_recall_ceiling"] = rc.get("exact_key_recall_ceiling")

    # ---- per kind
    tagged = defaultdict(set)  # kind -> records
    groups = defaultdict(lambda: defaultdict(set))  # kind -> group -> records
    for h in hard:
        k = (h["source"], h["source_key"])
        if k not in person:
            continue
        tagged[h["kind"]].add(k)
        if h["group_id"]:
            groups[h["kind"]][h["group_id"]].add(k)
    recs_of = defaultdict(list)
    for k, pid in person.items():
        recs_of[pid].append(k)
    kinds = {}
    for kind in sorted(tagged):
        ks = tagged[kind]
        people_recs = [x for pid in {person[k] for k in ks} for x in recs_of[pid]]
        tot, found = _touching(people_recs, ks, cluster, person)
        row = {
            "negative": kind in negative,
            "records": len(ks),
            "people": len({person[k] for k in ks}),
            "true_pairs_touching": tot,
            "recall_touching": _ratio(found, tot),
        }
        if kind in negative:
            cross = merged = n_groups = bad_groups = 0
            for g in groups[kind].values():
                c_all = Counter(cluster[k] for k in g)
                c_cp = Counter((cluster[k], person[k]) for k in g)
                c_p = Counter(person[k] for k in g)
                gc = pairs(len(g)) - sum(pairs(n) for n in c_p.values())
                gm = sum(pairs(n) for n in c_all.values()) - sum(pairs(n) for n in c_cp.values())
                if gc:
                    n_groups += 1
                    bad_groups += gm > 0
                cross += gc
                merged += gm
            row.update(
                {
                    "groups": n_groups,
                    "cross_person_pairs": cross,
                    "wrongly_merged_pairs": merged,
                    "wrongly_merged_share": _ratio(merged, cross),
                    "groups_with_a_wrong_merge": bad_groups,
                    "groups_with_a_wrong_merge_share": _ratio(bad_groups, n_groups),
                }
            )
        kinds[kind] = row
    out["kinds"] = kinds
    return out


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)


def render(res: dict) -> str:
    lines = [
        f"records {res['records']:,}  people {res['people']:,}  predicted clusters {res['clusters_predicted']:,}"
        f"  (missing predictions {res['records_missing_prediction']}, unknown rows "
        f"{res['predicted_records_unknown']})",
        f"pairwise  precision {_fmt(res['precision'])}  recall {_fmt(res['recall'])}  f1 {_fmt(res['f1'])}"
        f"   (true pairs {res['true_pairs']:,}, predicted {res['predicted_pairs']:,}, "
        f"correct {res['true_positive_pairs']:,})",
        f"recall ceiling {_fmt(res['recall_ceiling'])}  (exact-key ceiling {_fmt(res['exact_key_recall_ceiling'])})",
        "",
        "negative kinds (distinct people who look alike): share of cross-person pairs wrongly merged",
        f"  {'kind':<20}{'groups':>7}{'x-pairs':>9}{'merged':>8}{'share':>8}{'bad grp':>9}{'recall*':>9}",
    ]
    for k, v in res["kinds"].items():
        if v["negative"]:
            lines.append(
                f"  {k:<20}{v['groups']:>7}{v['cross_person_pairs']:>9}{v['wrongly_merged_pairs']:>8}"
                f"{_fmt(v['wrongly_merged_share']):>8}{_fmt(v['groups_with_a_wrong_merge_share']):>9}"
                f"{_fmt(v['recall_touching']):>9}"
            )
    lines += [
        "  * recall of the true pairs touching the kind's records",
        "",
        "positive kinds (same person under variation): recall of true pairs touching the kind's records",
        f"  {'kind':<22}{'records':>8}{'pairs':>8}{'recall':>8}",
    ]
    for k, v in res["kinds"].items():
        if not v["negative"]:
            lines.append(f"  {k:<22}{v['records']:>8}{v['true_pairs_touching']:>8}{_fmt(v['recall_touching']):>8}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
def _selftest() -> None:
    """Hand-made truth and predictions with known answers."""
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        truth = [
            ("s", "a1", "A"),
            ("s", "a2", "A"),
            ("t", "a3", "A"),
            ("s", "b1", "B"),
            ("t", "b2", "B"),
            ("t", "c1", "C"),
        ]
        hard = [
            ("s", "a1", "A", "household", "g1"),
            ("s", "a2", "A", "household", "g1"),
            ("s", "b1", "B", "household", "g1"),
            ("t", "b2", "B", "household", "g1"),
            ("t", "a3", "A", "nickname", ""),
            ("t", "b2", "B", "typo", ""),
            ("s", "a1", "A", "email_variant", ""),
            ("t", "c1", "C", "twins", "g2"),
            ("t", "b2", "B", "twins", "g2"),
        ]
        with (d / "truth.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["source", "source_key", "true_person_id"])
            w.writerows(truth)
        with (d / "hard_cases.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["source", "source_key", "true_person_id", "kind", "group_id"])
            w.writerows(hard)
        (d / "stats.json").write_text(
            json.dumps({"negative_kinds": ["household", "twins"], "recall_ceiling": {"recall_ceiling": 0.9}})
        )
        # 1. {a1 a2 b1} {a3} {b2} {c1 missing}: pred pairs 3, tp 1 (a1-a2), true pairs 3 (A) + 1 (B) = 4
        pred = {
            ("s", "a1"): "X",
            ("s", "a2"): "X",
            ("s", "b1"): "X",
            ("t", "a3"): "Y",
            ("t", "b2"): "Z",
            ("zz", "nope"): "Q",
        }
        res = score(d, pred)
        assert (res["true_pairs"], res["predicted_pairs"], res["true_positive_pairs"]) == (4, 3, 1), res
        assert res["precision"] == round(1 / 3, 4) and res["recall"] == 0.25, res
        assert res["f1"] == round(2 * (1 / 3) * 0.25 / (1 / 3 + 0.25), 4)
        assert res["records_missing_prediction"] == 1 and res["predicted_records_unknown"] == 1
        assert res["recall_ceiling"] == 0.9
        hh = res["kinds"]["household"]
        # cross pairs A x B inside g1: {a1,a2} x {b1,b2} = 4; merged: a1-b1, a2-b1 = 2
        assert (hh["cross_person_pairs"], hh["wrongly_merged_pairs"], hh["wrongly_merged_share"]) == (4, 2, 0.5)
        assert hh["groups"] == 1 and hh["groups_with_a_wrong_merge"] == 1
        # pairs touching household records: all of A (3) and B (1) = 4; found a1-a2 = 1
        assert (hh["true_pairs_touching"], hh["recall_touching"]) == (4, 0.25)
        tw = res["kinds"]["twins"]
        assert (tw["cross_person_pairs"], tw["wrongly_merged_pairs"], tw["wrongly_merged_share"]) == (1, 0, 0.0)
        # nickname on a3: pairs a1-a3, a2-a3, none found
        nk = res["kinds"]["nickname"]
        assert not nk["negative"] and (nk["true_pairs_touching"], nk["recall_touching"]) == (2, 0.0)
        # email_variant on a1: pairs a1-a2 (found), a1-a3 (missed)
        assert res["kinds"]["email_variant"]["recall_touching"] == 0.5
        assert res["kinds"]["typo"]["recall_touching"] == 0.0
        # 2. the truth itself: perfect; no wrong merges
        res = score(d, {(s, k): p for s, k, p in truth})
        assert (res["precision"], res["recall"], res["f1"]) == (1.0, 1.0, 1.0), res
        assert all(v.get("wrongly_merged_share", 0.0) == 0.0 for v in res["kinds"].values())
        assert all(v["recall_touching"] in (1.0, None) for v in res["kinds"].values())
        # 3. everything in one cluster: recall 1, precision 4/15, every cross pair merged
        res = score(d, {(s, k): "ALL" for s, k, _ in truth})
        assert res["recall"] == 1.0 and res["precision"] == round(4 / 15, 4), res
        assert res["kinds"]["household"]["wrongly_merged_share"] == 1.0
        assert res["kinds"]["twins"]["wrongly_merged_share"] == 1.0
        # 4. no predictions at all: all singletons -> no predicted pairs, recall 0
        res = score(d, {})
        assert res["predicted_pairs"] == 0 and res["recall"] == 0.0 and res["precision"] is None
        assert res["records_missing_prediction"] == 6 and res["clusters_predicted"] == 6
        # 5. cluster ids are compared as strings and never collide with "missing" singletons
        res = score(d, {("s", "a1"): 1, ("s", "a2"): "1"})
        assert res["true_positive_pairs"] == 1 and res["predicted_pairs"] == 1
    print("score.py selftest: ok")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--pred", type=Path)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args(argv)
    if a.selftest:
        _selftest()
        return
    if not a.data or not a.pred:
        ap.error("--data and --pred are required (or --selftest)")
    res = score(a.data, read_predictions(a.pred))
    print(json.dumps(res, indent=2) if a.json else render(res))


if __name__ == "__main__":
    sys.exit(main())
