"""Hostile source data: a bad value costs its record (or its field), never the build; a source
that is mostly unreadable fails the build with the reason and keeps the previous snapshot."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.core.errors import BuildError, SpecError
from c360.pipeline.build import BuildReport, build
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store
from tests.api.stores import STORES, pg_database

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Pied",
    "Aperture",
    "Gringotts",
    "Oscorp",
    "Monarch",
    "Nakatomi",
    "Virtucon",
    "Krusty",
]

SPEC = """\
product: p
version: 1.0.0
owner: {{team: t}}
{product}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: Id
{crm}
    columns:
      Id: string
      Name: string
      Seats: {{type: integer{seats}}}
      Revenue: {{type: money, currency: GBP}}
      Created: {{type: timestamp{created}}}
      Modified: timestamp
    identity: {{name: Name}}
  events:
    connector: jsonl
    path: events.jsonl
    key: id
    belongs_to: {{source: crm, column: account}}
    columns:
      id: string
      account: string
      n: integer
      at: timestamp
      amount: {{type: money, currency: GBP}}
fields:
  name: {{type: string, description: n, expr: crm.Name}}
  seats: {{type: integer, description: s, expr: sum(crm.Seats)}}
  revenue: {{type: decimal, unit: GBP, description: r, expr: sum(crm.Revenue)}}
  created: {{type: timestamp, description: c, expr: min(crm.Created)}}
  events: {{type: integer, description: e, expr: sum(events.n)}}
  last_event: {{type: timestamp, description: l, expr: max(events.at)}}
  spend: {{type: decimal, unit: GBP, description: a, expr: sum(events.amount)}}
"""


def crm_rows(bad: dict[int, str] | None = None) -> list[str]:
    """Twenty CRM accounts a1..a20, as CSV lines; ``bad`` replaces some of them by number."""
    rows = ["Id,Name,Seats,Revenue,Created,Modified"]
    for i, w in enumerate(WORDS, 1):
        rows.append((bad or {}).get(i, f"a{i},{w} Holdings,{i},{i * 100},2026-01-{i:02d}T00:00:00Z,"))
    return rows


def event_lines(extra: list[str] | None = None) -> list[str]:
    lines = [
        json.dumps({"id": f"e{i}", "account": f"a{i}", "n": 1, "at": f"2026-02-{i:02d}T00:00:00Z", "amount": 10})
        for i in range(1, 21)
    ]
    return lines + (extra or [])


def write(
    d: Path,
    *,
    crm: list[str] | bytes | None = None,
    events: list[str] | None = None,
    product: str = "",
    crm_opts: str = "",
    seats: str = "",
    created: str = "",
) -> Path:
    d.mkdir(exist_ok=True)
    (d / "product.yaml").write_text(SPEC.format(product=product, crm=crm_opts, seats=seats, created=created))
    body = crm if crm is not None else crm_rows()
    (d / "crm.csv").write_bytes(body if isinstance(body, bytes) else ("\n".join(body) + "\n").encode())
    (d / "events.jsonl").write_text("\n".join(events if events is not None else event_lines()) + "\n")
    return d / "product.yaml"


def run(spec_path: Path, url: str | None = None, **kw: Any) -> tuple[BuildReport, Store]:
    store = Store.open(url or f"sqlite:///{spec_path.parent}/store.db")
    return build(load_spec(spec_path), store, as_of=AS_OF, **kw), store


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store the build writes to: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    with pg_database() as url:
        yield url


def published(store: Store) -> dict[str, dict[str, Any]]:
    """The current snapshot's records by account name."""
    version = store.current_version()
    assert version is not None
    rows = [json.loads(data) for _, data in store.snapshot_rows(version)]
    return {r["name"]: r for r in rows}


def reasons(store: Store, source: str) -> dict[str, str]:
    return {q["location"]: q["reason"] for q in store.quarantined() if q["source"] == source}


# -- one bad value ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "1e20", "-inf", "nan", "9999-12-31T23:00:00-05:00"])
def test_an_unreadable_timestamp_quarantines_its_record_and_the_build_publishes(tmp_path: Path, value: str) -> None:
    spec = write(tmp_path, crm=crm_rows({3: f"a3,Initech Holdings,3,300,{value},"}))
    report, store = run(spec)
    assert report.version is not None
    assert "Initech Holdings" not in published(store) and "Acme Holdings" in published(store)
    reason = reasons(store, "crm")["crm:a3"]
    assert "column 'Created'" in reason and repr(value) in reason and "timestamp" in reason
    assert report.quarantined["crm"] == 1


