"""The store's own bookkeeping: a killed build does not stay ``running``; the SQLite file is private."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from c360.core import jsonutil
from c360.store import Store
from c360.store.schema import runs
from tests.api.stores import STORES, pg_database


def _status(store: Store, run_id: str) -> tuple[str, dict[str, object]]:
    with store.engine.connect() as conn:
        status, summary = conn.execute(select(runs.c.status, runs.c.summary).where(runs.c.run_id == run_id)).one()
    return str(status), jsonutil.loads(summary or "{}")


def _killed_run(url: str) -> str:
    """A build started by another process that is then killed with SIGKILL."""
    code = (
        "import sys, time; from c360.store import Store; s = Store.open(sys.argv[1]); "
        "print(s.start_run('build'), flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.kill()
    proc.wait()
    return run_id


def _check(url: str) -> None:
    store = Store.open(url)
    dead = _killed_run(url)
    assert _status(store, dead)[0] == "running"  # nothing has looked yet
    mine = store.start_run("build")  # a live one of this process is left alone
    later = store.start_run("sync")
    status, summary = _status(store, dead)
    assert status == "killed" and "ended without finishing" in str(summary["error"])
    assert _status(store, mine)[0] == "running" and _status(store, later)[0] == "running"
    store.finish_run(mine, "succeeded", {})
    store.close()


def test_a_killed_build_is_marked_killed_by_the_next_run(tmp_path: Path) -> None:
    for kind in STORES:
        if kind == "sqlite":
            _check(f"sqlite:///{tmp_path}/store.db")
        else:
            with pg_database() as url:
                _check(url)


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        store = Store.open(f"sqlite:///{tmp_path}/deep/store.db")
        store.start_run("build")
    finally:
        os.umask(old)
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        path = tmp_path / "deep" / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    assert (tmp_path / "deep" / "store.db").exists()
    store.close()
