"""Running the API: uvicorn with uvloop and httptools (keep-alive, TCP_NODELAY)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from c360.api.app import create_app


def app_from_env() -> FastAPI:
    """The app factory each worker process calls (``C360_SPEC``, ``C360_STORE_URL``)."""
    from c360.spec.validate import load_spec
    from c360.store import Store, default_url

    spec = load_spec(os.environ["C360_SPEC"])
    store = Store.open(os.environ.get("C360_STORE_URL") or default_url(spec.base_dir), migrate=False)
    return create_app(spec, store)


def run(spec_path: Path, store_url: str | None, *, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    os.environ["C360_SPEC"] = str(spec_path)
    if store_url:
        os.environ["C360_STORE_URL"] = store_url
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
