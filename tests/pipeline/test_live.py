"""Live reads: the same fields, computed now from the sources, on SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from c360.core.errors import SourceError
from c360.pipeline.live import LiveReader
from c360.spec.validate import Spec, load_spec, load_spec_text
from c360.store import Store
from c360.store import identity as idmap
from tests.api.stores import STORES, store_of
from tests.conftest import BuiltDemo

# product_active_30d compares with now(): the build's as-of time is not the read time.
NOW_DEPENDENT = {"product_active_30d"}


@pytest.fixture(scope="module")
def demo_dir(built_demo: BuiltDemo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo's sources, so a test may change them."""
    d = tmp_path_factory.mktemp("live") / "demo"
    shutil.copytree(built_demo.dir, d)
    return d


@pytest.fixture(scope="module", params=STORES)
def live(
    request: pytest.FixtureRequest, built_demo: BuiltDemo, demo_dir: Path
) -> Iterator[tuple[Spec, Store, LiveReader]]:
    with store_of(request.param, built_demo.store_url) as store:
        spec = load_spec(demo_dir / "product.yaml")
        reader = LiveReader(spec, store)
        yield spec, store, reader
        reader.close()


def test_live_values_equal_the_materialised_ones(live: tuple[Spec, Store, LiveReader]) -> None:
    spec, store, reader = live
    version = store.current_version()
    assert version is not None
    rows = {cid: orjson.loads(data) for cid, data in store.snapshot_rows(version)}
    fields = [f for f in spec.model.fields if f not in NOW_DEPENDENT]
    checked = 0
    for cid in sorted(rows)[:40]:
        result = reader.read(cid, fields)
        assert result.found and not result.down
        expected = {f: rows[cid][f] for f in fields}
        assert {f: result.record[f] for f in fields} == expected, cid
        checked += 1
    assert checked == 40


def test_only_the_sources_the_fields_read_are_asked(live: tuple[Spec, Store, LiveReader]) -> None:
    _, store, reader = live
    cid = next(r.customer_id for r in idmap.all_rows(store) if r.source == "support")
    result = reader.read(cid, ["open_tickets", "csat"])
    assert result.sources == ["support"]
    assert set(result.record) == {"customer_id", "open_tickets", "csat"}


def test_a_change_at_the_source_shows_live_before_any_build(
    live: tuple[Spec, Store, LiveReader], demo_dir: Path
) -> None:
    _, store, reader = live
    tickets = demo_dir / "support_tickets.jsonl"
    lines = tickets.read_text().splitlines()
    ticket_keys = {r.key: r.customer_id for r in idmap.all_rows(store) if r.source == "support"}
    index, row = next(
        (i, json.loads(line))
        for i, line in enumerate(lines)
        if line.startswith("{")
        and json.loads(line).get("status") == "closed"
        and str(json.loads(line)["id"]) in ticket_keys
    )
    cid = ticket_keys[str(row["id"])]
    before = reader.read(cid, ["open_tickets"]).record["open_tickets"]
    original = tickets.read_text()
    try:
        lines[index] = json.dumps({**row, "status": "open"})
        tickets.write_text("\n".join(lines) + "\n")
        after = reader.read(cid, ["open_tickets"]).record["open_tickets"]
    finally:
        tickets.write_text(original)
    assert after == before + 1


def test_unknown_customer_is_not_found(live: tuple[Spec, Store, LiveReader]) -> None:
    _, _, reader = live
    result = reader.read("c_zzzzzzzzzzzz", ["open_tickets"])
    assert not result.found and result.record == {} and result.sources == []


def test_a_source_that_is_down_is_named_and_no_value_is_made_up(
    live: tuple[Spec, Store, LiveReader], demo_dir: Path
) -> None:
    spec, store, _ = live
    text = spec.text.replace("path: product.db", "path: missing/product.db")
    broken = load_spec_text(text, demo_dir / "broken.yaml")
    reader = LiveReader(broken, store)
    try:
        cid = next(r.customer_id for r in idmap.all_rows(store) if r.source == "product")
        result = reader.read(cid, ["last_login", "open_tickets"])
        assert result.found
        assert set(result.down) == {"product"}
        assert isinstance(result.down["product"], SourceError)
        assert result.record == {}
    finally:
        reader.close()
