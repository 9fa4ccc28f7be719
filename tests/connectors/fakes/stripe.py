"""A fake Stripe API: list objects with cursors, retrieve, the Events API, Stripe's errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes import ApiFake
from tests.connectors.httpfake import FakeRequest, FakeResponse

API_KEY = "sk_test_51FakeKeyForC360Tests0000abcd"
_OBJECT = {
    "customers": "customer",
    "subscriptions": "subscription",
    "invoices": "invoice",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
}
_EVENT = {"subscriptions": "customer.subscription", "disputes": "charge.dispute"}


def _error(status: int, message: str, *, type_: str = "invalid_request_error", **extra: Any) -> FakeResponse:
    return FakeResponse(status, {"error": {"message": message, "type": type_, **extra}}, {"Request-Id": "req_fake"})


@dataclass
class StripeFake(ApiFake):
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in _OBJECT})
    events: list[dict[str, Any]] = field(default_factory=list)
    api_key: str = API_KEY
    deleted: set[str] = field(default_factory=set)
    sub_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    items_shown: int = 10  # items a subscription lists inline (Stripe shows the first 10)

    def subscription(self, oid: str, created: int, prices: list[tuple[str, int]], **fields: Any) -> dict[str, Any]:
        """A subscription with one item per (price id, unit amount), listed like Stripe's."""
        items = [
            {
                "id": f"si_{oid}_{n}",
                "object": "subscription_item",
                "subscription": oid,
                "quantity": 1,
                "price": {
                    "id": price,
                    "object": "price",
                    "currency": "eur",
                    "unit_amount": amount,
                    "recurring": {"interval": "month", "interval_count": 1},
                },
            }
            for n, (price, amount) in enumerate(prices, start=1)
        ]
        self.sub_items[oid] = items
        return self.add(
            "subscriptions",
            oid,
            created,
            items={
                "object": "list",
                "data": items[: self.items_shown],
                "has_more": len(items) > self.items_shown,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={oid}",
            },
            **fields,
        )

    def add(self, stream: str, oid: str | None, created: int, **fields: Any) -> dict[str, Any]:
        item: dict[str, Any] = {
            "object": _OBJECT[stream],
            "created": created,
            "livemode": False,
            "metadata": {},
            **fields,
        }
        if oid is not None:
            item = {"id": oid, **item}
        self.objects[stream].append(item)
        return item

    def update(self, stream: str, oid: str, at: int, *, event: str = "updated", **fields: Any) -> None:
        item = next(it for it in self.objects[stream] if it.get("id") == oid)
        item.update(fields)
        self._event(f"{_EVENT.get(stream, _OBJECT[stream])}.{event}", at, item)

    def delete(self, stream: str, oid: str, at: int) -> None:
        item = next(it for it in self.objects[stream] if it.get("id") == oid)
        self.objects[stream].remove(item)
        self.deleted.add(oid)
        self._event(f"{_OBJECT[stream]}.deleted", at, item)

    def _event(self, type_: str, at: int, obj: dict[str, Any]) -> None:
        self.events.append(
            {
                "id": f"evt_{len(self.events) + 1:06d}",
                "object": "event",
                "type": type_,
                "created": at,
                "api_version": "2024-06-20",
                "data": {"object": dict(obj)},
            }
        )

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        if req.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        given = req.headers.get("authorization", "").removeprefix("Bearer ")
        return _error(401, f"Invalid API Key provided: {given[:8]}****{given[-4:]}")

    def route(self, req: FakeRequest) -> FakeResponse:
        parts = req.path.strip("/").split("/")
        if parts[0] != "v1" or len(parts) < 2:
            return _error(404, f"Unrecognized request URL (GET: {req.path}).")
        name = parts[1]
        if name == "subscription_items" and len(parts) == 2:
            items = self.sub_items.get(req.arg("subscription") or "", [])
            return self._list(req, items, "/v1/subscription_items", order=False)
        if name == "events" and len(parts) == 2:
            return self._list(req, sorted(self.events, key=_order, reverse=True), "/v1/events")
        if name not in self.objects:
            return _error(404, f"Unrecognized request URL (GET: {req.path}).")
        if len(parts) == 2:
            items = self.objects[name]
            if name == "subscriptions" and req.arg("status") != "all":
                items = [s for s in items if s.get("status") not in ("canceled", "incomplete_expired")]
            return self._list(req, sorted(items, key=_order, reverse=True), f"/v1/{name}")
        oid = parts[2]
        for item in self.objects[name]:
            if item.get("id") == oid:
                return FakeResponse(200, item)
        if oid in self.deleted and name == "customers":
            return FakeResponse(200, {"id": oid, "object": "customer", "deleted": True})
        return _error(404, f"No such {_OBJECT[name]}: '{oid}'", code="resource_missing", param="id")

    def _list(self, req: FakeRequest, items: list[dict[str, Any]], url: str, order: bool = True) -> FakeResponse:
        try:
            limit = int(req.arg("limit") or 10)
        except ValueError:
            return _error(400, "Invalid integer: limit", param="limit")
        if not 1 <= limit <= 100:
            return _error(400, "This value must be between 1 and 100.", param="limit")
        for op, test in (
            ("gt", lambda a, b: a > b),
            ("gte", lambda a, b: a >= b),
            ("lt", lambda a, b: a < b),
            ("lte", lambda a, b: a <= b),
        ):
            bound = req.arg(f"created[{op}]")
            if bound is not None and order:
                items = [it for it in items if test(it["created"], int(bound))]
        types = [v[0] for k, v in req.query.items() if re.fullmatch(r"types\[\d*\]", k)]
        if types:
            items = [it for it in items if it["type"] in types]
        after = req.arg("starting_after")
        if after is not None:
            ids = [it.get("id") for it in items]
            if after not in ids:
                return _error(400, f"No such object: '{after}'", param="starting_after", code="resource_missing")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return FakeResponse(200, {"object": "list", "data": page, "has_more": len(items) > limit, "url": url})


def _order(item: dict[str, Any]) -> tuple[int, str]:
    return item["created"], str(item.get("id") or "")
