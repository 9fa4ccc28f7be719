"""Subject access (GDPR Art. 15): everything the product holds about a person, and its origin."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from c360.core import jsonutil
from c360.core.clock import iso, utcnow
from c360.governance.erasure import SubjectRef, plan
from c360.governance.lineage import field_lineage
from c360.governance.majors import recorded_spec
from c360.governance.suppression import is_suppressed
from c360.spec.models import ProductSpec
from c360.spec.validate import Spec
from c360.store import Store
from c360.store.schema import identity_map, published, snapshot_records, snapshot_views, staged_records


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
        except Exception:  # nobody with that address: an empty answer is the answer
            return out
        own = [r for r in p.records if r.action in ("delete", "anonymise")]
        for r in own:
            src = product.sources[r.source]
            row = conn.execute(
                select(staged_records.c.payload, staged_records.c.fetched_at).where(
                    staged_records.c.source == r.source, staged_records.c.key == r.key
                )
            ).first()
            mapped = conn.execute(
                select(identity_map.c.customer_id, identity_map.c.method, identity_map.c.score).where(
                    identity_map.c.source == r.source, identity_map.c.key == r.key
                )
            ).first()
            out["records"].append(
                {
                    "source": r.source,
                    "system": src.connector,
                    "description": src.description,
                    "location": src.stream or src.options.get("path") or src.options.get("table"),
                    "key": r.key,
                    "fetched_at": row.fetched_at.isoformat() if row else None,
                    "data": jsonutil.loads(row.payload) if row else None,
                    "customer_id": mapped.customer_id if mapped else None,
                    "matched_by": ({"method": mapped.method, "score": mapped.score} if mapped else None),
                }
            )
        version = conn.execute(select(published.c.version).where(published.c.id == 1)).scalar()
        sources = {r.source for r in own}
        # The same customers as served to consumers pinned to an earlier major, in that shape.
        earlier = _earlier_majors(store, spec, version) if version is not None else []
        for cid in p.customers:
            data = (
                conn.execute(
                    select(snapshot_records.c.data).where(
                        snapshot_records.c.version == version, snapshot_records.c.customer_id == cid
                    )
                ).scalar()
                if version is not None
                else None
            )
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
                view = conn.execute(
                    select(snapshot_views.c.data).where(
                        snapshot_views.c.version == version,
                        snapshot_views.c.major == major,
                        snapshot_views.c.customer_id == cid,
                    )
                ).scalar()
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
            out["customers"].append(entry)
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
