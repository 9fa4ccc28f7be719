"""Running the API: uvicorn (uvloop, httptools) or granian, one or several worker processes.

Each worker opens the store itself (``C360_SPEC``, ``C360_STORE_URL``); on PostgreSQL that is
the production setup. The served snapshot is read from one memory-mapped serving file that
all workers share (``C360_SERVING=file``, the default; see :mod:`c360.api.serving`), or held
by each worker in its own memory (``C360_SERVING=memory``). ``C360_SERVER``
chooses the server (``uvicorn``, the default, or ``granian`` from ``c360[granian]``).
With several workers, Prometheus samples are shared through ``PROMETHEUS_MULTIPROC_DIR``
and each consumer's rate limit is split between the workers.

A connection must send its request's headers within ``C360_HEADER_TIMEOUT`` seconds (default
10) of connecting or of its previous answer, or it is closed: idle or trickling clients cannot
hold connections open (with granian, the timer starts at a request's first byte: a connection
that sends nothing is held until the client leaves). Under uvicorn each worker serves at most
``C360_MAX_CONNECTIONS`` (default 1000) connections and requests at once, and answers new
requests past that with ``503``; granian takes it as its backpressure (requests in flight).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI

from c360.api.app import create_app, mask_key_for
from c360.core import logs
from c360.core.errors import C360Error, MissingDependency

_LOG = logging.getLogger("c360.serve")
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 1000


def header_timeout() -> float:
    return _setting("C360_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT, 0.1, 3600)


def max_connections() -> int:
    return int(_setting("C360_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 1, 1_000_000))


def _setting(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise C360Error(f"{name}={raw!r}: expected a number between {low:g} and {high:g}, e.g. {default:g}")
    return value


def app_from_env() -> FastAPI:
    """The app factory each worker process calls."""
    from c360.spec.validate import load_spec
    from c360.store import Store, default_url

    if os.environ.get("C360_LOG_FORMAT") or os.environ.get("C360_LOG_LEVEL"):
        logs.setup()  # as `c360 serve` chose (it exports its choice); a caller of run() that did not, logs nothing
    spec = load_spec(os.environ["C360_SPEC"])
    url = os.environ.get("C360_STORE_URL") or default_url(spec.base_dir)
    store = Store.open(url, migrate=False)
    return create_app(spec, store)


def _started(spec_path: Path, store_url: str | None, *, host: str, port: int, workers: int, server: str) -> None:
    """The start-up line: versions, the snapshot to be served, how it is served (no secrets)."""
    from c360 import __version__
    from c360.api.serving import mode
    from c360.spec.validate import load_spec
    from c360.store import Store, default_url

    spec = load_spec(spec_path)
    snapshot = None
    try:
        store = Store.open(store_url or os.environ.get("C360_STORE_URL") or default_url(spec.base_dir), migrate=False)
        try:
            current = store.current_snapshot()
            snapshot = current.version if current else 0
        finally:
            store.close()
    except Exception:  # the workers report a store they cannot open; this line is informational
        snapshot = None
    logs.event(
        _LOG,
        "c360 serve starting",
        version=__version__,
        product=spec.model.product,
        spec_version=spec.model.version,
        snapshot=snapshot,
        serving=mode(),
        server=server,
        workers=workers,
        host=host,
        port=port,
    )


def run(
    spec_path: Path, store_url: str | None, *, host: str, port: int, workers: int = 1, server: str | None = None
) -> None:
    from c360.api.serving import mode
    from c360.spec.validate import load_spec

    mode()  # a bad C360_SERVING fails here, before any worker starts
    os.environ["C360_SPEC"] = str(spec_path)
    os.environ["C360_WORKERS"] = str(max(workers, 1))
    if store_url:
        os.environ["C360_STORE_URL"] = store_url
    # Made once here, before workers start, so every worker masks with the same key.
    mask_key_for(load_spec(spec_path))
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="c360-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    chosen = server or os.environ.get("C360_SERVER", "uvicorn")
    if _LOG.isEnabledFor(logging.INFO):
        _started(spec_path, store_url, host=host, port=port, workers=max(workers, 1), server=chosen)
    try:
        if chosen == "granian":
            _granian(host, port, workers)
        else:
            _uvicorn(host, port, workers)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    # uvloop + httptools: the stock asyncio loop without TCP_NODELAY adds ~40 ms per keep-alive
    # request with several workers.
    header_timeout()  # a bad setting fails here, before any worker starts
    uvicorn.run(
        "c360.api.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="c360.api.protocol:HeaderTimeoutProtocol",
        limit_concurrency=max_connections(),
        log_level="warning",
        access_log=False,
    )


def _granian(host: str, port: int, workers: int) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
        from granian.http import HTTP1Settings
    except ImportError:
        raise MissingDependency("granian", "granian") from None
    Granian(
        "c360.api.serve:app_from_env",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        factory=True,
        log_enabled=False,
        http1_settings=HTTP1Settings(header_read_timeout=int(header_timeout() * 1000)),
        backpressure=max_connections(),
    ).serve()
