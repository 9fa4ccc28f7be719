"""The identity graph's constraints, and the transforms identifiers are compared through."""

from __future__ import annotations

import pytest

from c360.identity.graph import Clusters
from c360.identity.transforms import compose, is_salesforce_18, salesforce_id, salesforce_suffix


def test_distinct_records_join_only_as_declared_duplicates() -> None:
    g = Clusters(["crm:1", "crm:2", "b:1", "b:2"], distinct={"crm:1": "crm", "crm:2": "crm"})
    assert g.join("crm:1", "b:1") is None
    assert g.join("crm:2", "b:2") is None
    refused = g.join("b:1", "b:2")  # two CRM accounts would end up together
    assert refused is not None and refused.reason == "distinct" and {refused.left, refused.right} == {"crm:1", "crm:2"}
    g.add_duplicate("crm:1", "crm:2")
    assert g.join("b:1", "b:2") is None
    assert g.groups() == [["b:1", "b:2", "crm:1", "crm:2"]]


def test_pairs_kept_apart_stay_apart_through_any_chain() -> None:
    g = Clusters(["a", "b", "c", "d"], apart=[("a", "d")])
    assert g.join("a", "b") is None and g.join("c", "d") is None
    refused = g.join("b", "c")
    assert refused is not None and refused.reason == "apart"
    # A steward's link overrides a source's separation, never an unlink.
    assert g.join("b", "c", distinct=False) is not None
    assert not g.same("a", "d")


def test_salesforce_ids_in_both_forms() -> None:
    assert salesforce_suffix("AAAAAaaaaa00000") == "5AA"  # five capitals, none, none
    long = salesforce_id("0015g0000WvoNiq")
    assert long == "0015g0000WvoNiqAQE" and is_salesforce_18(long)
    assert salesforce_id("0015g0000wvoniqaqe") is None  # a case-folded id has the wrong checksum
    assert salesforce_id("0015g0000WvoNiqAQ") is None
    assert salesforce_id(" 0015g0000WvoNiqaqe ") == "0015g0000WvoNiqAQE"  # suffix case does not matter


@pytest.mark.parametrize(
    ("names", "value", "country", "expected"),
    [
        (["trim", "lower"], "  AbC ", None, "abc"),
        (["digits"], "DUNS 12-345-6789", None, "123456789"),
        (["e164"], "020 7946 0123", "GB", "+442079460123"),
        (["domain"], "https://www.Acme.co.uk/about", None, "acme.co.uk"),
        (["email"], " <Jo@ACME.com> ", None, "jo@acme.com"),
        (["e164"], "not a phone", "GB", None),
    ],
)
def test_transforms(names: list[str], value: str, country: str | None, expected: str | None) -> None:
    assert compose(names)(value, country) == expected


def test_regex_takes_the_first_group() -> None:
    assert compose(["regex"], r"ACC-(\d+)")("ref ACC-00042 (old)") == "00042"
    assert compose(["regex"], r"ACC-(\d+)")("none here") is None
