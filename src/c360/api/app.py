"""The HTTP API: each consumer gets its projection of the product, and nothing else.

FastAPI declares and documents every route (``/openapi.json``); the hottest one,
``GET /v1/customers/{id}`` read from the snapshot, is also answered by a raw ASGI
path in front of FastAPI that calls the very same :class:`Service` method, so the
documented behaviour and the fast behaviour cannot drift apart.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from c360 import __version__
from c360.api.audit import close_auditor, read_auditor
from c360.api.auth import MIN_SECRET_BYTES, JwtConfig, JwtVerifier, weak_secret
from c360.api.erasures import router as erasures_router
from c360.api.latency_history import LatencyHistory
from c360.api.limits import RateLimiter
from c360.api.metrics import Metrics
from c360.api.openapi_doc import _CUSTOMER, _ITEMS, COMMON, _err, _ok, truthful_openapi
from c360.api.service import ID, MAX_BATCH, ApiError, Reply, Service
from c360.api.serving_redis import RedisView
from c360.api.state import ServerState, Snapshot
from c360.core.errors import StoreUnavailable
from c360.core.logs import emit as emit_log
from c360.pipeline.live import LiveReader
from c360.pipeline.metrics import BuildCollector
from c360.spec.validate import Spec
from c360.store import Store
from c360.web import mount as mount_web

JSON = "application/json"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BatchGet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(min_length=1, max_length=MAX_BATCH, description=f"Up to {MAX_BATCH} customer ids")


def one_authorization(values: list[str]) -> str | None:
    """The request's credential. Two ``Authorization`` headers are refused, not guessed between."""
    if len(values) > 1:
        raise ApiError(400, "invalid_request", "send one Authorization header, not several")
    return values[0] if values else None


def basic_password(header: str) -> str:
    """The password of an HTTP Basic credential (``""`` when it cannot be read)."""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def mask_key_for(spec: Spec) -> bytes:
    """The key of ``hash`` masks: ``C360_MASK_KEY``, else ``<spec dir>/.c360/mask.key``."""
    env = os.environ.get("C360_MASK_KEY")
    if env:
        if len(env.encode()) < MIN_SECRET_BYTES:
            weak_secret("the mask key (C360_MASK_KEY)", len(env.encode()))
        return env.encode()
    path = Path(spec.base_dir) / ".c360" / "mask.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, os.urandom(32).hex().encode())
        except Exception:
            os.close(fd)
            raise
        os.close(fd)
    return path.read_bytes().strip()


