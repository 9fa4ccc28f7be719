"""Running the API: uvicorn (uvloop, httptools) or granian, one or several worker processes.

Each worker opens the store itself (``C360_SPEC``, ``C360_STORE_URL``) and holds its own
copy of the served snapshot; on PostgreSQL that is the production setup. ``C360_SERVER``
chooses the server (``uvicorn``, the default, or ``granian`` from ``c360[granian]``).
With several workers, Prometheus samples are shared through ``PROMETHEUS_MULTIPROC_DIR``
and each consumer's rate limit is split between the workers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from fastapi import FastAPI

from c360.api.app import create_app, mask_key_for
from c360.core.errors import MissingDependency


def app_from_env() -> FastAPI:
    """The app factory each worker process calls."""
    from c360.spec.validate import load_spec
    from c360.store import Store, default_url

    spec = load_spec(os.environ["C360_SPEC"])
    url = os.environ.get("C360_STORE_URL") or default_url(spec.base_dir)
    store = Store.open(url, migrate=False)
    return create_app(spec, store)


def run(
    spec_path: Path,
    store_url: str | None,
    *,
    host: str,
    port: int,
    workers: int = 1,
    server: str | None = None,
) -> None:
    from c360.spec.validate import load_spec

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
    try:
        if (server or os.environ.get("C360_SERVER", "uvicorn")) == "granian":
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
    uvicorn.run(
        "c360.api.serve:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


def _granian(host: str, port: int, workers: int) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
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
    ).serve()
