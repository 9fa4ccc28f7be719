"""A fake Zendesk Support API: incremental exports (cursor and time based, metric sets
side-loaded), satisfaction ratings (cursor pagination), show_many, auth."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes import ApiFake
from tests.connectors.httpfake import FakeRequest, FakeResponse

EMAIL = "ops@acme.example"
TOKEN = "zd-token-s3cret"


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ts(item: dict[str, Any]) -> int:
    return int(dt.datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00")).timestamp())


def _encode(ts: int, pos: int) -> str:
    return base64.urlsafe_b64encode(f"{ts}|{pos}".encode()).decode()


def _decode(cursor: str) -> tuple[int, int]:
    ts, pos = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    return int(ts), int(pos)


@dataclass
class ZendeskFake(ApiFake):
    tickets: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    organizations: list[dict[str, Any]] = field(default_factory=list)
    satisfaction_ratings: list[dict[str, Any]] = field(default_factory=list)
    metric_sets: dict[int, dict[str, Any]] = field(default_factory=dict)  # by ticket id
    email: str = EMAIL
    token: str = TOKEN
    seq: int = 0  # change sequence: every upsert gets the next number

    def upsert(self, stream: str, item: dict[str, Any]) -> None:
        """Create or replace an item; it moves to the end of the export like a real change."""
        items: list[dict[str, Any]] = getattr(self, stream)
        self.seq += 1
        item = {**item, "_seq": self.seq}
        for i, old in enumerate(items):
            if "id" in old and old.get("id") == item.get("id"):
                items[i] = item
                return
        items.append(item)

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        header = req.headers.get("authorization", "")
        good = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        if header == f"Basic {good}" or self.token_ok(req, self.token):
            return None
        return FakeResponse(401, {"error": "Couldn't authenticate you"})

    def route(self, req: FakeRequest) -> FakeResponse:
        p = req.path
        if p == "/api/v2/users/me.json":
            return FakeResponse(200, {"user": {"id": 1, "email": self.email}})
        for stream in ("tickets", "users"):
            if p == f"/api/v2/incremental/{stream}/cursor.json":
                return self._cursor_export(stream, req)
            if p == f"/api/v2/{stream}/show_many.json":
                return self._show_many(stream, req)
        if p == "/api/v2/satisfaction_ratings":
            return self._ratings(req)
        if p == "/api/v2/incremental/organizations.json":
            return self._time_export(req)
        if p == "/api/v2/organizations/show_many.json":
            return self._show_many("organizations", req)
        return FakeResponse(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # -- exports ----------------------------------------------------------------
    def _ordered(self, stream: str) -> list[dict[str, Any]]:
        return sorted(getattr(self, stream), key=lambda it: it["_seq"])

    def _cursor_export(self, stream: str, req: FakeRequest) -> FakeResponse:
        per_page = int(req.arg("per_page") or 1000)
        items = self._ordered(stream)
        cursor = req.arg("cursor")
        if cursor:
            _, after = _decode(cursor)
            items = [it for it in items if it["_seq"] > after]
        else:
            start = req.arg("start_time")
            if start is None:
                return FakeResponse(400, {"error": "InvalidValue", "description": "start_time or cursor required"})
            items = [it for it in items if _ts(it) >= int(start)]
        page = items[:per_page]
        last = page[-1] if page else None
        after_cursor = _encode(_ts(last), last["_seq"]) if last else cursor or _encode(0, 0)
        body: dict[str, Any] = {
            stream: [_public(it) for it in page],
            "after_cursor": after_cursor,
            "after_url": f"/api/v2/incremental/{stream}/cursor.json?cursor={after_cursor}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": len(items) <= per_page,
        }
        if stream == "tickets" and "users" in (req.arg("include") or ""):
            body.update(self._sideload(page))
        if stream == "tickets" and "metric_sets" in (req.arg("include") or ""):
            body["metric_sets"] = [
                self.metric_sets[t["id"]]
                for t in page
                if t.get("id") in self.metric_sets and t.get("status") != "deleted"
            ]
        return FakeResponse(200, body)

    def _ratings(self, req: FakeRequest) -> FakeResponse:
        size = int(req.arg("page[size]") or 100)
        if size > 100:
            return FakeResponse(400, {"error": "InvalidPaginationParameter"})
        start = int(req.arg("start_time") or 0)
        items = sorted((r for r in self.satisfaction_ratings if _ts(r) >= start), key=lambda r: r["id"])
        after = req.arg("page[after]")
        if after:
            last = int(base64.urlsafe_b64decode(after.encode()).decode())
            items = [r for r in items if r["id"] > last]
        page = items[:size]
        more = len(items) > size
        cursor = base64.urlsafe_b64encode(str(page[-1]["id"]).encode()).decode() if page else None
        return FakeResponse(
            200,
            {
                "satisfaction_ratings": [_public(r) for r in page],
                "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": None},
                "links": {"next": f"/api/v2/satisfaction_ratings?page[after]={cursor}" if more else None, "prev": None},
            },
        )

    def _time_export(self, req: FakeRequest) -> FakeResponse:
        per_page = int(req.arg("per_page") or 1000)
        start = int(req.arg("start_time") or 0)
        items = [it for it in self._ordered("organizations") if _ts(it) >= start]
        items.sort(key=_ts)
        page = items[:per_page]
        end_time = _ts(page[-1]) if page else start
        return FakeResponse(
            200,
            {
                "organizations": [_public(it) for it in page],
                "count": len(page),
                "end_time": end_time,
                "next_page": f"/api/v2/incremental/organizations.json?start_time={end_time}",
                "end_of_stream": len(items) <= per_page,
            },
        )

    def _show_many(self, stream: str, req: FakeRequest) -> FakeResponse:
        ids = {int(i) for i in (req.arg("ids") or "").split(",") if i}
        found = [it for it in self._ordered(stream) if it.get("id") in ids and it.get("status") != "deleted"]
        body: dict[str, Any] = {stream: [_public(it) for it in found]}
        if stream == "tickets" and "users" in (req.arg("include") or ""):
            body.update(self._sideload(found))
        return FakeResponse(200, body)

    def _sideload(self, tickets: list[dict[str, Any]]) -> dict[str, Any]:
        uids = {t.get("requester_id") for t in tickets}
        oids = {t.get("organization_id") for t in tickets}
        return {
            "users": [_public(u) for u in self.users if u.get("id") in uids],
            "organizations": [_public(o) for o in self.organizations if o.get("id") in oids],
        }


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}