def test_a_jsonl_number_out_of_range_for_its_type_quarantines_its_record(tmp_path: Path) -> None:
    extra = [
        '{"id": "e21", "account": "a1", "n": 1, "at": 1e17, "amount": 1}',
        '{"id": "e22", "account": "a2", "n": 1e20, "at": "2026-01-01T00:00:00Z", "amount": 1}',
        '{"id": "e23", "account": "a3", "n": 1e17, "at": "2026-01-01T00:00:00Z", "amount": 1}',
    ]
    spec = write(tmp_path, events=event_lines(extra))
    report, store = run(spec)
    assert report.version is not None
    bad = reasons(store, "events")
    assert set(bad) == {"events:e21", "events:e22"}
    assert "column 'at'" in bad["events:e21"] and "1e+17" in bad["events:e21"]
    assert "column 'n'" in bad["events:e22"] and "64-bit" in bad["events:e22"]
    # 1e17 is a whole number that fits: it is read, not refused.
    assert published(store)["Initech Holdings"]["events"] == 10**17 + 1


@pytest.mark.parametrize("where", ["csv", "jsonl"])
def test_a_money_value_too_large_for_a_number_is_quarantined_not_nulled(tmp_path: Path, where: str) -> None:
    if where == "csv":
        spec = write(tmp_path, crm=crm_rows({2: "a2,Globex Holdings,2,1e400,2026-01-02T00:00:00Z,"}))
        source, key, column = "crm", "a2", "Revenue"
    else:
        spec = write(
            tmp_path,
            events=event_lines(
                ['{"id": "e21", "account": "a2", "n": 1, "at": "2026-01-01T00:00:00Z", "amount": 1e400}']
            ),
        )
        source, key, column = "events", "e21", "amount"
    report, store = run(spec)
    assert report.version is not None
    reason = reasons(store, source)[f"{source}:{key}"]
    assert f"column '{column}'" in reason and "1e400" in reason.lower() and "range" in reason
    assert published(store)["Acme Holdings"]["revenue"] == 100


def test_on_invalid_null_keeps_the_record_with_that_field_null_and_says_so(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        crm=crm_rows({3: "a3,Initech Holdings,3,300,inf,", 4: "a4,Umbrella Holdings,1e20,400,2026-01-04T00:00:00Z,"}),
        created=", on_invalid: null",
    )
    report, store = run(spec)
    assert report.version is not None
    out = published(store)
    assert out["Initech Holdings"]["created"] is None and out["Initech Holdings"]["seats"] == 3
    assert "Umbrella Holdings" not in out  # Seats keeps the default: its record is quarantined
    assert report.nulled == {"crm.Created": 1}
    assert report.quarantined["crm"] == 1
    nulled = reasons(store, "crm")["crm:a3"]
    assert "column 'Created'" in nulled and "'inf'" in nulled and "null" in nulled


def test_on_invalid_null_for_a_whole_source(tmp_path: Path) -> None:
    spec = write(tmp_path, crm=crm_rows({3: "a3,Initech Holdings,1e20,300,inf,"}), crm_opts="    on_invalid: null")
    report, store = run(spec)
    rec = published(store)["Initech Holdings"]
    assert rec["created"] is None and rec["seats"] is None and rec["revenue"] == 300
    assert report.nulled == {"crm.Created": 1, "crm.Seats": 1}


def test_an_integer_sum_that_overflows_names_the_field(tmp_path: Path) -> None:
    big = 2**62
    spec = write(tmp_path, crm=crm_rows({1: f"a1,Acme Holdings,{big},100,2026-01-01T00:00:00Z,"}))
    (tmp_path / "product.yaml").write_text(
        (tmp_path / "product.yaml").read_text().replace("expr: sum(crm.Seats)", "expr: sum(crm.Seats) * 4")
    )
    with pytest.raises(BuildError, match="field 'seats'"):
        run(spec)


# -- a source emptied by its format -------------------------------------------------------


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    spec = write(tmp_path, crm=b"\xef\xbb\xbf" + ("\n".join(crm_rows()) + "\n").encode())
    report, store = run(spec)
    assert report.quarantined["crm"] == 0
    assert len(published(store)) == 20


def test_a_mostly_quarantined_source_fails_the_build_and_keeps_the_previous_snapshot(
    tmp_path: Path, store_url: str
) -> None:
    spec = write(tmp_path)
    first, store = run(spec, store_url)
    before = published(store)
    # The export now names its key column differently: every row lacks 'Id'.
    rows = crm_rows()
    write(tmp_path, crm=["ID" + rows[0][2:], *rows[1:]])
    with pytest.raises(BuildError) as failed:
        run(spec, store_url)
    message = str(failed.value)
    assert "source 'crm'" in message and "20 of 40" in message and "missing key 'Id'" in message
    assert "crm.csv:2" in message and "quarantine_threshold" in message
    assert store.current_version() == first.version and published(store) == before
    # The unreadable file is not taken as read: the next build meets it again.
    with pytest.raises(BuildError, match="source 'crm'"):
        run(spec, store_url)
    with pytest.raises(BuildError, match="source 'crm'"):
        run(spec, store_url, full=True)
    assert store.staged_counts()["crm"] == 20  # a refused full read deletes nothing
    write(tmp_path)
    fixed, _ = run(spec, store_url)
    assert fixed.version is not None and published(store) == before


