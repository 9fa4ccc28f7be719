"""Projections: exactly the granted fields, for every consumer of the demo's access matrix."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from c360.governance.access import granted_fields, project
from c360.spec.validate import load_spec

SPEC = load_spec(Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml").model

MATRIX = {
    # consumer: (must see, must not see)
    "finance": ({"customer_id", "account_name", "mrr", "ltv", "invoice_status", "billing_contact_email", "segment"},
                {"open_tickets", "csat"}),
    "support": ({"customer_id", "account_name", "open_tickets", "csat", "last_login", "segment"},
                {"mrr", "ltv", "invoice_status", "billing_contact_email"}),
    "marketing": ({"customer_id", "account_name", "segment", "last_login", "product_active_30d"},
                  {"mrr", "ltv", "invoice_status", "annual_revenue", "billing_contact_email"}),
    "churn_model": ({"customer_id", "mrr", "ltv", "open_tickets", "csat", "last_login", "billing_active",
                     "product_active_30d"}, {"billing_contact_email", "invoice_status"}),
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