def create_app(
    spec: Spec,
    store: Store,
    *,
    refresh_seconds: float = 1.0,
    mask_key: bytes | None = None,
    jwt: JwtConfig | None = None,
    workers: int | None = None,
    live: LiveReader | None = None,
) -> FastAPI:
    """The API app for ``spec`` served from ``store``.

    JWT settings default to the environment (:meth:`JwtConfig.load`); ``workers`` (default
    ``C360_WORKERS`` or 1) splits each consumer's rate limit across worker processes.
    """
    key = mask_key if mask_key is not None else mask_key_for(spec)
    state = ServerState(spec, store, key, refresh_seconds)
    jwt_config = jwt if jwt is not None else JwtConfig.load()
    n_workers = workers or int(os.environ.get("C360_WORKERS", "1") or 1)
    metrics = Metrics(
        lambda: (state.snapshot.version, state.snapshot.built_ts),
        sla=lambda: service.compliance(),
        build=BuildCollector(store),
    )
    service = Service(
        state,
        jwt=JwtVerifier(jwt_config) if jwt_config else None,
        limiter=RateLimiter(spec.model, n_workers),
        metrics=metrics,
        auditor=read_auditor(store),
        live=live,
    )

    history = LatencyHistory(store, service.latency)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start()
        history.start()
        yield
        state.stop()
        history.stop()
        close_auditor(service.auditor)
        if service._live is not None:
            service._live.close()

    app = FastAPI(
        title=f"c360: {spec.model.product}",
        version=spec.model.version,
        description=spec.model.description or "A governed Customer 360 data product.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served offline by the web app (c360.web.docs)
        redoc_url=None,
    )
    app.state.c360 = state
    app.state.service = service
    app.state.latency_history = history

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return _response(Reply.error(exc))

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, exc: StoreUnavailable) -> Response:
        return _response(Reply.error(ApiError(503, "store_unavailable", str(exc), [(b"retry-after", b"5")])))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        code = "batch_too_large" if first.get("type") == "too_long" and "ids" in where else "invalid_request"
        return _response(Reply.error(ApiError(400, code, f"{where}: {first.get('msg', 'invalid request')}")))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        kept = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]  # 405's Allow
        return _response(Reply.error(ApiError(exc.status_code, code, str(exc.detail), kept)))

    def caller(request: Request, allowed: frozenset[str], route: str, mode: str = "materialised") -> Any:
        unknown = sorted(set(request.query_params) - allowed)
        consumer = request.scope.pop("c360.consumer", None)
        if consumer is None:
            consumer = service.authenticate(one_authorization(request.headers.getlist("authorization")))
        request.scope["c360.labels"] = (service.label(consumer), mode, route)
        policy = service.authorize(consumer)
        if unknown:
            raise ApiError(400, "invalid_request", f"unknown query parameter '{unknown[0]}'")
        return consumer, policy

    @app.get(
        "/v1/customers/{customer_id}",
        summary="One customer, as the caller's projection",
        operation_id="getCustomer",
        responses={
            **COMMON,
            410: _err("The major this consumer is pinned to is past its sunset"),
            200: _ok(_CUSTOMER, "The projection; freshness in X-C360-* headers"),
            304: {"description": "Not modified (If-None-Match matched the ETag)"},
            308: {"description": "The id was merged; follow Location"},
            404: _err("No such customer (or none this consumer may see)"),
            503: _err("A live read could not reach a source, or the pinned major is not built yet"),
        },
    )
    def get_customer(
        request: Request,
        customer_id: str,
        mode: Literal["materialised", "live"] | None = Query(
            None,
            description="materialised (the snapshot) or live (read the sources now); default: the consumer's delivery",
        ),
    ) -> Response:
        consumer, policy = caller(request, frozenset({"mode"}), "get")
        chosen = mode or service.default_mode(consumer)
        request.scope["c360.labels"] = (service.label(consumer), chosen, "get")
        inm = request.headers.get("if-none-match")
        return _response(service.get(consumer, policy, customer_id, chosen, inm.encode() if inm else None))

    @app.post(
        "/v1/customers:batchGet",
        summary=f"Up to {MAX_BATCH} customers in one call",
        operation_id="batchGetCustomers",
        responses={
            **COMMON,
            410: _err("The major this consumer is pinned to is past its sunset"),
            503: _err("The pinned major is not built yet"),
            200: _ok(
                {
                    "type": "object",
                    "required": ["items", "not_found"],
                    "properties": {
                        "items": {"type": "array", "items": _CUSTOMER},
                        "not_found": {"type": "array", "items": {"type": "string"}},
                    },
                }
            ),
        },
    )
    def batch_get(request: Request, body: BatchGet = Body(...)) -> Response:
        consumer, policy = caller(request, frozenset(), "batchGet")
        return _response(service.batch(consumer, policy, body.ids))

    @app.get(
        "/v1/customers:lookup",
        summary="Find a customer by a source's key or by email",
        operation_id="lookupCustomer",
        description="`source` and `key` together (e.g. billing and cus_...), or `email`. Allowed "
        "only where the consumer is granted, in the clear, a field read from that "
        "source, or an email field.",
        responses={
            **COMMON,
            200: _ok(_ITEMS),
            404: _err("No customer matches"),
            410: _err("The major this consumer is pinned to is past its sunset"),
            503: _err("The pinned major is not built yet"),
        },
    )
    def lookup(
        request: Request,
        source: str | None = Query(None, max_length=64),
        key: str | None = Query(None, max_length=255),
        email: str | None = Query(None, max_length=320),
    ) -> Response:
        consumer, policy = caller(request, frozenset({"source", "key", "email"}), "lookup")
        return _response(service.lookup(consumer, policy, source, key, email))

    @app.get(
        "/v1/customers",
        summary="Page through customers, as the caller's projection",
        operation_id="listCustomers",
        responses={
            **COMMON,
            410: _err("The major this consumer is pinned to is past its sunset"),
            503: _err("The pinned major is not built yet"),
            200: _ok(
                {
                    **_ITEMS,
                    "properties": {
                        **_ITEMS["properties"],
                        "next_cursor": {"type": ["string", "null"]},
                        "snapshot": {"type": "integer"},
                        "built_at": {"type": "string"},
                    },
                }
            ),
        },
    )
    def list_customers(
        request: Request,
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=200),
        changed_since: str | None = Query(
            None,
            max_length=64,
            description="Only customers whose record changed after this time "
            "(pass the built_at of the snapshot you synced last)",
        ),
    ) -> Response:
        consumer, policy = caller(request, frozenset({"limit", "cursor", "changed_since"}), "list")
        return _response(service.page(consumer, policy, limit, cursor, changed_since))

    @app.get(
        "/v1/schema",
        summary="The caller's fields: type, unit, description, lineage, masking",
        operation_id="getSchema",
        responses={
            **COMMON,
            200: _ok({"type": "object"}),
            410: _err("The major this consumer is pinned to is past its sunset"),
            503: _err("The pinned major is not built yet"),
        },
    )
    def get_schema(request: Request) -> Response:
        consumer, policy = caller(request, frozenset(), "schema")
        return _response(service.schema(consumer, policy))

    @app.get(
        "/v1/subscriptions",
        summary="Every subscription with its live SLA compliance (for the product's owners)",
        operation_id="getSubscriptions",
        responses={
            **COMMON,
            200: _ok({"type": "object"}),
            410: _err("The major this consumer is pinned to is past its sunset"),
            503: _err("The pinned major is not built yet"),
        },
    )
    def get_subscriptions(request: Request) -> Response:
        consumer, _ = caller(request, frozenset(), "subscriptions")
        return _response(service.subscriptions(consumer))

    def owner_only(request: Request, what: str) -> str:
        """The calling consumer, which must hold the owner right (401 without a credential).

        Browsers may send the key as the password of HTTP Basic (any user name), so the
        product's page opens with the browser's own prompt.
        """
        values = request.headers.getlist("authorization")
        header = values[0] if len(values) == 1 else None
        if len(values) > 1:
            raise ApiError(400, "invalid_request", "send one Authorization header")
        if header and header[:6].lower() == "basic ":
            header = f"Bearer {basic_password(header)}"
        try:
            consumer = service.authenticate(header)
        except ApiError as exc:
            if exc.status == 401:
                exc.headers = [*exc.headers, (b"www-authenticate", b'Basic realm="c360", charset="UTF-8"')]
            raise
        consumer_spec = spec.model.consumers.get(consumer)
        if consumer_spec is None or "owner" not in consumer_spec.rights:
            raise ApiError(403, "forbidden", f"{what} is shown to the product's owners only")
        return consumer

    metrics_token = os.environ.get("C360_METRICS_TOKEN") or None

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        """The product's page: owner, version history, fields with lineage, access, SLAs."""
        owner_only(request, "the product's page")
        from c360.governance.contracts import approved_plans, changelog
        from c360.governance.docs import Site, VersionEntry, render

        approved = approved_plans(store)
        history = [
            VersionEntry(v.version, v.applied_at, v.applied_by, plan, approved.get(v.version))
            for v, plan in changelog(store)
        ]
        served = {c: s.model for c, s in state.snapshot.specs.items()}  # pinned consumers' shapes
        page = render(
            Site(spec.model, history, service.compliance() if state.snapshot.version else None, served=served)
        )
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/healthz", summary="Liveness", operation_id="getHealth", responses={200: _ok({"type": "object"})})
    def healthz() -> Response:
        return Response(orjson.dumps({"status": "ok", "version": __version__}), media_type=JSON)

    @app.get(
        "/readyz",
        summary="Readiness: a snapshot is loaded",
        operation_id="getReadiness",
        responses={200: _ok({"type": "object"}), 503: _err("No snapshot yet")},
    )
    def readyz() -> Response:
        snap = state.snapshot
        problem = state.unready()  # a refused serving file (the previous snapshot is still served), Redis down
        if problem is not None:
            return _response(Reply.error(ApiError(503, "not_ready", problem, snap.raw_headers)))
        if snap.version == 0:
            return _response(
                Reply.error(ApiError(503, "not_ready", "no snapshot has been published yet; run `c360 build`"))
            )
        body = {"status": "ready", "snapshot": snap.version, "as_of": snap.as_of, "customers": snap.customers}
        return Response(orjson.dumps(body), media_type=JSON, headers=snap.headers)

    @app.get(
        "/metrics",
        summary="Prometheus metrics (for C360_METRICS_TOKEN or an owner)",
        operation_id="getMetrics",
        responses={
            **COMMON,
            200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        },
    )
    def prometheus(request: Request) -> Response:
        """Per-consumer traffic: for a scraper holding ``C360_METRICS_TOKEN``, or an owner."""
        sent = request.headers.get("authorization", "")
        if not (
            metrics_token
            and len(request.headers.getlist("authorization")) == 1
            and hmac.compare_digest(sent.encode(), f"Bearer {metrics_token}".encode())
        ):
            owner_only(request, "metrics")
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(erasures_router)
    mount_web(app)  # the web app under /app, offline /docs and /redoc, the bearer scheme in /openapi.json
    app.openapi = truthful_openapi(app.openapi)  # type: ignore[method-assign]

    app.add_middleware(FastPath, service=service)
    return app


