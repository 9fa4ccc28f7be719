"""The web app: server-rendered pages under ``/app`` beside the API, and offline ``/docs``/``/redoc``.

:func:`mount` adds it to the API's app (``create_app`` calls it). Pages read the same serving state
and compiled policy as the API; every sign-in, action and refusal is written to the audit chain.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from c360.web import docs

__all__ = ["mount"]


def mount(app: FastAPI) -> None:
    """Add the web app, its static files and the offline docs to the API's ``app``.

    Expects ``app.state.c360`` (the :class:`~c360.api.state.ServerState`) and ``app.state.service``.
    """
    from c360.web import ops, pages, privacy, steward
    from c360.web.core import STATIC_DIR, Web
    from c360.web.session import Sessions

    state = app.state.c360
    service = app.state.service
    app.state.c360_web = Web(
        state.spec, state.store, state, service, Sessions(state.store, state.spec.model, service.jwt)
    )
    docs.install(app)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="c360-static")
    for router in (pages.router, steward.router, privacy.router, ops.router):
        app.include_router(router)
