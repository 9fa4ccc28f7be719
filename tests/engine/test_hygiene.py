"""Value hygiene declared per column (trim, collapse_spaces, case), what a bad value costs
(on_error / on_invalid, the column's choice over the source's), and a quarantine reason that
names every bad column of a record, not only the first."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from c360.core.errors import SpecError
from c360.engine.columns import ColumnReader, ValueProblem, clean
from c360.pipeline.build import build
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

SPEC = """\
product: p
version: 1.0.0
owner: {{team: t}}
vocabularies:
  tiers: {{Tier 1: smb, Tier 3: enterprise}}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: Id
{source}
    columns:
      Id: {{type: string, trim: true}}
      Name: {{type: string{name}}}
      Email: {{type: string, trim: true, case: lower}}
      Tier: {{type: string, map: tiers, trim: true, collapse_spaces: true, case: title}}
      Seats: {{type: integer{seats}}}
      Created: {{type: timestamp{created}}}
    identity: {{name: Name, email: Email}}
fields:
  name: {{type: string, description: n, expr: crm.Name}}
  email: {{type: string, description: e, expr: crm.Email}}
  tier: {{type: string, description: t, expr: crm.Tier}}
  seats: {{type: integer, description: s, expr: sum(crm.Seats)}}
  created: {{type: timestamp, description: c, expr: min(crm.Created)}}
