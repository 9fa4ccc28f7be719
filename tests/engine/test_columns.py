"""Normalisation declared in the spec: timestamps to UTC, money by ISO 4217 exponent, vocabularies."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.engine.columns import ColumnReader, Unmapped, ValueProblem, currency_exponent, parse_timestamp
from c360.spec.validate import load_spec_text

SPEC = """\
product: p
version: 1.0.0
owner: {team: t}
currency: {unit: GBP, rates: {USD: 0.8, JPY: 0.005}}
vocabularies:
  tiers: {Tier 1: smb, Tier 3: enterprise}
sources:
  billing:
    connector: jsonl
    path: b.jsonl
    key: id
    columns:
      id: string
      amount: {from: plan.amount, type: money, currency_column: plan.currency, minor_units: true}
      created: timestamp
      tier: {type: string, map: tiers}
      seats: integer
      active: boolean
    identity: {name: id}
fields:
  mrr: {type: decimal, unit: GBP, description: m, expr: sum(billing.amount)}
"""


@pytest.fixture()
def reader() -> ColumnReader:
    spec = load_spec_text(SPEC)
    return ColumnReader("billing", spec.model.sources["billing"], spec.model)


UTC = dt.UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-05-30T10:14:00+01:00", dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        ("2026-05-30T09:14:00Z", dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        ("2025-03-04T10:11:12.000+0000", dt.datetime(2025, 3, 4, 10, 11, 12, tzinfo=UTC)),
        ("2026-05-30T04:14:00-05:00", dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        (1780132440, dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        ("1780132440", dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        (1780132440000, dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
        ("2026-05-30 09:14:00", dt.datetime(2026, 5, 30, 9, 14, tzinfo=UTC)),
    ],
)
def test_timestamps_in_every_form_become_utc(raw: object, expected: dt.datetime) -> None:
    assert parse_timestamp(raw) == expected
    assert parse_timestamp(raw).tzinfo == UTC


def test_unreadable_timestamp_is_explained() -> None:
    with pytest.raises(ValueProblem, match="expected an ISO-8601 timestamp or Unix seconds, found 'yesterday'"):
        parse_timestamp("yesterday")


@given(
    st.datetimes(
        min_value=dt.datetime(1971, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
        ),
    )
)
def test_iso_round_trip_keeps_the_instant(ts: dt.datetime) -> None:
    assert parse_timestamp(ts.isoformat()) == ts


def test_currency_exponents() -> None:
    assert (currency_exponent("GBP"), currency_exponent("JPY"), currency_exponent("KWD")) == (2, 0, 3)


def test_money_in_minor_units_is_converted_to_the_product_unit(reader: ColumnReader) -> None:
    gbp = reader.read({"id": "1", "plan": {"amount": 4900, "currency": "gbp"}})
    usd = reader.read({"id": "2", "plan": {"amount": 10000, "currency": "usd"}})
    jpy = reader.read({"id": "3", "plan": {"amount": 49000, "currency": "jpy"}})
    assert gbp["amount"] == pytest.approx(49.00)
    assert usd["amount"] == pytest.approx(80.00)  # $100.00 at 0.8
    assert jpy["amount"] == pytest.approx(245.00)  # ¥49,000 has no minor unit; at 0.005


def test_money_without_a_rate_is_a_problem(reader: ColumnReader) -> None:
    with pytest.raises(ValueProblem, match="column 'amount': no rate from EUR to GBP"):
        reader.read({"id": "1", "plan": {"amount": 100, "currency": "eur"}})


def test_vocabulary_maps_and_reports_unmapped_values(reader: ColumnReader) -> None:
    unmapped = Unmapped()
    assert reader.read({"id": "1", "tier": "Tier 3"}, unmapped)["tier"] == "enterprise"
    assert reader.read({"id": "2", "tier": "Strategic"}, unmapped)["tier"] is None
    assert unmapped.counts == {("billing", "tier", "Strategic"): 1}


def test_types_are_checked_and_named(reader: ColumnReader) -> None:
    row = reader.read({"id": 7, "seats": "12", "active": "yes", "created": 0})
    assert row["id"] == "7" and row["seats"] == 12 and row["active"] is True
    with pytest.raises(ValueProblem, match=r"column 'seats': expected a whole number, found '1\.5'"):
        reader.read({"id": "1", "seats": "1.5"})
    with pytest.raises(ValueProblem, match="column 'active': expected true or false"):
        reader.read({"id": "1", "active": "maybe"})


def test_missing_values_are_null(reader: ColumnReader) -> None:
    row = reader.read({"id": "1"})
    assert row == {"id": "1", "amount": None, "created": None, "tier": None, "seats": None, "active": None}


AMOUNTS = "subscriptions.data[].items.data[].price.unit_amount"
LIST_SPEC = SPEC.replace(
    "      active: boolean\n",
    "      active: boolean\n"
    f"      unit_amounts: {{from: '{AMOUNTS}', type: integer}}\n"
    "      domains: {from: 'organization.domain_names[]', type: string}\n",
)


def test_a_list_path_reads_every_element() -> None:
    spec = load_spec_text(LIST_SPEC)
    reader = ColumnReader("billing", spec.model.sources["billing"], spec.model)
    payload = {
        "id": "c1",
        "subscriptions": {
            "data": [
                {"items": {"data": [{"price": {"unit_amount": 900}}, {"price": {"unit_amount": "100"}}]}},
                {"items": {"data": [{"price": {}}]}},
            ]
        },
        "organization": {"domain_names": ["acme.com", "acme.io"]},
    }
    out = reader.read(payload)
    assert out["unit_amounts"] == [900, 100]
    assert out["domains"] == ["acme.com", "acme.io"]
    assert reader.read({"id": "c2"})["unit_amounts"] is None


def test_a_list_path_on_a_value_that_is_no_list_says_where() -> None:
    spec = load_spec_text(LIST_SPEC)
    reader = ColumnReader("billing", spec.model.sources["billing"], spec.model)
    with pytest.raises(ValueProblem, match=r"column 'domains': 'organization.domain_names' holds str 'acme.com'"):
        reader.read({"id": "c3", "organization": {"domain_names": "acme.com"}})


PERSON_SPEC = """\
product: p
version: 1.0.0
owner: {team: t}
grain: person
sources:
  loyalty:
    connector: csv
    path: l.csv
    key: card
    columns:
      card: string
      name: string
      born: {type: date, format: "%d/%m/%Y"}
      email: string
      email2: string
    identity: {person_name: name, dob: born, email: [email, email2]}
fields:
  born: {type: date, description: d, expr: min(loyalty.born)}
"""


def test_a_date_column_with_a_declared_format() -> None:
    spec = load_spec_text(PERSON_SPEC)
    reader = ColumnReader("loyalty", spec.model.sources["loyalty"], spec.model)
    assert reader.read({"card": "1", "born": "08/11/2025"})["born"] == dt.date(2025, 11, 8)
    with pytest.raises(ValueProblem, match=r"written as %d/%m/%Y \(such as 08/11/2025\), found '2025-11-08'"):
        reader.read({"card": "2", "born": "2025-11-08"})
    assert spec.model.sources["loyalty"].identity_of("email") == ["email", "email2"]


def test_a_format_on_a_column_that_is_no_date_is_refused() -> None:
    from c360.spec.validate import SpecError

    with pytest.raises(SpecError, match="'format' belongs to a date or timestamp column"):
        load_spec_text(
            PERSON_SPEC.replace('born: {type: date, format: "%d/%m/%Y"}', 'born: {type: string, format: "%d/%m/%Y"}')
        )
