"""Projections: exactly the granted fields, for every consumer of the demo's access matrix."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from c360.governance.access import granted_fields, project
from c360.spec.validate import load_spec

SPEC = load_spec(Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml").model

MATRIX = {
    # consumer: (must see, must not see)
    "finance": (
        {"customer_id", "account_name", "mrr", "ltv", "invoice_status", "billing_contact_email", "segment"},
        {"open_tickets", "csat"},
    ),
    "support": (
        {"customer_id", "account_name", "open_tickets", "csat", "last_login", "segment"},
        {"mrr", "ltv", "invoice_status", "billing_contact_email"},
    ),
    "marketing": (
        {"customer_id", "account_name", "segment", "last_login", "product_active_30d"},
        {"mrr", "ltv", "invoice_status", "annual_revenue", "billing_contact_email"},
    ),
    "churn_model": (
        {"customer_id", "mrr", "ltv", "open_tickets", "csat", "last_login", "billing_active", "product_active_30d"},
        {"billing_contact_email", "invoice_status"},
    ),
}


def test_the_demo_access_matrix() -> None:
    for consumer, (must, must_not) in MATRIX.items():
        fields = set(granted_fields(SPEC, consumer))
        assert must <= fields, consumer
        assert not (must_not & fields), consumer


def test_no_consumer_sees_pii_it_is_not_granted() -> None:
    pii = {name for name, f in SPEC.fields.items() if f.pii}
    assert pii == {"billing_contact_email"}
    assert [c for c in SPEC.consumers if pii & set(granted_fields(SPEC, c))] == ["finance"]


def test_unknown_consumer_is_denied_everything() -> None:
    assert granted_fields(SPEC, "intruder") == []


record_st = st.dictionaries(st.sampled_from(SPEC.field_names), st.one_of(st.none(), st.integers(), st.text()))


@given(record_st, st.sampled_from([*SPEC.consumers, "intruder"]))
def test_projection_holds_exactly_the_grant(record: dict[str, object], consumer: str) -> None:
    fields = granted_fields(SPEC, consumer)
    out = project(record, fields)
    assert list(out) == fields
    assert all(out[f] == record.get(f) for f in fields)


# -- masks, row filters, unions (pure) ------------------------------------------------------

import functools  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402

import pytest  # noqa: E402

from c360.governance.access import RowFilterError, compile_row_filter, mask_value, policy_for  # noqa: E402
from c360.spec.validate import load_spec_text  # noqa: E402

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml"


def test_masks() -> None:
    assert mask_value("email", "jane.doe@acme.com", b"k") == "j***@acme.com"
    assert mask_value("email", "not-an-email", b"k") == "***"
    assert (
        mask_value("hash", "jane.doe@acme.com", b"k")
        == hmac.new(b"k", b"jane.doe@acme.com", hashlib.sha256).hexdigest()[:32]
    )
    assert mask_value("hash", "x", b"k1") != mask_value("hash", "x", b"k2")
    assert mask_value("year", "2024-05-30T08:54:00Z", b"k") == 2024
    assert mask_value("year", "2024-05-30", b"k") == 2024
    assert mask_value("year", "soon", b"k") is None
    assert mask_value("last4", "4242424242424242", b"k") == "4242"
    assert mask_value("redact", "anything", b"k") is None
    for kind in ("email", "hash", "year", "last4", "redact"):
        assert mask_value(kind, None, b"k") is None  # type: ignore[arg-type]


FIELDS = ["segment", "mrr", "opt_in", "name", "region"]


@pytest.mark.parametrize(
    "sql, record, expected",
    [
        ("opt_in", {"opt_in": True}, True),
        ("opt_in", {"opt_in": None}, False),
        ("not opt_in", {"opt_in": None}, False),  # NOT unknown is unknown
        ("segment = 'smb'", {"segment": "smb"}, True),
        ("segment <> 'smb'", {"segment": None}, False),
        ("mrr > 100 and opt_in", {"mrr": 150.0, "opt_in": True}, True),
        ("mrr > 100 or opt_in", {"mrr": None, "opt_in": True}, True),
        ("mrr > 100 or opt_in", {"mrr": None, "opt_in": False}, False),
        ("region in ('uk', 'ie')", {"region": "ie"}, True),
        ("region not in ('uk', 'ie')", {"region": "fr"}, True),
        ("region not in ('uk', null)", {"region": "fr"}, False),  # SQL: unknown
        ("mrr between 10 and 20", {"mrr": 20}, True),
        ("name like 'Acme%'", {"name": "Acme Ltd"}, True),
        ("lower(name) like 'acme%'", {"name": "ACME Ltd"}, True),
        ("name ilike 'acme%'", {"name": "ACME Ltd"}, True),
        ("region is null", {"region": None}, True),
        ("region is not null", {"region": None}, False),
        ("coalesce(opt_in, false) = false", {"opt_in": None}, True),
        ("mrr > 'abc'", {"mrr": 5}, False),  # a type clash is unknown, so the row stays hidden
        ("mrr > -1", {"mrr": 0}, True),
    ],
)
def test_row_filter_evaluator(sql: str, record: dict[str, object], expected: bool) -> None:
    assert compile_row_filter(sql, FIELDS)(record) is expected


@pytest.mark.parametrize(
    "sql, message",
    [
        ("crm.region = 'uk'", "unknown field"),
        ("secret_field = 1", "unknown field"),
        ("region in (select 1)", "subquery"),
        ("length(name) > 3", "not supported"),
        ("(((", "cannot parse"),
    ],
)
def test_row_filters_that_cannot_be_compiled(sql: str, message: str) -> None:
    with pytest.raises(RowFilterError, match=message):
        compile_row_filter(sql, FIELDS)


UNION = """
consumers:
  regional:
    fields: [customer_id, account_name, segment, billing_contact_email]
    masks: {billing_contact_email: hash}
    row_filter: "segment = 'enterprise'"
  nobody:
    fields: []
