"""Read auditing from a serving process, with the chaining work done in another process.

A serving worker must not spend its GIL on audit rows: computing a batch's HMAC chain and
writing it held the interpreter for tens of milliseconds per flush, and every request that
waited behind it showed up in the latency tail. :class:`ProcessReadAuditor` keeps only the
cheap part in the server (a deque append per read, and one pickled list sent down a pipe
every ``interval``); a writer process it starts chains and commits each batch in one
transaction, exactly as :class:`~c360.governance.audit.ReadAuditor` does in-process.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection as Pipe
from typing import Any

from c360.store import Store

# (time, consumer, one customer id or the ids of one request, fields, mode)
Read = tuple[float, str, str | tuple[str, ...], Sequence[str], str]
WRITER_NICENESS = 10


def _writer(url: str, pipe: Pipe) -> None:
    """The writer process: commit each batch received, answer with how many rows it wrote.

    It runs at a lower CPU priority than the server: on a machine with few cores, a server
    process that has to wait for the scheduler while audit rows are chained shows the wait
    in its latency tail, while the writer can take a few milliseconds longer unharmed.
    """
    from c360.governance.audit import ReadAuditor

    with contextlib.suppress(OSError):  # not permitted here: run at the server's priority
        os.nice(WRITER_NICENESS)

    store = Store.open(url, migrate=False)
    auditor = ReadAuditor(store, interval=3600)  # flushed explicitly, batch by batch
    while True:
        try:
            batch = pipe.recv()
        except EOFError:
            break
        if batch is None:
            break
        for t, consumer, ids, fields, mode in batch:
            for cid in (ids,) if isinstance(ids, str) else ids:
                auditor.record(consumer, cid, fields, mode, at=t)
        n = auditor.flush()
        pipe.send(n)
    auditor.close()
    store.close()


class ProcessReadAuditor:
    """``record()`` queues in memory; a sender thread ships batches to the writer process."""

    def __init__(self, store: Store, *, interval: float = 0.2) -> None:
        url = store.engine.url.render_as_string(hide_password=False)
        ctx = mp.get_context("spawn")  # never fork a process that runs threads
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=_writer, args=(url, child), name="c360-audit-writer", daemon=True)
        self._process.start()
        child.close()
        self.interval = interval
        self.flushed = 0
        self._queue: collections.deque[Read] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="c360-audit-sender", daemon=True)
        self._thread.start()

    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str = "materialised") -> None:
        self._queue.append((time.time(), consumer, customer_id, tuple(fields), mode))

    def record_many(self, consumer: str, customer_ids: Sequence[str], fields: Sequence[str],
                    mode: str = "materialised") -> None:
        """The reads of one request (a batch, a page): one queue entry; one audit row per customer."""
        if customer_ids:
            self._queue.append((time.time(), consumer, tuple(customer_ids), tuple(fields), mode))

    def pending(self) -> int:
        """Queued entries not yet shipped (a request's many reads are one entry)."""
        return len(self._queue)

    def flush(self) -> int:
        """Ship every queued read and wait until the writer has committed them."""
        with self._lock:
            q = self._queue
            batch = [q.popleft() for _ in range(len(q))]
            if not batch:
                return 0
            try:
                self._pipe.send(batch)
                n: Any = self._pipe.recv()
            except (OSError, EOFError):
                q.extendleft(reversed(batch))  # not written: keep them for the next attempt
                raise
            self.flushed += int(n)
            return int(n)

    def close(self) -> None:
        if self._stop.is_set():
            return  # closed already (the app's lifespan and its owner may both close it)
        self._stop.set()
        self._thread.join()
        self.flush()
        with self._lock:
            self._pipe.send(None)
        self._process.join(10)
        self._pipe.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except (OSError, EOFError):  # the writer is gone: keep the reads for close() to report
                return
