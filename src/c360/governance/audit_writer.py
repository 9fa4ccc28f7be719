"""Read auditing from a serving process, with the chaining work done in another process.

A serving worker must not spend its GIL on audit rows: computing a batch's HMAC chain and
writing it held the interpreter for tens of milliseconds per flush, and every request that
waited behind it showed up in the latency tail. :class:`ProcessReadAuditor` keeps only the
cheap part in the server: each read is pickled and written to a pipe as it is recorded, before
the request's answer is sent. A writer process it starts chains and commits what it has been
handed every ``interval``, in one transaction, exactly as
:class:`~c360.governance.audit.ReadAuditor` does in-process.

Where a read can be when the server dies, and what becomes of it:

- nowhere in the server: ``record()`` returns once the read is in the kernel's pipe buffer;
- in the pipe, or waiting in the writer for its next commit: the writer is started in a
  session of its own (before it runs any Python), so a SIGKILL of the server's process group
  (``kill -9 -PGID``, a supervisor's stop) does not reach it, nor does an OOM kill of the
  worker. When its worker is gone (end of file on the pipe, or a new parent process) it reads
  what the pipe still holds, commits it all and exits. The worker starts serving only once its
  writer is ready, so this holds from the first read;
- only if the writer is killed too (a container or cgroup killed whole) are the reads it has
  not committed lost: those of the last ``interval`` and of the commit in progress, or, while
  the store refuses commits (another transaction holds SQLite's write lock), every read since
  the last commit, up to ``BACKLOG_READS``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing as mp
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection as Pipe
from typing import TYPE_CHECKING, Any

from c360.core.errors import StoreError
from c360.core.priority import lower_priority
from c360.store import Store

if TYPE_CHECKING:
    from c360.governance.audit import ReadAuditor

log = logging.getLogger("c360.audit")

# (time, consumer, one customer id or the ids of one request, fields, mode)
Read = tuple[float, str, str | tuple[str, ...], Sequence[str], str]
# The pipe of reads holds this much (about 5,000 reads) while the writer commits, so a commit
# does not hold up the server; a full pipe makes the server wait for the writer.
PIPE_BYTES = 1 << 20
# While the store refuses commits (a publish holds SQLite's write lock for the length of its
# transaction), the writer keeps taking reads off the pipe into memory, up to this many
# (about 40 s of a busy worker's reads, a few hundred MiB); past it, the pipe fills.
BACKLOG_READS = 500_000
# The writer wakes at most this often to take what has arrived: one wake-up for the reads of
# a few milliseconds, not one per read, which cost the server's requests a fifth of their rate.
GATHER_SECONDS = 0.005
# The writer checks this often whether its worker is still there when the pipe is quiet (the
# pipe's end of file says so at once, unless another process also holds the worker's end).
PARENT_CHECK_SECONDS = 0.5
# How long a writer whose worker has gone keeps retrying its last commit against a store
# that does not answer before it gives up on those reads.
FINAL_COMMIT_SECONDS = 60.0
# How long a worker waits for its writer to open the store before it gives up starting.
STARTUP_SECONDS = 120.0

# Each frame on the pipe of reads: a length, then that many bytes of pickle. Two lengths that
# no read has are the worker's requests.
_HEAD = struct.Struct("<I")
_FLUSH = 0
_CLOSE = 0xFFFFFFFF
_READY = "ready"
# The writer's first lines, run before anything of c360 is imported: it gets the server's
# import path, the store and the interval from the pipe (a URL may hold a password, which the
# command line would show to every user of the machine).
_BOOT = (
    "import sys; from multiprocessing.connection import Connection; pipe = Connection({fd}); "
    "path, reads, url, interval = pipe.recv(); sys.path[:] = path; "
    "from c360.governance.audit_writer import _writer; _writer(pipe, reads, url, interval)"
)


def _writer(pipe: Pipe, reads: int, url: str, interval: float) -> None:
    """The writer process: queue each read handed to it, commit every ``interval``, outlive its worker.

    It runs at a lower CPU priority than the server: on a machine with few cores, a server
    process that has to wait for the scheduler while audit rows are chained shows the wait
    in its latency tail, while the writer can take a few milliseconds longer unharmed.
    """
    from c360.governance.audit import ReadAuditor

    lower_priority()
    parent = os.getppid()
    stopping = threading.Event()
    # SIGTERM (an operator's ``kill``; the server's own signals stay in its session): commit
    # what has arrived, then exit. SIGINT belongs to the server, which closes the writer.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    try:
        store = Store.open(url, migrate=False)
        # Its own thread commits every ``interval``: this one only reads the pipe, so a commit
        # that waits for the store's write lock does not leave the pipe to fill.
        auditor = ReadAuditor(store, interval=interval)
    except Exception as exc:  # the worker reports it and does not start
        with contextlib.suppress(OSError):
            pipe.send(f"{type(exc).__name__}: {exc}")
        raise
    writer = _Writer(auditor, pipe, reads)
    pipe.send(_READY)
    poller = select.poll()
    poller.register(reads, select.POLLIN)
    try:
        while not stopping.is_set():
            if auditor.pending() >= BACKLOG_READS:  # the store refuses commits: let the pipe fill
                time.sleep(GATHER_SECONDS)
            elif not poller.poll(PARENT_CHECK_SECONDS * 1000):
                pass
            elif not writer.take():
                return  # closed, or the worker is gone and everything it sent was read
            else:
                time.sleep(GATHER_SECONDS)
                continue
            if os.getppid() != parent:
                break  # the worker died and another process holds its end of the pipe
        while poller.poll(0) and writer.take():  # what the pipe holds already, without waiting for more
            pass
    finally:
        _last_commit(auditor)
        store.close()


class _Writer:
    """The writer process's ends of the pipes: reads go to its auditor's queue; flushes are answered."""

    def __init__(self, auditor: ReadAuditor, pipe: Pipe, reads: int) -> None:
        self.auditor = auditor
        self.pipe = pipe
        self.reads = reads
        self.reported = 0  # rows committed up to the last answer to a flush
        self._rest = b""  # the start of a frame whose end has not arrived yet

    def take(self) -> bool:
        """Queue every read that has arrived; False once there will be no more (closed, or the worker is gone)."""
        chunk = os.read(self.reads, PIPE_BYTES)
        if not chunk:
            return False
        buf = self._rest + chunk if self._rest else chunk
        record = self.auditor.record
        i, end = 0, len(buf)
        while end - i >= _HEAD.size:
            (n,) = _HEAD.unpack_from(buf, i)
            if n == _CLOSE:
                return False
            if n == _FLUSH:
                i += _HEAD.size
                self._answer_flush()
                continue
            if end - i - _HEAD.size < n:
                break
            start = i + _HEAD.size
            t, consumer, ids, fields, mode = pickle.loads(buf[start : start + n])
            for cid in (ids,) if isinstance(ids, str) else ids:
                record(consumer, cid, fields, mode, at=t)
            i = start + n
        self._rest = buf[i:]
        return True

    def _answer_flush(self) -> None:
        """Commit every read sent before the flush, then say how many rows went since the last one."""
        auditor = self.auditor
        reply: int | str
        try:
            auditor.flush()
            reply, self.reported = auditor.flushed - self.reported, auditor.flushed
        except Exception as exc:  # the reads stay queued for the next commit
            reply = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):  # the worker is gone: nobody is waiting for the answer
            self.pipe.send(reply)


def _last_commit(auditor: ReadAuditor) -> None:
    """Commit everything left, retrying a store that is briefly away rather than dropping reads."""
    deadline = time.monotonic() + FINAL_COMMIT_SECONDS
    while True:
        try:
            auditor.close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ProcessReadAuditor:
    """``record()`` hands each read to the writer process at once; the writer commits them in batches."""

    def __init__(self, store: Store, *, interval: float = 0.2) -> None:
        url = store.engine.url.render_as_string(hide_password=False)
        self._pipe, child = mp.Pipe()  # set-up, and the answers to flushes
        theirs, self._reads = os.pipe()  # the reads, one way
        with contextlib.suppress(OSError):  # beyond the system's limit: the default size
            fcntl.fcntl(self._reads, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        # A new session from the start (set before the interpreter runs), not forked from a
        # process that runs threads; the only descriptors it inherits are its ends of the pipes.
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(fd=child.fileno())],
                pass_fds=(child.fileno(), theirs),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
            os.close(theirs)
        try:
            self._pipe.send((sys.path, theirs, url, interval))
            started = self._pipe.poll(STARTUP_SECONDS)
            reply: Any = self._pipe.recv() if started else f"no answer in {STARTUP_SECONDS:.0f} s"
        except (OSError, EOFError) as exc:
            reply = f"it exited ({str(exc) or type(exc).__name__})"
        if reply != _READY:
            self._process.kill()
            self._process.wait()
            self._pipe.close()
            os.close(self._reads)
            raise StoreError(f"the read audit writer did not start: {reply}")
        self.interval = interval
        self.flushed = 0
        self._sent = 0  # entries recorded (handed over, or kept below when that failed)
        self._confirmed = 0  # entries a flush has seen committed
        self._unsent: deque[bytes] = deque()  # entries the writer could not take (it is gone)
        self._send = threading.Lock()  # live reads are recorded from FastAPI's thread pool
        self._flush = threading.Lock()
        self._closed = False

    def record(self, consumer: str, customer_id: str, fields: Sequence[str], mode: str = "materialised") -> None:
        self._hand((time.time(), consumer, customer_id, tuple(fields), mode))

    def record_many(
        self, consumer: str, customer_ids: Sequence[str], fields: Sequence[str], mode: str = "materialised"
    ) -> None:
        """The reads of one request (a batch, a page): one entry; one audit row per customer."""
        if customer_ids:
            self._hand((time.time(), consumer, tuple(customer_ids), tuple(fields), mode))

    def _hand(self, read: Read) -> None:
        """Write one entry to the writer's pipe before the read is answered.

        A write to a full pipe waits for the writer: the server then answers no faster than
        reads are audited, rather than holding a growing backlog that a crash would lose.
        """
        data = pickle.dumps(read, pickle.HIGHEST_PROTOCOL)
        frame = _HEAD.pack(len(data)) + data
        with self._send:
            self._sent += 1
            if not self._unsent and not self._closed:
                try:
                    _write_all(self._reads, frame)
                    return
                except OSError as exc:
                    log.error("the read audit writer is gone (%s): reads are kept in memory, unaudited", exc)
            self._unsent.append(frame)

    def pending(self) -> int:
        """Entries recorded that no flush has yet seen committed (a request's many reads are one entry).

        An upper bound: the writer also commits on its own, every ``interval``.
        """
        return self._sent - self._confirmed

    def flush(self) -> int:
        """Wait until the writer has committed every read handed to it; returns the rows since the last flush."""
        with self._flush:
            with self._send:
                if self._unsent:
                    raise StoreError(f"the read audit writer is gone; {len(self._unsent)} read(s) are unaudited")
                _write_all(self._reads, _HEAD.pack(_FLUSH))
                sent = self._sent
            reply: Any = self._pipe.recv()
            if isinstance(reply, str):
                raise StoreError(f"the read audit writer could not commit: {reply}")
            self._confirmed = sent
            self.flushed += int(reply)
            return int(reply)

    def close(self) -> None:
        if self._closed:
            return  # closed already (the app's lifespan and its owner may both close it)
        try:
            self.flush()
        finally:
            with self._send:
                self._closed = True  # later reads are kept, never written to a closed descriptor
                with contextlib.suppress(OSError):
                    _write_all(self._reads, _HEAD.pack(_CLOSE))
                os.close(self._reads)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                log.error("the read audit writer (pid %d) is still committing; it exits once done", self._process.pid)
            self._pipe.close()
