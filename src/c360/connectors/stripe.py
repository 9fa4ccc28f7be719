"""Stripe through the official SDK: customers, subscriptions, invoices, charges, refunds, disputes.

``stripe.StripeClient`` is pointed at ``base_url`` (``base_addresses={"api": ...}``)
with the SDK's own retries off: this module retries rate limits (honouring
``Retry-After``), 5xx and connection errors itself, so every source shares one policy.

Lists come newest first, paged with ``limit``/``starting_after``/``has_more``. The
cursor is JSON: the newest ``created`` read (and the ids read at that second, so a
``created[gte]`` re-query skips them) plus the same watermark for the Events API.
An incremental read lists objects created since the cursor, then the events
``{object}.updated`` and ``{object}.deleted`` since the last event seen: updates
carry the object's new state, deletions arrive as tombstones.

A newest-first listing is only complete at its end, so until then each batch's cursor
also records the listing's progress: the ``starting_after`` id of the last page read and
the newest ``created`` seen so far. A read interrupted midway (the first full read of a
large account, say) resumes from the page after the last one committed, rather than from
zero; the watermark moves only once the listing ends. Event listings still save their
cursor at the end only: they apply the newest event per object first, and resuming one
midway would let an older event overwrite a newer state already applied.

Subscriptions carry every item with its price: a subscription lists its first items only
(``items.has_more``), so the rest are read from ``/v1/subscription_items``. A full read
starts at ``start_date`` (``created[gte]``) when set.

Stripe keeps events for 30 days. The cursor records when the events were last listed; a
cursor older than that (less an hour's margin) cannot follow every change, so the read
starts over from ``start_date`` and reports a ``events_expired`` notice with the sync
(objects deleted meanwhile are only dropped by a full sync, ``c360 sync --full``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import SecretStr, model_validator

from c360.connectors.base import (
    DEFAULT_BATCH_SIZE,
    Batch,
    Column,
    ConnectorOptions,
    Notice,
    Quarantined,
    Record,
    StreamInfo,
    record_key,
)
from c360.connectors.http import SERVER_FAILING, UNREACHABLE, parse_retry_after, start_epoch
from c360.connectors.oauth import read_secret
from c360.core.errors import MissingDependency, TerminalSourceError, TransientSourceError
from c360.core.retry import Backoff, RetryableSourceError, retry

T = TypeVar("T")

# stream -> (the event types that carry its changes, documented top-level fields)
_STREAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "customers": (
        ("customer.updated", "customer.deleted"),
        (
            "id",
            "object",
            "created",
            "email",
            "name",
            "phone",
            "address",
            "currency",
            "delinquent",
            "description",
            "metadata",
            "livemode",
            "deleted",
        ),
    ),
    "subscriptions": (
        ("customer.subscription.updated", "customer.subscription.deleted"),
        (
            "id",
            "object",
            "created",
            "customer",
            "status",
            "currency",
            "items",
            "metadata",
            "current_period_start",
            "current_period_end",
            "cancel_at",
            "canceled_at",
            "ended_at",
        ),
    ),
    "invoices": (
        ("invoice.updated", "invoice.deleted"),
        (
            "id",
            "object",
            "created",
            "customer",
            "customer_email",
            "status",
            "currency",
            "amount_due",
            "amount_paid",
            "amount_remaining",
            "total",
            "subscription",
            "metadata",
        ),
    ),
    "charges": (
        ("charge.updated", "charge.captured", "charge.refunded"),
        (
            "id",
            "object",
            "created",
            "customer",
            "amount",
            "amount_captured",
            "amount_refunded",
            "currency",
            "status",
            "paid",
            "refunded",
            "billing_details",
            "invoice",
            "metadata",
        ),
    ),
    "refunds": (
        ("refund.updated", "charge.refund.updated"),
        ("id", "object", "created", "amount", "currency", "charge", "payment_intent", "reason", "status", "metadata"),
    ),
    "disputes": (
        (
            "charge.dispute.updated",
            "charge.dispute.closed",
            "charge.dispute.funds_withdrawn",
            "charge.dispute.funds_reinstated",
        ),
        (
            "id",
            "object",
            "created",
            "amount",
            "currency",
            "charge",
            "payment_intent",
            "reason",
            "status",
            "is_charge_refundable",
            "evidence_details",
            "metadata",
        ),
    ),
}
_EVENTS_KEPT = 30 * 86_400.0  # Stripe keeps events this long
_MARGIN = 3_600.0  # ... and a cursor this close to the edge is already too old
_PAGE_LIMIT = 100
_RATE_LIMITED = (
    "Stripe's rate limit for this account is used up: lower concurrency (fewer syncs or "
    "other clients using this key at once), wait a minute, then sync again"
)


class StripeOptions(ConnectorOptions):
    api_key: SecretStr | None = None  # a secret (sk_...) or restricted read key (rk_...)
    api_key_file: str | None = None
    base_url: str = "https://api.stripe.com"
    use_events: bool = True  # follow updates and deletions through the Events API
    start_date: dt.datetime | dt.date | None = None  # a full read lists objects created since
    timeout: float = 80.0
    max_retries: int = 5

    @model_validator(mode="after")
    def _one_key(self) -> StripeOptions:
        if (self.api_key is None) == (self.api_key_file is None):
            raise ValueError("set 'api_key' or 'api_key_file' (one of them)")
        return self


class StripeConnector:
    """Stripe objects, incremental by ``created`` plus the Events API for changes."""

    name: ClassVar[str] = "stripe"
    Options: ClassVar[type[ConnectorOptions]] = StripeOptions

    def __init__(
        self,
        options: ConnectorOptions,
        *,
        base_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        assert isinstance(options, StripeOptions)
        self.options = options
        self._sleep, self._backoff, self._max_wait = sleep, backoff, max_wait
        self._clock = clock
        key = read_secret("stripe", options.api_key, options.api_key_file, option="api_key", base_dir=base_dir)
        assert key is not None
        self._key = key
        try:
            import stripe
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise MissingDependency("stripe", "stripe") from None
        self._stripe = stripe
        self.client = stripe.StripeClient(
            key.get_secret_value(),
            base_addresses={"api": options.base_url.rstrip("/")},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=options.timeout),
        )

    def check(self) -> None:
        self._call("GET /v1/customers", lambda: self.client.v1.customers.list(params={"limit": 1}))

    def __repr__(self) -> str:
        return f"StripeConnector(base_url={self.options.base_url!r})"

    def discover(self) -> list[StreamInfo]:
        return [
            StreamInfo(name, tuple(Column(c, "any") for c in cols), key="id", cursor_field="created")
            for name, (_, cols) in _STREAMS.items()
        ]

    def read(
        self, stream: str, *, key: str, since: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Iterator[Batch]:
        types = _types(stream)
        limit = max(1, min(batch_size, _PAGE_LIMIT))
        state = _State.load(since)
        notices: list[Notice] = []
        now = self._clock()
        if since is not None and self.options.use_events:
            checked = (
                state.checked
                if state.checked is not None
                else (state.events.ts if state.events.ts is not None else state.created.ts)
            )
            if checked is None or now - checked > _EVENTS_KEPT - _MARGIN:
                notices.append(_expired(stream, checked, now))
                since, state = None, _State.load(None)
        if since is None and self.options.use_events:
            # Changes made from now on are picked up from the events by the next read.
            state.checked = now
            newest = self._list("events", {"limit": 1, "types": list(types)})
            if newest.data:
                state.events.advance(int(newest.data[0]["created"]), str(newest.data[0]["id"]))
        params: dict[str, Any] = {"limit": limit}
        if stream == "subscriptions":
            params["status"] = "all"  # the default lists only live subscriptions
        for batch in self._objects(stream, key, params, state):
            batch.notices, notices = notices + batch.notices, []
            yield batch
        if since is not None and self.options.use_events:
            yield from self._events(stream, types, key, limit, state, now)

    def lookup(self, stream: str, *, key: str, keys: Sequence[str]) -> list[Record]:
        _types(stream)
        if key != "id":
            raise TerminalSourceError(
                "stripe", f"lookup on {stream} needs key 'id' (got '{key}'): Stripe retrieves by id"
            )
        service = getattr(self.client.v1, stream)
        out: list[Record] = []
        for k in keys:
            try:
                obj = self._retrieve(stream, service, str(k))
            except TerminalSourceError as exc:
                if "resource_missing" in str(exc) or "No such" in str(exc):
                    continue
                raise
            data = _plain(obj)
            if isinstance(data, dict) and record_key(data, key) is not None:
                if stream == "subscriptions":
                    self._all_items(data)
                out.append(Record(str(data[key]), data, bool(data.get("deleted"))))
        return out

    def close(self) -> None:
        return None

    # -- reading ----------------------------------------------------------------
    def _objects(self, stream: str, key: str, params: dict[str, Any], state: _State) -> Iterator[Batch]:
        """Objects created since the watermark, newest first; every page's cursor saves progress."""
        mark = state.created
        start = start_epoch(self.options.start_date)
        if mark.ts is not None:
            params["created"] = {"gte": mark.ts}
        elif start is not None:
            params["created"] = {"gte": int(start)}
        newest = state.newest if state.after is not None else _Mark(None, [])
        page = 0
        while True:
            page += 1
            listing = self._list_from(stream, params, state.after if page == 1 else None)
            records: list[Record] = []
            bad: list[Quarantined] = []
            last_id: str | None = None
            for i, item in enumerate(listing.data):
                data = _plain(item)
                where = f"GET /v1/{stream} page {page} item {i}"
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    last_id = data["id"]
                rec = _record(data, key, where, bad)
                if rec is None:
                    continue
                created = data.get("created")
                if not isinstance(created, int):
                    bad.append(
                        Quarantined(
                            where, "'created' is missing or not a Unix time", json.dumps(data, default=str)[:1000]
                        )
                    )
                    continue
                if mark.has(created, rec.key):
                    continue
                newest.advance(created, rec.key)
                if stream == "subscriptions":
                    self._all_items(data)
                records.append(rec)
            more = bool(listing.has_more) and last_id is not None
            if not more:
                state.created = newest if newest.ts is not None else mark
                state.after, state.newest = None, _Mark(None, [])
                yield Batch(records, state.dump(), bad)
                return
            state.after, state.newest = last_id, newest
            yield Batch(records, state.dump(), bad)
            params["starting_after"] = last_id

    def _list_from(self, stream: str, params: dict[str, Any], after: str | None) -> Any:
        """The first page of a listing, or the page after ``after`` when resuming one.

        The object a saved ``starting_after`` names may have been deleted since: Stripe then
        answers ``resource_missing``, and the listing starts over (staging keeps what it read).
        """
        if after is None:
            return self._list(stream, params)
        try:
            return self._list(stream, {**params, "starting_after": after})
        except TerminalSourceError as exc:
            if "resource_missing" not in str(exc):
                raise
            params.pop("starting_after", None)
            return self._list(stream, params)

    def _all_items(self, subscription: dict[str, Any]) -> None:
        """Complete a subscription's ``items`` (a list that holds only the first ones)."""
        items = subscription.get("items")
        if not (isinstance(items, dict) and items.get("has_more")):
            return
        data = list(items.get("data") or [])
        params: dict[str, Any] = {"subscription": subscription["id"], "limit": _PAGE_LIMIT}
        while True:
            page = self._list("subscription_items", params)
            rows = [_plain(i) for i in page.data]
            data += rows
            if not page.has_more or not rows:
                break
            params["starting_after"] = rows[-1]["id"]
        by_id: dict[Any, Any] = {}
        for item in data:
            by_id.setdefault(item.get("id"), item)
        items["data"] = list(by_id.values())
        items["has_more"] = False

    def _events(
        self, stream: str, types: tuple[str, ...], key: str, limit: int, state: _State, now: float
    ) -> Iterator[Batch]:
        mark = state.events if state.events.ts is not None else state.created
        params: dict[str, Any] = {"limit": limit, "types": list(types)}
        if mark.ts is not None:
            params["created"] = {"gte": mark.ts}
        before = state.dump()
        newest = _Mark(None, [])
        done: set[str] = set()  # newest first: the first event per object wins
        page = 0
        while True:
            page += 1
            listing = self._list("events", params)
            records: list[Record] = []
            bad: list[Quarantined] = []
            last_id: str | None = None
            for i, item in enumerate(listing.data):
                event = _plain(item)
                where = f"GET /v1/events page {page} item {i}"
                if not isinstance(event, dict) or not isinstance(event.get("id"), str):
                    bad.append(Quarantined(where, "event without an id", json.dumps(event, default=str)[:1000]))
                    continue
                last_id = event["id"]
                created = event.get("created")
                if not isinstance(created, int) or mark.has(created, last_id):
                    continue
                newest.advance(created, last_id)
                obj = (event.get("data") or {}).get("object")
                rec = _record(obj, key, where, bad)
                if rec is None or rec.key in done:
                    continue
                done.add(rec.key)
                rec.deleted = rec.deleted or str(event.get("type", "")).endswith(".deleted")
                if stream == "subscriptions" and not rec.deleted:
                    self._all_items(rec.data)
                records.append(rec)
            if not (listing.has_more and last_id):
                if newest.ts is not None:
                    state.events = newest
                state.checked = now
                yield Batch(records, state.dump(), bad)
                return
            yield Batch(records, before, bad)
            params["starting_after"] = last_id

    # -- SDK calls --------------------------------------------------------------
    def _retrieve(self, stream: str, service: Any, ident: str) -> Any:
        return self._call(f"GET /v1/{stream}/{ident}", lambda: service.retrieve(ident))

    def _list(self, service: str, params: dict[str, Any]) -> Any:
        svc = getattr(self.client.v1, service)
        return self._call(f"GET /v1/{service}", lambda: svc.list(params=dict(params)))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        def once() -> T:
            try:
                return fn()
            except self._stripe.StripeError as exc:
                raise self._translate(what, exc) from exc

        return retry(once, Backoff(self.options.max_retries, self._backoff, self._max_wait), sleep=self._sleep)

    def _translate(self, what: str, exc: Exception) -> TransientSourceError | TerminalSourceError:
        s = self._stripe
        status = getattr(exc, "http_status", None)
        body = getattr(exc, "json_body", None)
        err = body.get("error") if isinstance(body, dict) else None
        detail = ""
        if isinstance(err, dict):
            detail = f"{err.get('type') or ''} {err.get('code') or ''}: {err.get('message') or ''}"
        elif not isinstance(exc, s.APIConnectionError):
            detail = str(getattr(exc, "user_message", None) or "")[:200]
        detail = " ".join(detail.split()).replace(self._key.get_secret_value(), "***")
        where = f"{what} answered {status}" if status else what
        text = f"{where} ({detail})" if detail else where
        if isinstance(exc, s.RateLimitError):
            headers = getattr(exc, "headers", None) or {}
            retry = headers.get("Retry-After") or headers.get("retry-after")
            return RetryableSourceError("stripe", text, next_step=_RATE_LIMITED, retry_after=parse_retry_after(retry))
        if isinstance(exc, s.APIConnectionError):
            return RetryableSourceError(
                "stripe", f"{what}: could not reach {self.options.base_url}", next_step=UNREACHABLE
            )
        if isinstance(exc, s.AuthenticationError):
            return TerminalSourceError(
                "stripe",
                f"{text}: the API key was rejected; check api_key (a secret key sk_... "
                "or a restricted key rk_... with read access, from the right account and mode)",
            )
        if isinstance(exc, s.PermissionError):
            return TerminalSourceError("stripe", f"{text}: the restricted key may not read this; grant it read access")
        if (status is not None and status >= 500) or (isinstance(exc, s.APIError) and status is None):
            return RetryableSourceError("stripe", text, next_step=SERVER_FAILING)
        return TerminalSourceError("stripe", text)


