"""Field compilation: one query, per-source aggregates, several sources combined, now() bound."""

from __future__ import annotations

import datetime as dt

import pytest

from c360.engine.compile import compile_plan
from c360.engine.materialise import SourceFrame, check_plan, materialise
from c360.spec.expressions import ExpressionError
from c360.spec.validate import load_spec_text

SPEC = """\
product: p
version: 1.0.0
owner: {team: t}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: id
    columns: {id: string, name: string}
    identity: {name: name}
  tickets:
    connector: jsonl
    path: t.jsonl
    key: id
    columns: {id: string, status: string, opened: timestamp}
    identity: {name: id}
fields:
  account_name: {type: string, description: d, expr: "coalesce(crm.name, 'unknown')"}
  open_tickets: {type: integer, description: d,
                 expr: "coalesce(count(*) filter (where tickets.status = 'open'), 0)"}
  recent: {type: boolean, description: d, expr: "coalesce(max(tickets.opened) >= now() - interval 7 day, false)"}
  label: {type: string, description: d,
          expr: "crm.name || ' (' || cast(count(tickets.id) as varchar) || ')'"}
"""

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def frames() -> dict[str, SourceFrame]:
    crm = SourceFrame({"id": "string", "name": "string"})
    crm.append("1", T0, {"id": "1", "name": "Old Name"})
    crm.append("2", T0 + dt.timedelta(hours=1), {"id": "2", "name": "New Name"})
    crm.append("3", T0, {"id": "3", "name": "Other"})
    crm.customer_ids = ["c_a", "c_a", "c_b"]
    tickets = SourceFrame({"id": "string", "status": "string", "opened": "timestamp"})
    for i, (status, days) in enumerate([("open", 1), ("open", 30), ("solved", 2)]):
        tickets.append(str(i), T0, {"id": str(i), "status": status, "opened": T0 - dt.timedelta(days=days)})
    tickets.customer_ids = ["c_a", "c_a", "c_a"]
    return {"crm": crm, "tickets": tickets}


def test_fields_combine_sources_without_multiplying_rows() -> None:
    spec = load_spec_text(SPEC).model
    rows = dict(materialise(spec, frames(), ["c_a", "c_b", "c_c"], T0))
    assert rows["c_a"] == {
        "customer_id": "c_a",
        "account_name": "New Name",
        "open_tickets": 2,
        "recent": True,
        "label": "New Name (3)",
    }
    assert rows["c_b"]["open_tickets"] == 0 and rows["c_b"]["recent"] is False
    assert rows["c_c"]["account_name"] == "unknown"


def test_now_is_bound_to_the_build_time() -> None:
    spec = load_spec_text(SPEC).model
    later = T0 + dt.timedelta(days=10)
    rows = dict(materialise(spec, frames(), ["c_a"], later))
    assert rows["c_a"]["recent"] is False
    assert "2026-06-11 00:00:00" in compile_plan(spec, later).query()


def test_an_aggregate_over_two_sources_is_refused() -> None:
    text = SPEC.replace(
        "expr: \"crm.name || ' (' || cast(count(tickets.id) as varchar) || ')'\"",
        'expr: "cast(count(crm.id) + count(tickets.id) as varchar)"',
    ).replace("count(crm.id) + count(tickets.id)", "sum(crm.id || tickets.id)")
    spec = load_spec_text(text).model
    with pytest.raises(ExpressionError, match="reads several sources"):
        compile_plan(spec, T0)


def test_type_errors_are_found_before_any_data() -> None:
    spec = load_spec_text(SPEC.replace("max(tickets.opened) >= now()", "sum(tickets.status) >= now()")).model
    problems = check_plan(spec)
    assert len(problems) == 1 and problems[0].startswith("field 'recent':")