policies:
  - name: paying
    consumers: [regional]
    fields: [customer_id, mrr, billing_contact_email]
    masks: {billing_contact_email: email}
    row_filter: mrr > 0
  - name: contact_in_clear_for_smb
    consumers: [regional]
    fields: [customer_id, billing_contact_email]
    row_filter: "segment = 'smb' and mrr > 0"
subscriptions: []
"""


@functools.cache
def _union_spec() -> object:
    import re

    text = EXAMPLE.read_text()
    text = re.sub(r"\nconsumers:\n.*?\nsubscriptions:.*?\n(?=erasure:)", UNION, text, flags=re.S)
    return load_spec_text(text, EXAMPLE).model


def test_union_of_policies_per_record() -> None:
    product = _union_spec()
    p = policy_for(product, "regional")  # type: ignore[arg-type]
    key = b"k"
    email = "ap@acme.com"
    enterprise = {
        "customer_id": "c1",
        "segment": "enterprise",
        "mrr": 0,
        "account_name": "A",
        "billing_contact_email": email,
    }
    assert p.view(enterprise, key) == {
        "customer_id": "c1",
        "account_name": "A",
        "segment": "enterprise",
        "billing_contact_email": mask_value("hash", email, key),
    }
    paying_ent = {**enterprise, "mrr": 10.0}
    # hash ∪ email: the more revealing mask wins
    assert p.view(paying_ent, key) == {
        "customer_id": "c1",
        "account_name": "A",
        "segment": "enterprise",
        "mrr": 10.0,
        "billing_contact_email": "a***@acme.com",
    }
    smb_paying = {**enterprise, "segment": "smb", "mrr": 5.0}
    # a policy granting it in the clear makes it clear
    assert p.view(smb_paying, key) == {"customer_id": "c1", "mrr": 5.0, "billing_contact_email": email}
    assert p.view({**enterprise, "segment": "smb"}, key) is None  # no policy applies: no row
    assert p.fields == ("customer_id", "account_name", "segment", "mrr", "billing_contact_email")
    assert p.masks_of("billing_contact_email") == ["hash", "email"]
    assert p.unmasked_everywhere == {"customer_id"}
    assert p.filter_fields == {"segment", "mrr"}


def test_deny_by_default_for_empty_and_unknown_consumers() -> None:
    product = _union_spec()
    for name in ("nobody", "intruder"):
        p = policy_for(product, name)  # type: ignore[arg-type]
        assert p.denied and p.fields == ()
        assert p.view({"customer_id": "c1", "segment": "smb"}, b"k") is None


@settings(deadline=None, max_examples=60)
@given(
    st.fixed_dictionaries(
        {
            "customer_id": st.text(min_size=1),
            "segment": st.sampled_from(["enterprise", "smb", "mid_market", None]),
            "mrr": st.one_of(st.none(), st.floats(-10, 10)),
            "account_name": st.text(),
            "billing_contact_email": st.emails(),
        }
    )
)
def test_a_view_never_holds_a_field_no_applicable_policy_grants(record: dict[str, object]) -> None:
    product = _union_spec()
    p = policy_for(product, "regional")  # type: ignore[arg-type]
    out = p.view(record, b"k")
    applicable = [g for g in p.grants if g.applies(record)]
    if not applicable:
        assert out is None
        return
    assert out is not None
    assert set(out) == set().union(*(g.fields for g in applicable))
    clear = any("billing_contact_email" in g.fields and "billing_contact_email" not in g.masks for g in applicable)
    assert (out["billing_contact_email"] == record["billing_contact_email"]) == clear or record[
        "billing_contact_email"
    ] == mask_value("email", record["billing_contact_email"], b"k")
