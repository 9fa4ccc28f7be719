"""Runs (``runs``): each sync, build or erasure, its status and its summary.

A run is marked ``running`` with the process that runs it until it finishes. Runs of this
host whose process is gone (killed, or the machine rebooted) are marked ``killed`` when the
next one starts, so ``running`` means running.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from c360.core import jsonutil
from c360.core.clock import utcnow
from c360.store.schema import runs

if TYPE_CHECKING:
    from c360.store.store import Store


@dataclass(frozen=True)
class RunRow:
    run_id: str
    kind: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: str | None


def start(store: Store, kind: str) -> str:
    """A new run of ``kind``, marked ``running`` with this process, until :func:`finish`."""
    run_id = f"{kind}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    host = socket.gethostname()
    me = {"pid": os.getpid(), "host": host}
    with store.engine.begin() as conn:
        end_dead(conn, host)
        conn.execute(
            insert(runs).values(
                run_id=run_id,
                kind=kind,
                status="running",
                started_at=utcnow(),
                summary=jsonutil.dumps({"process": me}).decode(),
            )
        )
    return run_id


def end_dead(conn: Connection, host: str) -> None:
    """Mark ``killed`` the running runs of ``host`` whose process is gone."""
    for run_id, summary in conn.execute(select(runs.c.run_id, runs.c.summary).where(runs.c.status == "running")):
        try:
            process = jsonutil.loads(summary or "{}").get("process") or {}
        except ValueError:
            continue
        if process.get("host") != host or alive(int(process.get("pid", 0))):
            continue  # another machine's run can only be judged there
        conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id, runs.c.status == "running")
            .values(
                status="killed",
                finished_at=utcnow(),
                summary=jsonutil.dumps(
                    {
                        "process": process,
                        "error": f"process {process.get('pid')} on {host} ended without "
                        "finishing the run (killed, or the machine restarted)",
                    }
                ).decode(),
            )
        )


def finish(store: Store, run_id: str, status: str, summary: dict[str, Any]) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(status=status, finished_at=utcnow(), summary=jsonutil.dumps(summary).decode())
        )


def _run_row(r: Any) -> RunRow:
    return RunRow(r.run_id, r.kind, r.status, r.started_at, r.finished_at, r.summary)


def last_finished(
    store: Store, kind: str, statuses: Sequence[str] = ("succeeded", "failed")
) -> tuple[RunRow | None, RunRow | None]:
    """The last run of ``kind`` that ended in one of ``statuses``, and the last that succeeded."""
    base = select(runs).where(runs.c.kind == kind).order_by(runs.c.started_at.desc()).limit(1)
    with store.engine.connect() as conn:
        last = conn.execute(base.where(runs.c.status.in_(tuple(statuses)))).first()
        ok = (
            last
            if last is not None and last.status == "succeeded"
            else conn.execute(base.where(runs.c.status == "succeeded")).first()
        )
    return (_run_row(last) if last is not None else None, _run_row(ok) if ok is not None else None)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie child counts as ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ")[-1][:1] != b"Z"
    except OSError:
        return True
