"""``/docs`` and ``/redoc`` from files shipped in the package, and the bearer scheme in ``/openapi.json``.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google), so
they are blank on a machine without the internet. These pages load the vendored copies under
``static/vendor`` (versions in ``static/vendor/VERSIONS.md``) and nothing from another host.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

STATIC = "/app/static"
BEARER = "bearerAuth"
# The UIs may load only from this server: ReDoc's side menu links an image on its vendor's CDN,
# which this refuses (the image hides itself), so a page never calls another host.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# Operations anyone may call: no credential needed.
PUBLIC = frozenset({"/healthz", "/readyz"})


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" type="image/png" href="{STATIC}/vendor/swagger-ui/favicon-32x32.png">'
        f"{head}</head><body>{body}</body></html>",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP},
    )


def with_bearer(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` that declares HTTP bearer auth: every operation needs it, but health checks."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None and BEARER in app.openapi_schema.get("components", {}).get(
            "securitySchemes", {}
        ):
            return app.openapi_schema
        doc = plain()
        components = doc.setdefault("components", {})
        components.setdefault("securitySchemes", {})[BEARER] = {
            "type": "http",
            "scheme": "bearer",
            "description": "A consumer's API key (`c360 consumers create`), or a JWT naming a consumer "
            "when the server is configured for them",
        }
        doc["security"] = [{BEARER: []}]
        for path, ops in doc.get("paths", {}).items():
            if path in PUBLIC:
                for op in ops.values():
                    if isinstance(op, dict):
                        op["security"] = []
        app.openapi_schema = doc
        return doc

    return openapi


def install(app: FastAPI) -> None:
    """Serve the offline documentation pages and declare the bearer scheme."""
    app.openapi = with_bearer(app)  # type: ignore[method-assign]
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _page(
            f"{title} - Swagger UI",
            f'<link rel="stylesheet" href="{STATIC}/vendor/swagger-ui/swagger-ui.css">',
            f'<div id="swagger-ui" data-openapi="{escape(openapi_url)}"></div>'
            f'<script src="{STATIC}/vendor/swagger-ui/swagger-ui-bundle.js"></script>'
            f'<script src="{STATIC}/docs-init.js"></script>',
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _page(
            f"{title} - ReDoc",
            "",
            f'<redoc spec-url="{escape(openapi_url)}"></redoc>'
            f'<script src="{STATIC}/vendor/redoc/redoc.standalone.js"></script>',
        )
