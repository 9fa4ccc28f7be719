"""Read auditing from another process: every read chained and committed, off the server's GIL."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from c360.core.priority import WRITER_NICENESS
from c360.governance import audit
from c360.governance.audit_writer import ProcessReadAuditor
from c360.store import Store


def test_reads_are_chained_by_the_writer_process(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    auditor = ProcessReadAuditor(store, interval=0.05)
    for i in range(250):
        auditor.record("finance", f"c_{i:04d}", ["customer_id", "mrr"], "materialised")
    auditor.close()
    assert auditor.flushed == 250 and auditor.pending() == 0
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, actor, subject, detail FROM audit_log ORDER BY seq")).all()
    assert [r.subject for r in rows] == [f"c_{i:04d}" for i in range(250)]
    assert {r.kind for r in rows} == {"read"} and {r.actor for r in rows} == {"consumer:finance"}
    assert '"fields":["customer_id","mrr"]' in rows[0].detail
    assert audit.verify(store).ok


def test_flush_waits_for_the_commit(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    auditor = ProcessReadAuditor(store, interval=3600)
    auditor.record("support", "c_1", ["open_tickets"], "live")
    assert auditor.flush() == 1
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 1
    auditor.close()


def test_the_writer_yields_the_cpu_to_the_server(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    auditor = ProcessReadAuditor(store, interval=3600)
    auditor.record("support", "c_1", ["open_tickets"], "live")
    assert auditor.flush() == 1  # the writer has started and lowered its priority by now
    pid = auditor._process.pid
    assert pid is not None
    server = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(server + WRITER_NICENESS, 19)
    auditor.close()


def test_a_requests_many_reads_ship_as_one_entry_and_chain_as_one_row_each(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    auditor = ProcessReadAuditor(store, interval=3600)
    auditor.record_many("finance", [f"c_{i}" for i in range(100)], ["customer_id", "mrr"], "materialised")
    auditor.record_many("finance", [], ["customer_id"], "materialised")  # nothing read, nothing queued
    auditor.record("finance", "c_x", ["customer_id"], "materialised")
    assert auditor.pending() == 2
    assert auditor.flush() == 101
    with store.engine.connect() as conn:
        subjects = [r[0] for r in conn.execute(text("SELECT subject FROM audit_log ORDER BY seq"))]
    assert subjects == [f"c_{i}" for i in range(100)] + ["c_x"]
    auditor.close()
    assert audit.verify(store).ok


def test_a_store_that_holds_its_write_lock_does_not_hold_up_the_server(tmp_path: Path) -> None:
    """While another transaction holds SQLite's write lock (a publish), reads still go on the pipe.

    The writer keeps taking them into memory while its commit waits for the lock; before, the
    commit was made by the thread that reads the pipe, the pipe filled and every read waited.
    """
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    auditor = ProcessReadAuditor(store, interval=0.05)
    auditor.record("finance", "c_first", ["customer_id"], "materialised")
    assert auditor.flush() == 1
    publish = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    publish.execute("BEGIN IMMEDIATE")  # the write lock, held as a publish's transaction holds it
    reads = 40_000  # several times what the pipe holds
    reader = threading.Thread(
        target=lambda: [auditor.record("finance", f"c_{i:05d}", ["customer_id", "mrr"]) for i in range(reads)]
    )
    try:
        reader.start()
        reader.join(15)
        assert not reader.is_alive(), "recording reads waited for the store's write lock"
    finally:
        publish.execute("ROLLBACK")
        publish.close()
        reader.join()
    assert auditor.flush() == reads
    auditor.close()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == reads + 1
    assert audit.verify(store).ok


def test_the_flush_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from c360.api.audit import DEFAULT_FLUSH_INTERVAL, flush_interval

    monkeypatch.delenv("C360_READ_AUDIT_INTERVAL", raising=False)
    assert flush_interval() == DEFAULT_FLUSH_INTERVAL == 0.2
    monkeypatch.setenv("C360_READ_AUDIT_INTERVAL", "0.05")
    assert flush_interval() == 0.05
    for bad in ("soon", "0", "-1", "600"):
        monkeypatch.setenv("C360_READ_AUDIT_INTERVAL", bad)
        with pytest.raises(ValueError, match=f"C360_READ_AUDIT_INTERVAL='{bad}': expected seconds"):
            flush_interval()
