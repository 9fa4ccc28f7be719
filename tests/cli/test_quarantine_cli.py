"""``c360 quarantine``: every quarantined record once, with its latest reason (issue #17)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from c360.cli import app
from c360.connectors.base import Quarantined
from c360.store import Store
from tests.pipeline.test_bad_source_data import crm_rows, run, store_url, write

__all__ = ["store_url"]  # the fixture: a SQLite file, or a fresh PostgreSQL database

runner = CliRunner()


def test_one_bad_record_over_two_builds_counts_once_with_its_latest_reason(tmp_path: Path) -> None:
    spec = write(tmp_path, crm=crm_rows({3: "a3,Initech Holdings,3,300,inf,"}))
    run(spec)[1].close()
    write(tmp_path, crm=crm_rows({3: "a3,Initech Holdings,3,300,nan,"}))
    run(spec)[1].close()
    store = f"sqlite:///{tmp_path}/store.db"
    result = runner.invoke(app, ["quarantine", str(spec), "--store", store], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "1 quarantined record(s) in all" in result.output
    rows = [line for line in result.output.splitlines() if "crm:a3" in line]
    assert len(rows) == 1 and "'nan'" in rows[0] and "'inf'" not in rows[0]
    assert rows[0].rstrip(" │").endswith("2")  # entries: once per build


def test_quarantined_latest_is_one_row_per_source_and_location(store_url: str) -> None:
    st = Store.open(store_url)
    try:
        st.add_quarantine("run-1", "crm", [Quarantined("crm:a3", "old reason"), Quarantined("crm.csv:7", "bad row")])
        st.add_quarantine("run-2", "crm", [Quarantined("crm:a3", "new reason")])
        st.add_quarantine("run-2", "events", [Quarantined("crm:a3", "another source, same text")])
        rows = st.quarantined_latest()
        assert [(r["source"], r["location"], r["reason"], r["run_id"], r["times"]) for r in rows] == [
            ("crm", "crm.csv:7", "bad row", "run-1", 1),
            ("crm", "crm:a3", "new reason", "run-2", 2),
            ("events", "crm:a3", "another source, same text", "run-2", 1),
        ]
        assert len(st.quarantined()) == 4  # the history stays whole
    finally:
        st.close()
