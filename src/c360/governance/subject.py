"""Subject access (GDPR Art. 15): everything the product holds about a person, and its origin."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from c360.core import jsonutil
from c360.core.clock import iso, utcnow
from c360.governance.erasure import Plan, SubjectNotFound, SubjectRef, plan
from c360.governance.lineage import field_lineage
from c360.governance.majors import recorded_spec
from c360.governance.suppression import is_suppressed
from c360.spec.models import ProductSpec
from c360.spec.validate import Spec
from c360.store import Store
from c360.store import erasure_subject as db


def export_subject(store: Store, spec: Spec, *, email: str) -> dict[str, Any]:
    """The person's source records (with system, location and fetch time), their place in the
    identity map, and the product's record of their customer with each field's lineage."""
    product = spec.model
    out: dict[str, Any] = {
        "product": product.product,
        "version": product.version,
        "generated_at": iso(utcnow()),
        "subject": {"email": email},
        "records": [],
        "customers": [],
        "erased": is_suppressed(store, email=email),
    }
    with store.engine.connect() as conn:
        try:
            # Only the person's own records: no need to search everyone else's text.
            p = plan(conn, spec, SubjectRef(email=email), free_text=False)
        except SubjectNotFound:  # nobody with that address: an empty answer is the answer
            # (a store that fails is raised: it is never answered as "no records")
            return out
        own = [r for r in p.records if r.action in ("delete", "anonymise")]
        out["records"] = [_record(conn, product, r.source, r.key) for r in own]
        version = db.published_version(conn)
        if version is not None:
            sources = {r.source for r in own}
            out["customers"] = _customers(conn, store, spec, p, version, sources)
    return out


def _record(conn: Connection, product: ProductSpec, source: str, key: str) -> dict[str, Any]:
    """One of the person's source records: where it comes from, what it holds, where it is mapped."""
    src = product.sources[source]
    row = db.staged_copy(conn, source, key)
    mapped = db.mapping(conn, source, key)
    return {
        "source": source,
        "system": src.connector,
        "description": src.description,
        "location": src.stream or src.options.get("path") or src.options.get("table"),
        "key": key,
        "fetched_at": row.fetched_at.isoformat() if row else None,
        "data": row.data if row else None,
        "customer_id": mapped.customer_id if mapped else None,
        "matched_by": ({"method": mapped.method, "score": mapped.score} if mapped else None),
    }


def _customers(
    conn: Connection, store: Store, spec: Spec, p: Plan, version: int, sources: set[str]
) -> list[dict[str, Any]]:
    """The person's customers as snapshot ``version`` holds them, and as served to consumers
    pinned to an earlier major, in that shape."""
    product = spec.model
    earlier = _earlier_majors(store, spec, version)
    out = []
    for cid in p.customers:
        data = db.snapshot_record(conn, version, cid)
        if data is None:
            continue
        entry: dict[str, Any] = {
            "customer_id": cid,
            "snapshot": version,
            "grain": product.grain,
            "fields": _fields(product, jsonutil.loads(data), sources),
        }
        shapes = []
        for major, spec_version, old in earlier:
            view = db.view_record(conn, version, major, cid)
            if view is not None:
                shapes.append(
                    {
                        "major": major,
                        "spec_version": spec_version,
                        "fields": _fields(old, jsonutil.loads(view), sources),
                    }
                )
        if shapes:
            entry["earlier_majors"] = shapes
        out.append(entry)
    return out


def _earlier_majors(store: Store, spec: Spec, version: int) -> list[tuple[int, str, ProductSpec]]:
    """The earlier majors snapshot ``version`` also holds, with the product spec of each."""
    out = []
    for major, spec_version in sorted(store.view_majors(version).items()):
        old = recorded_spec(store, spec, major)
        out.append((major, spec_version, old.model if old is not None else spec.model))
    return out


def _fields(product: ProductSpec, record: dict[str, Any], sources: set[str]) -> list[dict[str, Any]]:
    """A customer's record as fields with their description, lineage and whether this person fed them."""
    fields = []
    for name, value in record.items():
        lineage = field_lineage(product, name)
        fields.append(
            {
                "field": name,
                "value": value,
                "description": product.fields[name].description
                if name in product.fields
                else "Stable surrogate id of the customer",
                "from_this_person": bool({x["source"] for x in lineage} & sources),
                "lineage": lineage,
            }
        )
    return fields
