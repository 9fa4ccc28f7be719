"""What every endpoint does, once: authenticate, limit, project, answer; shared by both HTTP paths.

Side channels are closed here. A customer a consumer may not see (a row filter hides
it) and a customer that does not exist get the same 404, from the same dict miss. A
lookup or filter by a field the consumer is not granted in the clear is refused with a
403 that depends only on the consumer's policy, never on whether a customer matches.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from c360.api.auth import Authenticator, AuthFailed, JwtVerifier
from c360.api.limits import RateLimiter
from c360.api.metrics import Metrics
from c360.api.state import JSON, ServerState, Snapshot, email_fields
from c360.core.clock import iso
from c360.engine.columns import ValueProblem, parse_timestamp
from c360.governance.access import ConsumerPolicy
from c360.governance.lineage import schema
from c360.governance.policy import lookup_sources
from c360.governance.sla import (
    LatencyRecorder,
    PurposeDrift,
    SubscriptionStatus,
    evaluate,
    lifecycle_headers,
    pinned_major,
    sunset_error,
)
from c360.pipeline.live import LiveReader
from c360.spec.models import ProductSpec
from c360.store import lookups

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_BATCH = 500
Headers = list[tuple[bytes, bytes]]


class ApiError(Exception):
    """An answer other than 200, with a stable ``code``."""

    def __init__(self, status: int, code: str, message: str, headers: Headers | None = None) -> None:
        self.status, self.code, self.message, self.headers = status, code, message, headers or []
        super().__init__(message)


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Headers
    body: bytes

    @classmethod
    def error(cls, exc: ApiError) -> Reply:
        return cls(exc.status, [(b"content-type", JSON), *exc.headers], error_body(exc.code, exc.message))


# Reading by id is looking up by customer_id: only for consumers that see it in the clear.
def _by_id() -> ApiError:
    return ApiError(
        403,
        "forbidden",
        "this consumer is not granted customer_id in the clear, so it cannot read, page or batch customers by id",
    )


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=10).hexdigest().encode() + b'"'


def _matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    return if_none_match.strip() == b"*" or etag in {t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")}


class Service:
    """One server process's answers. Cheap per request: dict hits on pre-built state."""

    def __init__(
        self,
        state: ServerState,
        *,
        jwt: JwtVerifier | None,
        limiter: RateLimiter,
        metrics: Metrics,
        auditor: Any,
        live: LiveReader | None = None,
    ) -> None:
        self.state = state
        self.spec = state.spec
        self.jwt = jwt
        self.limiter = limiter
        self.metrics = metrics
        self.auditor = auditor
        self._live = live
        self._emails = email_fields(self.spec.model)
        self._lookup_sources = {c: self._sources_for(p) for c, p in state.policies.items()}
        self._pinned_lookups: dict[tuple[str, str], tuple[frozenset[str], frozenset[str]]] = {}
        self._lives: dict[str, LiveReader] = {}
        self._default_live = {c for c, spec in self.spec.model.consumers.items() if spec.delivery == "live"}
        # Subscriptions' SLAs, measured where the reads happen.
        product = self.spec.model
        self.latency = LatencyRecorder()
        self.drift = PurposeDrift(product)
        self.pinned = {c for c in product.consumers if pinned_major(product, c) is not None}
        self.lifecycle = {
            c: [(k.lower().encode(), v.encode()) for k, v in lifecycle_headers(product, c).items()] for c in self.pinned
        }

    # -- who, and may it --------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> str:
        """The calling consumer; 401, or 429 when it is over its rate limit."""
        try:
            consumer = Authenticator(self.state.keys, self.jwt).consumer(authorization)
        except AuthFailed as exc:
            challenge = f'Bearer error="{exc.error}"' if exc.error else "Bearer"
            raise ApiError(401, "unauthenticated", exc.message, [(b"www-authenticate", challenge.encode())]) from None
        wait = self.limiter.retry_after(consumer)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"consumer '{consumer}' is over its rate limit; retry after {wait}s",
                [(b"retry-after", str(wait).encode())],
            )
        return consumer

    def authorize(self, consumer: str) -> ConsumerPolicy:
        """The consumer's policy; 403 when it is granted nothing (deny by default)."""
        policy = self.state.policy(consumer)
        if policy.denied:
            raise ApiError(403, "forbidden", f"consumer '{consumer}' is granted no fields")
        if consumer in self.pinned:
            gone = sunset_error(self.spec.model, consumer)
            if gone is not None:
                raise ApiError(410, "sunset", gone)
            why = self.state.snapshot.unavailable.get(consumer)
            if why is not None:
                raise ApiError(503, "major_unavailable", why)
        return policy

    def subscriptions(self, consumer: str) -> Reply:
        """Every subscription with its live SLA compliance; for consumers with the owner right."""
        spec = self.spec.model.consumers.get(consumer)
        if spec is None or "owner" not in spec.rights:
            raise ApiError(403, "forbidden", "subscriptions are shown to the product's owners only")
        body = orjson.dumps(
            {
                "product": self.spec.model.product,
                "version": self.spec.model.version,
                "subscriptions": [s.as_dict() for s in self.compliance()],
            }
        )
        return Reply(200, [(b"content-type", JSON), *self.state.snapshot.raw_headers], body)

    def compliance(self) -> list[SubscriptionStatus]:
        snap = self.state.snapshot
        built = dt.datetime.fromtimestamp(snap.built_ts, dt.UTC) if snap.version else None
        return evaluate(self.spec.model, self.state.store, built_at=built, latency=self.latency, drift=self.drift)

    def label(self, consumer: str) -> str:
        return consumer if consumer in self.state.policies else "unknown"

    @property
    def live(self) -> LiveReader:
        if self._live is None:
            self._live = LiveReader(self.spec, self.state.store)
        return self._live

    def live_for(self, consumer: str) -> LiveReader:
        """The live reader of the shape ``consumer`` is served (its pinned major's fields)."""
        spec = self.state.spec_for(consumer)
        if spec is self.spec:
            return self.live
        reader = self._lives.get(spec.model.version)
        if reader is None:
            reader = self._lives[spec.model.version] = LiveReader(spec, self.state.store)
        return reader

    def lookups(self, consumer: str, policy: ConsumerPolicy) -> tuple[frozenset[str], frozenset[str]]:
        """(sources it may look customers up by, its email fields), in the shape it is served."""
        spec = self.state.spec_for(consumer)
        if spec is self.spec:
            return self._lookup_sources.get(consumer, frozenset()), self._emails
        key = (consumer, spec.model.version)
        if key not in self._pinned_lookups:
            self._pinned_lookups[key] = (self._sources_for(policy, spec.model), email_fields(spec.model))
        return self._pinned_lookups[key]

    def default_mode(self, consumer: str) -> str:
        return "live" if consumer in self._default_live else "materialised"

    # -- one customer -----------------------------------------------------------------
    def get(
        self,
        consumer: str,
        policy: ConsumerPolicy,
        customer_id: str,
        mode: str | None = None,
        if_none_match: bytes | None = None,
        fetched: tuple[Snapshot, bytes | None] | None = None,
    ) -> Reply:
        """One customer's answer. ``fetched``: its materialised body, already read from ``snap``."""
        if not ID.match(customer_id):
            raise ApiError(400, "invalid_id", "a customer id is 1 to 64 letters, digits, '_', '.' or '-'")
        if "customer_id" not in policy.unmasked_everywhere:
            raise _by_id()
        if (mode or self.default_mode(consumer)) == "live":
            return self.get_live(consumer, policy, customer_id, if_none_match)
        if fetched is not None:
            snap, body = fetched
        else:
            snap = self.state.snapshot
            view = snap.views.get(consumer)
            body = view.get(customer_id) if view is not None else None
        if body is None:
            raise self._missing(snap, consumer, customer_id)
        etag = _etag(body)
        self.auditor.record(consumer, customer_id, policy.fields, "materialised")
        self.drift.record(consumer, policy.fields)
        headers = [*snap.raw_headers, (b"etag", etag)]
        if _matches(if_none_match, etag):
            return Reply(304, headers, b"")
        return Reply(200, [(b"content-type", JSON), *headers], body)

    def _missing(self, snap: Snapshot, consumer: str, customer_id: str) -> ApiError:
        view = snap.views.get(consumer)
        target = snap.aliases.get(customer_id)
        seen = set()
        while target is not None and target in snap.aliases and target not in seen:
            seen.add(target)
            target = snap.aliases[target]
        # A merged id redirects only to a survivor the consumer may see; otherwise it is as
        # unknown as an id that never existed.
        if target is not None and view is not None and view.get(target) is not None:
            return ApiError(
                308,
                "moved",
                f"customer '{customer_id}' was merged into '{target}'",
                [*snap.raw_headers, (b"location", f"/v1/customers/{target}".encode())],
            )
        return ApiError(404, "not_found", f"no customer '{customer_id}'", snap.raw_headers)

    def get_live(
        self, consumer: str, policy: ConsumerPolicy, customer_id: str, if_none_match: bytes | None = None
    ) -> Reply:
        snap = self.state.snapshot
        view = snap.views.get(consumer)
        body = view.get(customer_id) if view is not None else None
        # Whether the caller may see this customer is decided first, from the published view
        # (its row filters applied), so a hidden customer and an absent one take the same path
        # and the same time: no source is read for either, and a source down cannot tell them apart.
        if body is None:
            raise self._missing(snap, consumer, customer_id)
        fields = sorted(set(policy.fields) | policy.filter_fields)
        result = self.live_for(consumer).read(customer_id, fields)
        if not result.found:
            raise ApiError(404, "not_found", f"no customer '{customer_id}'", snap.raw_headers)
        if result.down:
            names = ", ".join(f"'{n}'" for n in sorted(result.down))
            spec = self.spec.model.consumers.get(consumer)
            if spec is not None and spec.allow_stale:
                self.auditor.record(consumer, customer_id, policy.fields, "stale")
                headers = [
                    *snap.raw_headers,
                    (b"x-c360-stale", b"true"),
                    (b"x-c360-unavailable-sources", ",".join(sorted(result.down)).encode()),
                    (b"etag", _etag(body)),
                ]
                return Reply(200, [(b"content-type", JSON), *headers], body)
            extra: Headers = []
            if result.retry_after:
                extra.append((b"retry-after", str(max(1, round(result.retry_after))).encode()))
            raise ApiError(
                503, "source_unavailable", f"live read failed: source {names} is unavailable; retry later", extra
            )
        record = {"customer_id": customer_id, **result.record}
        acc = policy.access(record)
        if acc is None:
            raise ApiError(404, "not_found", f"no customer '{customer_id}'", snap.raw_headers)
        body = orjson.dumps(acc.apply(record, self.state.mask_key))
        etag = _etag(body)
        self.auditor.record(consumer, customer_id, acc.fields, "live")
        headers = [
            (b"x-c360-snapshot", str(snap.version).encode()),
            (b"x-c360-mode", b"live"),
            (b"x-c360-read-at", iso(result.read_at).encode()),
            (b"x-c360-live-sources", ",".join(result.sources).encode()),
            (b"etag", etag),
        ]
        if _matches(if_none_match, etag):
            return Reply(304, headers, b"")
        return Reply(200, [(b"content-type", JSON), *headers], body)

    # -- many customers ---------------------------------------------------------------
    def batch(self, consumer: str, policy: ConsumerPolicy, ids: Sequence[str]) -> Reply:
        if "customer_id" not in policy.unmasked_everywhere:
            raise _by_id()
        if len(ids) > MAX_BATCH:
            raise ApiError(400, "batch_too_large", f"at most {MAX_BATCH} ids per call (got {len(ids)})")
        for i, cid in enumerate(ids):
            if not isinstance(cid, str) or not ID.match(cid):
                raise ApiError(400, "invalid_id", f"ids[{i}] is not a customer id")
        snap = self.state.snapshot
        view = snap.views.get(consumer)
        found, missing, read = [], [], []
        bodies = view.get_many(ids) if view is not None else [None] * len(ids)
        for cid, body in zip(ids, bodies, strict=True):
            if body is None:
                missing.append(cid)
            else:
                found.append(body)
                read.append(cid)
        self.auditor.record_many(consumer, read, policy.fields, "materialised")
        out = b'{"items":[' + b",".join(found) + b'],"not_found":' + orjson.dumps(missing) + b"}"
        return Reply(200, [(b"content-type", JSON), *snap.raw_headers], out)

    def page(
        self, consumer: str, policy: ConsumerPolicy, limit: int, cursor: str | None, changed_since: str | None
    ) -> Reply:
        if "customer_id" not in policy.unmasked_everywhere:
            raise _by_id()
        since = None
        if changed_since is not None:
            try:
                since = parse_timestamp(changed_since).timestamp()
            except ValueProblem:
                raise ApiError(400, "invalid_request", "changed_since: expected an ISO-8601 time") from None
        snap = self.state.snapshot
        view = snap.views.get(consumer)
        after = _decode_cursor(cursor) if cursor else None
        # Keyset paging on the sorted ids: a page boundary survives a new snapshot being published.
        picked: list[str] = []
        bodies: list[bytes] = []
        more = False
        if view is not None:
            for cid in view.after(after):
                if len(picked) == limit:
                    more = True
                    break
                if since is None or view.changed_at(snap, cid) > since:
                    body = view.get(cid)
                    if body is not None:
                        picked.append(cid)
                        bodies.append(body)
        self.auditor.record_many(consumer, picked, policy.fields, "materialised")
        next_cursor = _encode_cursor(picked[-1]) if more else None
        head = {"snapshot": snap.version, "as_of": snap.as_of, "built_at": snap.built_at, "next_cursor": next_cursor}
        body = b'{"items":[' + b",".join(bodies) + b"]," + orjson.dumps(head)[1:]
        return Reply(200, [(b"content-type", JSON), *snap.raw_headers], body)

    # -- lookups ----------------------------------------------------------------------
    def _sources_for(self, policy: ConsumerPolicy, product: ProductSpec | None = None) -> frozenset[str]:
        """Sources whose keys this consumer may look customers up by (see :func:`lookup_sources`)."""
        return lookup_sources(product or self.spec.model, policy.compiled)

    def lookup(
        self, consumer: str, policy: ConsumerPolicy, source: str | None, key: str | None, email: str | None
    ) -> Reply:
        snap = self.state.snapshot
        view = snap.views.get(consumer)
        by_source, emails = self.lookups(consumer, policy)
        if email is not None and source is None and key is None:
            if not (emails & policy.unmasked_somewhere):
                raise ApiError(
                    403,
                    "forbidden",
                    "this consumer may not look customers up by email: it is granted no email field in the clear",
                )
            ids = list(view.emails_of(email.strip().lower())) if view is not None else []
        elif source is not None and key is not None and email is None:
            if source not in self.state.spec_for(consumer).model.sources:
                raise ApiError(400, "invalid_request", f"unknown source '{source}'")
            if source not in by_source:
                raise ApiError(
                    403,
                    "forbidden",
                    f"this consumer may not look customers up by "
                    f"'{source}' keys: it is granted no field from '{source}' in the clear",
                )
            hit = lookups.owner(self.state.store, source, key)
            ids = [hit] if hit is not None else []
        else:
            raise ApiError(400, "invalid_request", "look up by 'source' and 'key' together, or by 'email'")
        hits = [(c, b) for c in ids if view is not None and (b := view.get(c)) is not None]
        if not hits:
            raise ApiError(404, "not_found", "no customer matches", snap.raw_headers)
        found = [c for c, _ in hits]
        self.auditor.record_many(consumer, found, policy.fields, "materialised")
        body = b'{"items":[' + b",".join(b for _, b in hits) + b"]}"
        return Reply(200, [(b"content-type", JSON), *snap.raw_headers], body)

    # -- the caller's schema ------------------------------------------------------------
    def schema(self, consumer: str, policy: ConsumerPolicy) -> Reply:
        product = self.state.spec_for(consumer).model  # a pinned major's fields, as it is served them
        fields = schema(product, list(policy.fields))
        for f in fields:
            f["masking"] = policy.masks_of(f["name"])
        spec = self.spec.model.consumers.get(consumer)  # delivery and limits are the current spec's
        body: dict[str, Any] = {
            "product": product.product,
            "version": product.version,
            "owner": product.owner.model_dump(),
            "consumer": consumer,
            "delivery": spec.delivery if spec else "materialised",
            "allow_stale": bool(spec and spec.allow_stale),
            "rate_limit": spec.rate_limit if spec else None,
            "row_filters": [
                {"policy": name, "row_filter": row_filter} for name, row_filter in policy.compiled.row_filters
            ],
            "fields": fields,
        }
        snap = self.state.snapshot
        return Reply(200, [(b"content-type", JSON), *snap.raw_headers], orjson.dumps(body))


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