"""


def spec_text(*, source: str = "", name: str = "", seats: str = "", created: str = "") -> str:
    return SPEC.format(source=source, name=name, seats=seats, created=created)


def reader(**kw: str) -> ColumnReader:
    spec = load_spec_text(spec_text(**kw))
    return ColumnReader("crm", spec.model.sources["crm"], spec.model)


# -- the cleaning itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "options", "expected"),
    [
        ("  Acme Ltd \t", {"trim": True}, "Acme Ltd"),
        ("Acme \t\n  Ltd", {"collapse_spaces": True}, "Acme Ltd"),
        ("Acme\u00a0\u00a0Ltd", {"collapse_spaces": True}, "Acme Ltd"),  # non-breaking spaces too
        ("  a  b  ", {"collapse_spaces": True}, " a b "),  # collapsed, not trimmed
        ("  a  b  ", {"collapse_spaces": True, "trim": True}, "a b"),
        ("Jane.Doe@ACME.com", {"case": "lower"}, "jane.doe@acme.com"),
        ("gb", {"case": "upper"}, "GB"),
        ("ACME widgets-international", {"case": "title"}, "Acme Widgets-International"),
        ("o'neil and d'arcy's bar", {"case": "title"}, "O'Neil And D'Arcy's Bar"),
        ("   ", {"trim": True}, ""),
        ("Straße", {"case": "upper"}, "STRASSE"),
    ],
)
def test_clean(value: str, options: dict[str, object], expected: str) -> None:
    assert clean(value, **options) == expected  # type: ignore[arg-type]


def test_hygiene_runs_before_the_vocabulary_and_for_every_value() -> None:
    r = reader(name=", trim: true, collapse_spaces: true")
    out = r.read(
        {
            "Id": " a1 ",
            "Name": "  Acme   Widgets ",
            "Email": " Jane@ACME.com ",
            "Tier": "  tier    1 ",
            "Seats": " 3 ",
            "Created": "2026-01-01T00:00:00Z",
        }
    )
    assert out["Id"] == "a1" and out["Name"] == "Acme Widgets" and out["Email"] == "jane@acme.com"
    assert out["Tier"] == "smb"  # "  tier    1 " -> "Tier 1" -> smb
    assert out["Seats"] == 3


def test_a_column_without_hygiene_keeps_its_value_as_sent() -> None:
    out = reader().read(
        {"Id": "a1", "Name": "  Acme   Widgets ", "Email": None, "Tier": None, "Seats": None, "Created": None}
    )
    assert out["Name"] == "  Acme   Widgets "


def test_hygiene_applies_to_each_element_of_a_list_path() -> None:
    text = spec_text().replace(
        "      Seats: {type: integer}\n",
        '      Seats: {type: integer}\n      Tags: {type: string, from: "tags[].name", trim: true, case: lower}\n',
    )
    spec = load_spec_text(text)
    r = ColumnReader("crm", spec.model.sources["crm"], spec.model)
    out = r.read({"Id": "a1", "tags": [{"name": " VIP "}, {"name": "Churn Risk"}]})
    assert out["Tags"] == ["vip", "churn risk"]


# -- every bad column named ------------------------------------------------------------------


def test_every_bad_column_of_a_record_is_named() -> None:
    r = reader()
    with pytest.raises(ValueProblem) as info:
        r.read({"Id": "a1", "Name": "Acme", "Seats": "many", "Created": "yesterday"})
    message = str(info.value)
    assert "column 'Seats': expected a number, found 'many'" in message
    assert "column 'Created': expected an ISO-8601 timestamp or Unix seconds, found 'yesterday'" in message
    assert [c for c, _ in info.value.problems] == ["Seats", "Created"]


def test_the_columns_policy_overrides_the_sources_either_way() -> None:
    # The source nulls bad values; Seats says its bad values cost the record.
    r = reader(source="    on_invalid: null", seats=", on_error: quarantine")
    nulled: list[tuple[str, str]] = []
    with pytest.raises(ValueProblem) as info:
        r.read({"Id": "a1", "Seats": "many", "Created": "yesterday"}, nulled=nulled)
    assert [c for c, _ in info.value.problems] == ["Seats"]
    assert [c for c, _ in nulled] == ["Created"]
    # The source quarantines (the default); Created says null, by either name.
    for key in ("on_error", "on_invalid"):
        r = reader(created=f", {key}: null")
        nulled = []
        out = r.read({"Id": "a1", "Seats": "2", "Created": "yesterday"}, nulled=nulled)
        assert out["Created"] is None and out["Seats"] == 2
        assert nulled == [("Created", "expected an ISO-8601 timestamp or Unix seconds, found 'yesterday'")]


def write(d: Path, rows: list[str], **kw: str) -> Path:
    d.mkdir(exist_ok=True)
    (d / "product.yaml").write_text(spec_text(**kw))
    (d / "crm.csv").write_text("\n".join(["Id,Name,Email,Tier,Seats,Created", *rows]) + "\n")
    return d / "product.yaml"


ROWS = [f"a{i},Company {i},c{i}@x{i}.com,Tier 1,{i},2026-01-{i:02d}T00:00:00Z" for i in range(1, 20)]


def test_a_build_quarantines_the_record_naming_each_bad_column_with_key_value_and_expectation(tmp_path: Path) -> None:
    rows = [*ROWS, "a20,  Bad   Co ,X@BAD.COM , tier   3 ,lots,not a date"]
    spec = write(tmp_path, rows, name=", trim: true, collapse_spaces: true")
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(spec), store, as_of=AS_OF)
    assert report.version is not None and report.quarantined["crm"] == 1
    [q] = [q for q in store.quarantined() if q["source"] == "crm"]
    assert q["location"] == "crm:a20"
    assert q["reason"] == (
        "column 'Seats': expected a number, found 'lots'; column 'Created': expected an "
        "ISO-8601 timestamp or Unix seconds, found 'not a date'"
    )
    published = [json.loads(d) for _, d in store.snapshot_rows(report.version)]
    assert len(published) == 19 and {p["tier"] for p in published} == {"smb"}


def test_a_build_with_hygiene_publishes_the_cleaned_values(tmp_path: Path) -> None:
    rows = [*ROWS, "a20,  Bad   Co ,X@BAD.COM , tier   3 ,20,2026-01-20T00:00:00Z"]
    spec = write(tmp_path, rows, name=", trim: true, collapse_spaces: true")
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(spec), store, as_of=AS_OF)
    assert report.version is not None and report.quarantined["crm"] == 0
    by_name = {p["name"]: p for p in (json.loads(d) for _, d in store.snapshot_rows(report.version))}
    assert by_name["Bad Co"]["email"] == "x@bad.com" and by_name["Bad Co"]["tier"] == "enterprise"
    assert not report.unmapped


def test_a_nulled_value_is_kept_and_reported_while_another_column_quarantines(tmp_path: Path) -> None:
    rows = [*ROWS, "a20,Bad Co,x@bad.com,Tier 1,lots,not a date"]
    spec = write(tmp_path, rows, created=", on_error: null")
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(spec), store, as_of=AS_OF)
    assert report.quarantined["crm"] == 1 and not report.nulled  # Seats cost the record
    [q] = [q for q in store.quarantined() if q["source"] == "crm"]
    assert q["reason"] == "column 'Seats': expected a number, found 'lots'"


# -- validation ------------------------------------------------------------------------------


def issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text)
    return [str(i) for i in info.value.issues]


def test_an_unknown_case_is_located_with_the_choices() -> None:
    [issue] = issues(spec_text(name=", case: sideways"))
    assert issue.startswith(
        "product.yaml:14: sources.crm.columns.Name.case: 'sideways' is not valid; expected one of: lower, upper, title"
    )


def test_hygiene_on_a_column_that_is_not_text_is_located() -> None:
    found = issues(spec_text(seats=", trim: true", created=", case: lower"))
    assert len(found) == 2
    assert found[0].startswith("product.yaml:17: sources.crm.columns.Seats.trim: 'trim' cleans text")
    assert "'Seats' is integer" in found[0] and "type: string" in found[0]
    assert found[1].startswith("product.yaml:18: sources.crm.columns.Created.case: 'case' cleans text")


def test_on_error_and_on_invalid_must_agree_and_name_a_policy() -> None:
    [issue] = issues(spec_text(seats=", on_error: null, on_invalid: quarantine"))
    assert "sources.crm.columns.Seats" in issue and "disagree" in issue
    [issue] = issues(spec_text(seats=", on_error: drop"))
    assert "sources.crm.columns.Seats.on_error: 'drop' is not valid; expected one of: quarantine, null" in issue
    load_spec_text(spec_text(seats=", on_error: null, on_invalid: null"))  # saying it twice alike is fine


def test_a_misspelt_hygiene_option_is_suggested() -> None:
    [issue] = issues(spec_text(name=", trimm: true"))
    assert "unknown key 'trimm'" in issue and "did you mean 'trim'?" in issue


def test_c360_validate_prints_the_located_problems(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(spec_text(seats=", collapse_spaces: true"))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "p.yaml")])
    assert result.exit_code == 1
    assert "sources.crm.columns.Seats.collapse_spaces" in result.output and ":17:" in result.output
