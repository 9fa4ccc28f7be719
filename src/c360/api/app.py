"""The HTTP API: each consumer gets its projection of the product, and nothing else."""

from __future__ import annotations

import base64
import bisect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from c360 import __version__
from c360.api.state import ServerState
from c360.governance.access import granted_fields
from c360.governance.lineage import schema
from c360.spec.validate import Spec
from c360.store import Store

JSON = "application/json"

ERROR_SCHEMA = {
    "description": "An error",
    "content": {JSON: {"schema": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}}}}}}},
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def create_app(spec: Spec, store: Store, *, refresh_seconds: float = 1.0) -> FastAPI:
    state = ServerState(spec, store, refresh_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        state.stop()

    app = FastAPI(
        title=f"c360: {spec.model.product}",
        version=spec.model.version,
        description=spec.model.description or "A governed Customer 360 data product.",
        lifespan=lifespan,
        responses={401: ERROR_SCHEMA},
    )
    app.state.c360 = state

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(400, "invalid_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))

    def consumer_of(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        consumer = state.consumer(token.strip())
        if consumer is None:
            raise ApiError(401, "unauthenticated", "the key is unknown, revoked or expired",
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return consumer

    @app.get("/v1/customers/{customer_id}", summary="One customer, as the caller's projection",
             responses={404: ERROR_SCHEMA, 308: {"description": "The id was merged; follow Location"}})
    def get_customer(customer_id: str, request: Request) -> Response:
        consumer = consumer_of(request)
        snap = state.snapshot
        body = snap.projections.get(consumer, {}).get(customer_id)
        if body is None:
            target = snap.aliases.get(customer_id)
            if target is not None and consumer in snap.projections:
                while target in snap.aliases:
                    target = snap.aliases[target]
                return Response(status_code=308, headers={**snap.headers,
                                "Location": f"/v1/customers/{target}"})
            raise ApiError(404, "not_found", f"no customer '{customer_id}'", snap.headers)
        return Response(body, media_type=JSON, headers=snap.headers)

    @app.get("/v1/customers", summary="Page through customers, as the caller's projection",
             responses={400: ERROR_SCHEMA})
    def list_customers(
        request: Request,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=200),
    ) -> Response:
        consumer = consumer_of(request)
        snap = state.snapshot
        # Keyset paging on the sorted ids: a page boundary survives a new snapshot being published.
        start = bisect.bisect_right(snap.ids, _decode_cursor(cursor)) if cursor else 0
        ids = snap.ids[start : start + limit]
        rows = snap.projections.get(consumer, {})
        items = b",".join(rows[i] for i in ids if i in rows)
        more = start + len(ids) < len(snap.ids)
        next_cursor = _encode_cursor(ids[-1]) if more and ids else None
        body = b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(next_cursor) + b"}"
        return Response(body, media_type=JSON, headers=snap.headers)

    @app.get("/v1/schema", summary="The caller's fields: type, unit, description and lineage")
    def get_schema(request: Request) -> Response:
        consumer = consumer_of(request)
        fields = granted_fields(spec.model, consumer)
        body: dict[str, Any] = {
            "product": spec.model.product, "version": spec.model.version,
            "owner": spec.model.owner.model_dump(), "consumer": consumer,
            "fields": schema(spec.model, fields),
        }
        return Response(orjson.dumps(body), media_type=JSON, headers=state.snapshot.headers)

    @app.get("/healthz", summary="Liveness", include_in_schema=True)
    def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok", "version": __version__}), media_type=JSON)

    @app.get("/readyz", summary="Readiness: a snapshot is loaded", responses={503: ERROR_SCHEMA})
    def readyz() -> Response:
        snap = state.snapshot
        if snap.version == 0:
            return error_response(503, "not_ready", "no snapshot has been published yet; run `c360 build`")
        return Response(orjson.dumps({"status": "ready", "snapshot": snap.version, "as_of": snap.as_of}),
                        media_type=JSON, headers=snap.headers)

    return app


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"k:{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "k" or not value:
            raise ValueError
        return value
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API issued") from None
