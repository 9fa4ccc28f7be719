"""Stable ids across runs: keep, new, merge (oldest survives), split, retire."""

from __future__ import annotations

import datetime as dt
import itertools

from c360.identity.stable import assign_ids

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def counter() -> object:
    n = itertools.count(1)
    return lambda: f"c_new{next(n)}"


def test_unchanged_clusters_keep_their_ids() -> None:
    prev = {"crm:1": "c_a", "billing:9": "c_a", "crm:2": "c_b"}
    out = assign_ids([["crm:1", "billing:9"], ["crm:2"]], prev, {"c_a": T, "c_b": T}, counter())  # type: ignore[arg-type]
    assert out.ids == prev
    assert out.events == []


def test_new_cluster_gets_a_new_id() -> None:
    out = assign_ids([["crm:1"], ["crm:3"]], {"crm:1": "c_a"}, {"c_a": T}, counter())  # type: ignore[arg-type]
    assert out.ids == {"crm:1": "c_a", "crm:3": "c_new1"}
    assert [(e.kind, e.customer_id) for e in out.events] == [("new", "c_new1")]


def test_merge_keeps_the_older_id_and_aliases_the_other() -> None:
    prev = {"crm:1": "c_young", "billing:9": "c_old"}
    created = {"c_young": T + dt.timedelta(days=1), "c_old": T}
    out = assign_ids([["crm:1", "billing:9"]], prev, created, counter())  # type: ignore[arg-type]
    assert set(out.ids.values()) == {"c_old"}
    (event,) = out.events
    assert (event.kind, event.customer_id, event.other_id) == ("merge", "c_old", "c_young")


def test_split_keeps_the_id_with_the_larger_part() -> None:
    prev = {"crm:1": "c_a", "billing:9": "c_a", "support:5": "c_a"}
    out = assign_ids([["crm:1", "billing:9"], ["support:5"]], prev, {"c_a": T}, counter())  # type: ignore[arg-type]
    assert out.ids["crm:1"] == out.ids["billing:9"] == "c_a"
    assert out.ids["support:5"] == "c_new1"
    assert [(e.kind, e.customer_id, e.other_id) for e in out.events] == [("split", "c_new1", "c_a")]


def test_an_id_whose_records_are_gone_is_retired() -> None:
    out = assign_ids([["crm:1"]], {"crm:1": "c_a", "crm:2": "c_b"}, {"c_a": T, "c_b": T}, counter())  # type: ignore[arg-type]
    assert [(e.kind, e.customer_id) for e in out.events] == [("retire", "c_b")]


def test_result_does_not_depend_on_cluster_order() -> None:
    prev = {"a:1": "c_1", "b:1": "c_2", "c:1": "c_3"}
    created = {"c_1": T, "c_2": T, "c_3": T}
    one = assign_ids([["a:1", "b:1"], ["c:1"]], prev, created, counter())  # type: ignore[arg-type]
    two = assign_ids([["c:1"], ["b:1", "a:1"]], prev, created, counter())  # type: ignore[arg-type]
    assert one.ids == two.ids


def test_split_keeps_the_id_with_the_account_records_not_the_larger_crowd_of_people() -> None:
    # The account's CRM and billing records went one way, more of its people the other.
    prev = {"crm:1": "c_a", "billing:9": "c_a", "support:5": "c_a", "support:6": "c_a", "product:7": "c_a"}
    clusters = [["crm:1", "billing:9"], ["support:5", "support:6", "product:7", "crm:2"]]
    out = assign_ids(clusters, prev, {"c_a": T}, counter(), people=frozenset({"support", "product"}))  # type: ignore[arg-type]
    assert out.ids["crm:1"] == out.ids["billing:9"] == "c_a"
    assert out.ids["support:5"] == out.ids["crm:2"] == "c_new1"
    assert [(e.kind, e.customer_id, e.other_id) for e in out.events] == [("split", "c_new1", "c_a")]
    # Without knowing which sources are people, the larger part keeps it.
    by_count = assign_ids(clusters, prev, {"c_a": T}, counter())  # type: ignore[arg-type]
    assert by_count.ids["support:5"] == "c_a"