def test_bad_values_past_the_threshold_fail_the_build_naming_the_commonest_reason(
    tmp_path: Path, store_url: str
) -> None:
    bad = {i: f"a{i},{WORDS[i - 1]} Holdings,{i},{i},yesterday," for i in (2, 3, 4)}
    spec = write(tmp_path, crm=crm_rows(bad))
    with pytest.raises(BuildError) as failed:
        run(spec, store_url)
    message = str(failed.value)
    assert "3 of 20" in message and "15%" in message and "10%" in message
    assert "column 'Created'" in message and "(3 " in message
    assert Store.open(store_url).current_version() is None


def test_the_threshold_is_set_per_source_or_for_the_product(tmp_path: Path) -> None:
    bad = {i: f"a{i},{WORDS[i - 1]} Holdings,{i},{i},yesterday," for i in (2, 3, 4)}
    report, _ = run(write(tmp_path / "a", crm=crm_rows(bad), crm_opts="    quarantine_threshold: 0.2"))
    assert report.version is not None and report.quarantined["crm"] == 3
    report, _ = run(write(tmp_path / "b", crm=crm_rows(bad), product="quarantine_threshold: 0.5"))
    assert report.version is not None
    with pytest.raises(BuildError, match="source 'crm'"):
        run(
            write(
                tmp_path / "c",
                crm=crm_rows(bad),
                product="quarantine_threshold: 0.5",
                crm_opts="    quarantine_threshold: 0.1",
            )
        )


def test_the_new_settings_are_validated() -> None:
    base = SPEC.format(product="", crm="", seats="", created="")
    with pytest.raises(SpecError, match="on_invalid"):
        load_spec_text(base.replace("Created: {type: timestamp}", "Created: {type: timestamp, on_invalid: drop}"))
    with pytest.raises(SpecError, match="quarantine_threshold"):
        load_spec_text(base.replace("    key: Id\n", "    key: Id\n    quarantine_threshold: 1.5\n"))
    with pytest.raises(SpecError, match="quarantine_threshold"):
        load_spec_text("quarantine_threshold: -0.1\n" + base)


# -- silent losses ------------------------------------------------------------------------


def test_a_latin1_file_is_reported_with_file_and_line_unless_its_encoding_is_declared(tmp_path: Path) -> None:
    rows = crm_rows({5: "a5,Hooli Société,5,500,2026-01-05T00:00:00Z,"})
    body = ("\n".join(rows) + "\n").encode("latin-1")
    report, store = run(write(tmp_path / "a", crm=body))
    assert report.notices["crm"]["undecodable"]["count"] == 1
    assert report.notices["crm"]["undecodable"]["examples"][0].startswith("crm.csv:6")
    assert "encoding" in report.notices["crm"]["undecodable"]["examples"][0]
    assert "Hooli Soci\ufffdt\ufffd" in published(store)
    report, store = run(write(tmp_path / "b", crm=body, crm_opts="    encoding: latin-1"))
    assert "crm" not in report.notices
    assert "Hooli Société" in published(store)


def test_a_duplicate_key_is_counted_and_the_later_row_wins(tmp_path: Path) -> None:
    rows = crm_rows()
    rows.insert(3, "a5,Hooli Old Name,5,1,2026-01-05T00:00:00Z,")  # before a5's own row
    report, store = run(write(tmp_path, crm=rows))
    dup = report.notices["crm"]["duplicate_key"]
    assert dup["count"] == 1
    assert "'a5'" in dup["examples"][0] and "crm.csv:4" in dup["examples"][0] and "crm.csv:7" in dup["examples"][0]
    assert "later row" in dup["examples"][0]
    assert "Hooli Holdings" in published(store) and "Hooli Old Name" not in published(store)


def test_a_duplicate_key_keeps_the_row_updated_last_when_the_source_says_which_column(tmp_path: Path) -> None:
    rows = crm_rows({5: "a5,Hooli Holdings,5,500,2026-01-05T00:00:00Z,2026-03-01T00:00:00Z"})
    rows.append("a5,Hooli Stale,5,1,2026-01-05T00:00:00Z,2026-02-01T00:00:00Z")  # later in the file, older
    report, store = run(write(tmp_path, crm=rows, crm_opts="    updated_at: Modified"))
    dup = report.notices["crm"]["duplicate_key"]
    assert dup["count"] == 1 and "Modified" in dup["examples"][0]
    assert "Hooli Holdings" in published(store) and "Hooli Stale" not in published(store)
