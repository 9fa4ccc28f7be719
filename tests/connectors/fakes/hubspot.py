"""A fake HubSpot CRM API: v3 objects search, archived listing, batch read, properties; v4
associations (batch read, per-object paging); the OAuth token endpoint through an issuer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tests.connectors.fakes import ApiFake
from tests.connectors.httpfake import FakeRequest, FakeResponse

TOKEN = "pat-na1-hubspot-s3cret"
_MODIFIED = {"contacts": "lastmodifieddate"}
PROPERTIES = {
    "companies": ["name", "domain", "city", "hs_object_id", "hs_lastmodifieddate"],
    "contacts": ["email", "firstname", "lastname", "hs_object_id", "lastmodifieddate"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "hs_object_id", "hs_lastmodifieddate"],
}
# HubSpot-defined association type ids, by (from, to).
TYPE_IDS = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
}


def iso_ms(ms: int) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _ms(value: str) -> int:
    if value.isdigit():
        return int(value)
    return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class HubSpotFake(ApiFake):
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in PROPERTIES})
    archived: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in PROPERTIES})
    token: str = TOKEN
    searches: list[dict[str, Any]] = field(default_factory=list)
    links: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    assoc_page: int = 500  # associations per object in one v4 answer

    def associate(self, a: str, a_id: str, b: str, b_id: str) -> None:
        """Link two objects, both ways, as HubSpot does."""
        for (f, fid), (t, tid) in (((a, a_id), (b, b_id)), ((b, b_id), (a, a_id))):
            self.links.setdefault((f, t), {}).setdefault(fid, []).append(tid)

    def _to(self, f: str, t: str, ids: list[str]) -> list[dict[str, Any]]:
        return [
            {
                "toObjectId": int(i),
                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": TYPE_IDS.get((f, t), 1), "label": None}],
            }
            for i in ids
        ]

    def put(self, obj: str, oid: str | None, at_ms: int, **props: Any) -> None:
        """Create or update an object, modified at ``at_ms``."""
        prop = _MODIFIED.get(obj, "hs_lastmodifieddate")
        items = self.objects[obj]
        item: dict[str, Any] = {
            "properties": {**props, "hs_object_id": oid, prop: iso_ms(at_ms)},
            "createdAt": iso_ms(at_ms),
            "updatedAt": iso_ms(at_ms),
            "archived": False,
        }
        if oid is not None:
            item = {"id": oid, **item}
        for i, old in enumerate(items):
            if oid is not None and old.get("id") == oid:
                item["createdAt"] = old["createdAt"]
                items[i] = item
                return
        items.append(item)

    def archive(self, obj: str, oid: str, at_ms: int) -> None:
        item = next(it for it in self.objects[obj] if it.get("id") == oid)
        self.objects[obj].remove(item)
        self.archived[obj].append({**item, "archived": True, "archivedAt": iso_ms(at_ms)})

    def authenticate(self, req: FakeRequest) -> FakeResponse | None:
        if self.token_ok(req, self.token):
            return None
        return FakeResponse(
            401,
            {
                "status": "error",
                "message": "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "correlationId": "a6d2b1c4-0000-4000-8000-000000000000",
                "category": "INVALID_AUTHENTICATION",
            },
        )

    def route(self, req: FakeRequest) -> FakeResponse:
        parts = req.path.strip("/").split("/")
        if parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
            return self._assoc_batch(parts[3], parts[4], req.json())
        if parts[:3] == ["crm", "v4", "objects"] and len(parts) == 7:
            return self._assoc_list(parts[3], parts[4], parts[6], req)
        if parts[:2] == ["crm", "v3"] and len(parts) >= 4 and parts[3] in self.objects:
            obj = parts[3]
            if parts[2] == "properties" and req.method == "GET":
                return FakeResponse(
                    200,
                    {
                        "results": [
                            {
                                "name": n,
                                "label": n.title(),
                                "type": "datetime" if "date" in n else "string",
                                "fieldType": "text",
                            }
                            for n in PROPERTIES[obj]
                        ]
                    },
                )
            if parts[2] == "objects":
                rest = parts[4:]
                if rest == ["search"] and req.method == "POST":
                    return self._search(obj, req.json())
                if rest == ["batch", "read"] and req.method == "POST":
                    return self._batch_read(obj, req.json())
                if not rest and req.method == "GET":
                    return self._list(obj, req)
        return FakeResponse(
            404,
            {
                "status": "error",
                "message": f"Unable to route {req.method} request to {req.path}",
                "category": "OBJECT_NOT_FOUND",
            },
        )

    def _shape(self, item: dict[str, Any], props: list[str] | None) -> dict[str, Any]:
        if props is None:
            return item
        keep = {k: v for k, v in item["properties"].items() if k in props}
        return {**item, "properties": keep}

    def _search(self, obj: str, body: dict[str, Any]) -> FakeResponse:
        self.searches.append(body)
        items = list(self.objects[obj])
        for group in body.get("filterGroups") or []:
            for f in group["filters"]:
                name, op, value = f["propertyName"], f["operator"], _ms(f["value"])
                if op not in ("GT", "GTE"):
                    return FakeResponse(
                        400, {"status": "error", "message": f"bad operator {op}", "category": "VALIDATION_ERROR"}
                    )
                items = [
                    it
                    for it in items
                    if (it["properties"].get(name) is not None)
                    and (_ms(it["properties"][name]) > value if op == "GT" else _ms(it["properties"][name]) >= value)
                ]
        for sort in body.get("sorts") or []:
            name = sort["propertyName"]
            items.sort(
                key=lambda it: _ms(it["properties"].get(name) or "0"), reverse=sort.get("direction") == "DESCENDING"
            )
        start = int(body.get("after") or 0)
        limit = int(body.get("limit") or 10)
        page = items[start : start + limit]
        answer: dict[str, Any] = {
            "total": len(items),
            "results": [self._shape(it, body.get("properties")) for it in page],
        }
        if start + limit < len(items):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return FakeResponse(200, answer)

    def _list(self, obj: str, req: FakeRequest) -> FakeResponse:
        items = self.archived[obj] if req.arg("archived") == "true" else self.objects[obj]
        start = int(req.arg("after") or 0)
        limit = int(req.arg("limit") or 10)
        answer: dict[str, Any] = {"results": items[start : start + limit]}
        if start + limit < len(items):
            nxt = str(start + limit)
            answer["paging"] = {"next": {"after": nxt, "link": f"/crm/v3/objects/{obj}?after={nxt}"}}
        return FakeResponse(200, answer)

    def _assoc_batch(self, f: str, t: str, body: dict[str, Any]) -> FakeResponse:
        links = self.links.get((f, t), {})
        results, missing = [], []
        for item in body.get("inputs") or []:
            oid = str(item["id"])
            ids = links.get(oid)
            if not ids:
                missing.append(oid)
                continue
            result: dict[str, Any] = {"from": {"id": oid}, "to": self._to(f, t, ids[: self.assoc_page])}
            if len(ids) > self.assoc_page:
                result["paging"] = {"next": {"after": str(self.assoc_page), "link": None}}
            results.append(result)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": iso_ms(0),
            "completedAt": iso_ms(0),
        }
        if missing:
            answer["numErrors"] = len(missing)
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {t} is associated with {f} {m}.",
                    "context": {"fromObjectId": [m]},
                }
                for m in missing
            ]
            return FakeResponse(207, answer)
        return FakeResponse(200, answer)

    def _assoc_list(self, f: str, oid: str, t: str, req: FakeRequest) -> FakeResponse:
        ids = self.links.get((f, t), {}).get(oid, [])
        start = int(req.arg("after") or 0)
        limit = min(int(req.arg("limit") or 500), self.assoc_page)
        answer: dict[str, Any] = {"results": self._to(f, t, ids[start : start + limit])}
        if start + limit < len(ids):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return FakeResponse(200, answer)

    def _batch_read(self, obj: str, body: dict[str, Any]) -> FakeResponse:
        id_prop = body.get("idProperty")
        wanted = [i["id"] for i in body["inputs"]]

        def ident(it: dict[str, Any]) -> Any:
            return it["properties"].get(id_prop) if id_prop else it.get("id")

        found = [self._shape(it, body.get("properties")) for it in self.objects[obj] if ident(it) in wanted]
        missing = [w for w in wanted if w not in {ident(it) for it in self.objects[obj]}]
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": found,
            "startedAt": iso_ms(0),
            "completedAt": iso_ms(0),
        }
        if missing:
            answer["numErrors"] = 1
            answer["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
            return FakeResponse(207, answer)
        return FakeResponse(200, answer)
