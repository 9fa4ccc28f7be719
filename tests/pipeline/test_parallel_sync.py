"""Sources sync at once (a bounded pool of threads), each on its own, the store's writes kept
safe; a source that fails blocks the build only when it is required."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from c360.cli import app
from c360.connectors.base import Batch, Record
from c360.core.errors import SourceError, TerminalSourceError
from c360.pipeline import sync as sync_module
from c360.pipeline.build import build
from c360.pipeline.sync import SyncFailed, shares_connections, sync, sync_each
from c360.spec.validate import Spec, load_spec, load_spec_text
from c360.store import Store
from tests.api.stores import STORES, pg_database

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
NAMES = ["alpha", "bravo", "charlie", "delta"]


def spec_text(required: dict[str, bool] | None = None) -> str:
    lines = ["product: p", "version: 1.0.0", "owner: {team: t}", "sources:"]
    for n in NAMES:
        lines += [f"  {n}:", "    connector: jsonl", f"    path: {n}.jsonl", "    key: id"]
        if required and n in required:
            lines.append(f"    required: {str(required[n]).lower()}")
        lines += ["    columns: {id: string, name: string, n: integer}", "    identity: {name: name}"]
    lines += ["fields:", "  name: {type: string, description: n, expr: min(alpha.name)}"]
    lines += [f"  {n}_n: {{type: integer, description: x, expr: sum({n}.n)}}" for n in NAMES]
    return "\n".join(lines) + "\n"


def write(d: Path, required: dict[str, bool] | None = None, rows: int = 5) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "product.yaml").write_text(spec_text(required))
    for n in NAMES:
        (d / f"{n}.jsonl").write_text(
            "".join(json.dumps({"id": f"{n}{i}", "name": f"Company {i}", "n": 1}) + "\n" for i in range(rows))
        )
    return d / "product.yaml"


class Gate:
    """Connectors that meet at a barrier before reading: only sources read at once get past it."""

    def __init__(self, parties: int, batches: int = 40, per_batch: int = 25) -> None:
        self.barrier = threading.Barrier(parties, timeout=20)
        self.batches, self.per_batch = batches, per_batch
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.fail: set[str] = set()

    def connector(self, source: str) -> Any:
        gate = self

        class Fake:
            def read(self, stream: str, *, key: str, since: str | None = None, batch_size: int = 0) -> Iterator[Batch]:
                with gate.lock:
                    gate.active += 1
                    gate.most = max(gate.most, gate.active)
                try:
                    gate.barrier.wait()
                    if source in gate.fail:
                        raise TerminalSourceError(source, "bad credentials")
                    for b in range(gate.batches):
                        records = [
                            Record(f"{source}-{b}-{i}", {"id": f"{source}-{b}-{i}", "name": "x", "n": 1})
                            for i in range(gate.per_batch)
                        ]
                        yield Batch(records, cursor=None)
                finally:
                    with gate.lock:
                        gate.active -= 1

            def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
                return []

            def close(self) -> None:
                return None

        return Fake()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        st = Store.open(f"sqlite:///{tmp_path}/store.db")
        yield st
        st.close()
        return
    with pg_database() as url:
        st = Store.open(url)
        yield st
        st.close()


def spec_in(tmp_path: Path, required: dict[str, bool] | None = None) -> Spec:
    return load_spec(write(tmp_path / "spec", required))


def test_sources_sync_at_once_and_every_batch_lands(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(parties=4)
    monkeypatch.setattr(sync_module, "open_connector", lambda spec, source: gate.connector(source))
    spec = spec_in(tmp_path)
    outcome = sync_each(spec, store, run_id="r1", parallel=4)
    assert not outcome.failed, [f.message for f in outcome.failed]
    assert [s.source for s in outcome.synced] == NAMES  # the spec's order, whoever finished first
    assert gate.most == 4  # all four read at once: the barrier let them through together
    assert all(s.counts.new == 40 * 25 and s.batches == 40 for s in outcome.synced)
    # Concurrent writes lost nothing: every batch of every source is staged.
    assert store.staged_counts() == {n: 1000 for n in NAMES}


def test_the_pool_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(parties=2, batches=3)
    monkeypatch.setattr(sync_module, "open_connector", lambda spec, source: gate.connector(source))
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    outcome = sync_each(spec_in(tmp_path), store, run_id="r1", parallel=2)
    assert len(outcome.synced) == 4 and gate.most == 2


def test_one_failing_source_is_reported_on_its_own_while_the_others_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate(parties=4, batches=2)
    gate.fail = {"bravo", "delta"}
    monkeypatch.setattr(sync_module, "open_connector", lambda spec, source: gate.connector(source))
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    spec = spec_in(tmp_path)
    outcome = sync_each(spec, store, run_id="r1", parallel=4)
    assert [s.source for s in outcome.synced] == ["alpha", "charlie"]
    assert [f.source for f in outcome.failed] == ["bravo", "delta"]
    assert all("bad credentials" in f.message for f in outcome.failed)
    assert set(store.staged_counts()) == {"alpha", "charlie"}
    gate.barrier = threading.Barrier(4, timeout=20)
    with pytest.raises(SyncFailed) as info:
        sync(spec, store, run_id="r2")
    assert [f.source for f in info.value.failures] == ["bravo", "delta"]


def test_an_in_memory_store_syncs_one_source_at_a_time(tmp_path: Path) -> None:
    # Each thread would see a database of its own: the pool of such a store is not shared.
    memory = Store.open("sqlite://")
    assert not shares_connections(memory)
    spec = load_spec(write(tmp_path))
    outcome = sync_each(spec, memory, run_id="r1", parallel=4)
    assert [s.source for s in outcome.synced] == NAMES
    assert memory.staged_counts() == {n: 5 for n in NAMES}
    assert shares_connections(Store.open(f"sqlite:///{tmp_path}/store.db"))


def test_an_interrupted_sync_stops_the_other_sources_between_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Slow:
        def __init__(self, source: str) -> None:
            self.source = source

        def read(self, stream: str, *, key: str, since: str | None = None, batch_size: int = 0) -> Iterator[Batch]:
            for b in range(1000):
                time.sleep(0.01)
                yield Batch([Record(f"{b}", {"id": f"{b}", "name": "x", "n": 1})], cursor=None)

        def close(self) -> None:
            return None

    monkeypatch.setattr(sync_module, "open_connector", lambda spec, source: Slow(source))
    store = Store.open(f"sqlite:///{tmp_path}/store.db")

    started = time.perf_counter()
    real = sync_module.sync_source

    def first_interrupts(spec: Spec, st: Store, name: str, **kw: Any) -> Any:
        if name == "alpha":  # Ctrl-C, as the main thread waits on the first source
            time.sleep(0.2)
            raise KeyboardInterrupt
        return real(spec, st, name, **kw)

    monkeypatch.setattr(sync_module, "sync_source", first_interrupts)
    with pytest.raises(KeyboardInterrupt):
        sync_each(spec_in(tmp_path), store, run_id="r1", parallel=4)
    assert time.perf_counter() - started < 5  # not the 10 s the other reads would take
    counts = store.staged_counts()
    assert 0 < sum(counts.values()) < 3000


# -- required: true | false in a build ---------------------------------------------------------


def published(store: Store) -> list[dict[str, Any]]:
    version = store.current_version()
    assert version is not None
    return [json.loads(d) for _, d in store.snapshot_rows(version)]


def test_an_optional_source_that_fails_is_built_from_its_previous_staging_and_said_so(tmp_path: Path) -> None:
    path = write(tmp_path, {"delta": False})
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    first = build(load_spec(path), store, as_of=AS_OF)
    assert first.version is not None
    before = {r["name"]: r["delta_n"] for r in published(store)}
    (tmp_path / "delta.jsonl").unlink()  # the source is down
    report = build(load_spec(path), store, as_of=AS_OF)
    assert report.version is not None and report.version != first.version
    assert {r["name"]: r["delta_n"] for r in published(store)} == before  # its fields kept
    note = report.notices["delta"]["not_synced"]
    assert note["count"] == 1
    [message] = note["examples"]
    assert message.startswith("source 'delta':") and "built from the 5 record(s) its last good sync staged" in message
    assert "(required: false)" in message
    assert report.as_dict()["notices"]["delta"]["not_synced"]["examples"] == [message]
    runs = [json.loads(r["summary"]) for r in store_runs(store)]
    assert any("not_synced" in json.dumps(r) for r in runs)


def store_runs(store: Store) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from c360.store.schema import runs

    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(runs).where(runs.c.status == "succeeded"))]


def test_a_required_source_that_fails_blocks_the_publish(tmp_path: Path) -> None:
    path = write(tmp_path, {"delta": True})
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    first = build(load_spec(path), store, as_of=AS_OF)
    (tmp_path / "delta.jsonl").unlink()
    with pytest.raises(SourceError, match="source 'delta'"):
        build(load_spec(path), store, as_of=AS_OF)
    assert store.current_version() == first.version


def test_required_and_optional_failures_together(tmp_path: Path) -> None:
    path = write(tmp_path, {"delta": False})
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    build(load_spec(path), store, as_of=AS_OF)
    (tmp_path / "delta.jsonl").unlink()
    (tmp_path / "bravo.jsonl").unlink()
    with pytest.raises(SourceError, match="source 'bravo'"):  # only the required one is raised
        sync(load_spec(path), store, run_id="r")
    (tmp_path / "charlie.jsonl").unlink()
    with pytest.raises(SyncFailed) as info:
        sync(load_spec(path), store, run_id="r")
    assert [f.source for f in info.value.failures] == ["bravo", "charlie"]


def test_an_optional_source_never_synced_builds_without_it(tmp_path: Path) -> None:
    path = write(tmp_path, {"delta": False})
    (tmp_path / "delta.jsonl").unlink()
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    report = build(load_spec(path), store, as_of=AS_OF)
    assert report.version is not None
    assert "built from the 0 record(s)" in report.notices["delta"]["not_synced"]["examples"][0]


def test_required_is_validated() -> None:
    from c360.core.errors import SpecError

    with pytest.raises(SpecError, match=r"sources\.delta\.required"):
        load_spec_text(spec_text().replace("    path: delta.jsonl\n", "    path: delta.jsonl\n    required: maybe\n"))


# -- the command ---------------------------------------------------------------------------------


def test_c360_sync_parallel_and_an_optional_failure(tmp_path: Path) -> None:
    path = write(tmp_path, {"delta": False})
    url = f"sqlite:///{tmp_path}/store.db"
    runner = CliRunner()
    result = runner.invoke(app, ["sync", str(path), "--store", url, "--parallel", "2"])
    assert result.exit_code == 0, result.output
    (tmp_path / "delta.jsonl").unlink()
    result = runner.invoke(app, ["sync", str(path), "--store", url, "--parallel", "3"])
    assert result.exit_code == 0, result.output  # delta is not required
    assert "failed (required: false): source 'delta'" in result.output
    (tmp_path / "bravo.jsonl").unlink()
    result = runner.invoke(app, ["sync", str(path), "--store", url])
    assert result.exit_code == 1
    assert "failed: source 'bravo'" in result.output
    assert "2 of 4 source(s) failed to sync (1 of them not required)" in result.output
    assert runner.invoke(app, ["sync", str(path), "--store", url, "--parallel", "0"]).exit_code == 2