def _response(reply: Reply) -> Response:
    headers = {k.decode(): v.decode() for k, v in reply.headers if k != b"content-type"}
    media = next((v.decode() for k, v in reply.headers if k == b"content-type"), None)
    return Response(
        reply.body if reply.status != 304 else None, status_code=reply.status, headers=headers, media_type=media
    )


_PREFIX = "/v1/customers/"
_FAST_ROUTE = "/v1/customers/{customer_id}"
_ACCESS = logging.getLogger("c360.access")
_PROBES = frozenset({"/healthz", "/readyz"})


class FastPath:
    """Raw ASGI in front of the app: the materialised single-customer read, and request metrics.

    It answers ``GET /v1/customers/{id}`` without a query string for consumers whose
    delivery is materialised; everything else goes on to FastAPI. The answer is a dict hit
    (``C360_SERVING=memory``) or one LMDB get in this thread's read transaction on the shared
    serving file (``file``), or one field of an ``HMGET`` sent with the loop turn's other
    reads (``redis``): bytes as stored, never a decode.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        if (
            scope["method"] == "GET"
            and path.startswith(_PREFIX)
            and not scope["query_string"]
            and "/" not in path[len(_PREFIX) :]
        ):
            reply = self._get(scope)
            if isinstance(reply, Awaitable):
                reply = await reply
            if reply is not None:
                consumer, mode, route = scope.get("c360.labels", ("unknown", "materialised", "get"))
                extra = self.service.lifecycle.get(consumer)
                await send(
                    {
                        "type": "http.response.start",
                        "status": reply.status,
                        "headers": [*reply.headers, *extra] if extra else reply.headers,
                    }
                )
                await send({"type": "http.response.body", "body": reply.body})
                self._observe(consumer, mode, route, reply.status, time.perf_counter() - started)
                return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                labels = scope.get("c360.labels")
                extra = self.service.lifecycle.get(labels[0]) if labels else None
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            labels = scope.get("c360.labels")
            if labels is not None:
                consumer, mode, route = labels
                self._observe(consumer, mode, route, status, time.perf_counter() - started, scope)
            else:
                if status >= 400:
                    self.service.metrics.observe("unknown", "-", "other", status, time.perf_counter() - started)
                if _ACCESS.isEnabledFor(logging.INFO):
                    self._access("-", "-", status, time.perf_counter() - started, scope)

    def _observe(
        self, consumer: str, mode: str, route: str, status: int, seconds: float, scope: Scope | None = None
    ) -> None:
        self.service.metrics.observe(consumer, mode, route, status, seconds)
        if status < 400:
            # Subscriptions' latency SLAs are judged on answered reads.
            self.service.latency.observe(consumer, seconds)
        if _ACCESS.isEnabledFor(logging.INFO):
            self._access(consumer, mode, status, seconds, scope)

    def _access(self, consumer: str, mode: str, status: int, seconds: float, scope: Scope | None) -> None:
        """The access line: the route's template (never the raw path or query), no credential."""
        found = scope.get("route") if scope is not None else None
        template = getattr(found, "path", None) if found is not None else None
        if template is None:
            template = _FAST_ROUTE if scope is None else "-"
        # Probes (every few seconds from the kubelet) are logged at DEBUG only.
        level = logging.DEBUG if template in _PROBES else logging.INFO
        if _ACCESS.isEnabledFor(level):
            emit_log(
                _ACCESS,
                level,
                "request",
                {
                    "consumer": consumer,
                    "method": scope["method"] if scope is not None else "GET",
                    "route": template,
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                    "mode": mode,
                    "snapshot": self.service.state.snapshot.version,
                },
            )

    def _get(self, scope: Scope) -> Reply | Awaitable[Reply] | None:
        inm = None
        authorizations = []
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorizations.append(v.decode("latin-1"))
            elif k == b"if-none-match":
                inm = v
        service = self.service
        customer_id = scope["path"][len(_PREFIX) :]
        try:
            consumer = service.authenticate(one_authorization(authorizations))
            if service.default_mode(consumer) == "live":
                # Live reads block on sources: FastAPI runs them in its thread pool. The consumer
                # was already counted against its rate limit, so hand over without a second count.
                scope["c360.consumer"] = consumer
                return None
            scope["c360.labels"] = (service.label(consumer), "materialised", "get")
            policy = service.authorize(consumer)
            snap = service.state.snapshot
            view = snap.views.get(consumer)
            if isinstance(view, RedisView) and ID.match(customer_id):
                # Redis is read without blocking the loop, together with the turn's other reads.
                return self._fetched(consumer, policy, customer_id, inm, snap, view)
            return service.get(consumer, policy, customer_id, "materialised", inm)
        except ApiError as exc:
            return Reply.error(exc)

    async def _fetched(
        self, consumer: str, policy: Any, customer_id: str, inm: bytes | None, snap: Snapshot, view: RedisView
    ) -> Reply:
        try:
            body = await view.fetch(customer_id)
            return self.service.get(consumer, policy, customer_id, "materialised", inm, (snap, body))
        except ApiError as exc:
            return Reply.error(exc)