class _Mark:
    """A ``created`` watermark and the ids already read at exactly that second."""

    def __init__(self, ts: int | None, ids: list[str]) -> None:
        self.ts, self.ids = ts, ids

    def has(self, ts: int, ident: str) -> bool:
        return self.ts is not None and (ts < self.ts or (ts == self.ts and ident in self.ids))

    def advance(self, ts: int, ident: str) -> None:
        if self.ts is None or ts > self.ts:
            self.ts, self.ids = ts, [ident]
        elif ts == self.ts and ident not in self.ids:
            self.ids.append(ident)


class _State:
    """The cursor: ``created`` and event watermarks, and an object listing's progress, if any.

    ``after`` is the id of the last object of the last page read by a listing still under
    way, ``newest`` the newest ``created`` (and ids) it has met so far.
    """

    def __init__(
        self,
        created: _Mark,
        events: _Mark,
        after: str | None = None,
        newest: _Mark | None = None,
        checked: float | None = None,
    ) -> None:
        self.created, self.events = created, events
        self.after, self.newest = after, newest or _Mark(None, [])
        self.checked = checked  # when the events were last listed (Unix seconds)

    @classmethod
    def load(cls, since: str | None) -> _State:
        if not since:
            return cls(_Mark(None, []), _Mark(None, []))
        try:
            raw = json.loads(since)
            after = raw.get("after")
            checked = raw.get("checked")
            return cls(
                _Mark(raw["created"], list(raw.get("created_ids", []))),
                _Mark(raw.get("events"), list(raw.get("event_ids", []))),
                str(after) if after is not None else None,
                _Mark(raw.get("newest"), list(raw.get("newest_ids", []))),
                float(checked) if checked is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TerminalSourceError(
                "stripe", f"cannot resume from cursor {since[:80]!r}: not a Stripe cursor"
            ) from None

    def dump(self) -> str:
        out: dict[str, Any] = {
            "created": self.created.ts,
            "created_ids": self.created.ids,
            "events": self.events.ts,
            "event_ids": self.events.ids,
        }
        if self.checked is not None:
            out["checked"] = int(self.checked)
        if self.after is not None:
            out.update(after=self.after, newest=self.newest.ts, newest_ids=self.newest.ids)
        return json.dumps(out)


def _types(stream: str) -> tuple[str, ...]:
    try:
        return _STREAMS[stream][0]
    except KeyError:
        raise TerminalSourceError(
            "stripe", f"unknown stream '{stream}' (known: {', '.join(sorted(_STREAMS))})"
        ) from None


def _expired(stream: str, checked: float | None, now: float) -> Notice:
    when = (
        "never"
        if checked is None
        else f"{(now - checked) / 86_400:.0f} days ago ({dt.datetime.fromtimestamp(checked, dt.UTC):%Y-%m-%d})"
    )
    return Notice(
        "events_expired",
        (
            f"stripe {stream}: the cursor last followed Stripe's events {when}, and Stripe keeps "
            "them for 30 days, so changes in between cannot all be seen: reading every object "
            "again (objects deleted meanwhile are only dropped by 'c360 sync --full')"
        ),
    )


def _plain(obj: Any) -> Any:
    """The SDK's StripeObject as the API's own JSON (nested dicts and lists)."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def _record(data: Any, key: str, where: str, bad: list[Quarantined]) -> Record | None:
    if not isinstance(data, dict):
        bad.append(Quarantined(where, "not a JSON object", json.dumps(data, default=str)[:1000]))
        return None
    k = record_key(data, key)
    if k is None:
        bad.append(Quarantined(where, f"missing key '{key}'", json.dumps(data, default=str)[:1000]))
        return None
    return Record(k, data, bool(data.get("deleted")))
