"""The product as a contract: its recorded versions, and exports as ODCS v3 and JSON Schema.

The Open Data Contract Standard documents are built with the ``open-data-contract-standard``
package's models (one for the product, one per consumer view); the JSON Schema of a
consumer's record follows what the API returns to it. Both read the consumer's view from the
compiled policy (:mod:`c360.governance.policy`): every form a field may take for it (in the
clear, or each mask the policies that may apply to a record give it), and the fields present
on every record it sees.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert, select, update

from c360.core import jsonutil
from c360.core.clock import iso, utcnow
from c360.core.errors import C360Error, MissingDependency
from c360.governance import audit
from c360.governance.lineage import field_lineage
from c360.governance.policy import Form, View, view_of
from c360.spec.diff import Plan, diff, parse_version
from c360.spec.loader import load_yaml_text
from c360.spec.models import CheckSpec, ProductSpec, SubscriptionSpec, duration_seconds
from c360.store import Store
from c360.store.schema import runs, spec_versions

ODCS_API_VERSION = "v3.1.0"

JSON_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "timestamp": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "json": {},
}
ODCS_TYPES = {
    "string": "string",
    "integer": "integer",
    "decimal": "number",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "json": "object",
}
MASKED_TYPES: dict[str, dict[str, Any]] = {
    "email": {"type": ["string", "null"]},
    "hash": {"type": ["string", "null"]},
    "last4": {"type": ["string", "null"]},
    "year": {"type": ["integer", "null"]},
    "redact": {"type": "null"},
}


# -- recorded versions ------------------------------------------------------------------


@dataclass(frozen=True)
class SpecVersion:
    version: str
    product: str
    text: str
    applied_at: dt.datetime
    applied_by: str | None

    def model(self) -> ProductSpec:
        return parse_recorded(self.text, self.version)


def parse_recorded(text: str, version: str = "?") -> ProductSpec:
    """A recorded spec's model, without re-checking its sources (they may have moved since)."""
    doc = load_yaml_text(text, f"spec version {version}")
    try:
        return ProductSpec.model_validate(doc.data)
    except Exception as exc:
        raise C360Error(f"recorded spec version {version} no longer reads as a spec: {exc}") from exc


def history(store: Store) -> list[SpecVersion]:
    """Every recorded spec version, oldest first (by semantic version)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(spec_versions)).fetchall()
    out = [SpecVersion(r.version, r.product, r.text, _aware(r.applied_at), r.applied_by) for r in rows]
    return sorted(out, key=lambda v: parse_version(v.version))


def published(store: Store) -> SpecVersion | None:
    """The latest recorded version: the contract a new spec is planned against."""
    versions = history(store)
    return versions[-1] if versions else None


def approved_plans(store: Store) -> dict[str, dict[str, Any]]:
    """Spec version → the plan approved when it was applied (from the apply runs' summaries)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(runs.c.summary)
            .where(runs.c.kind == "apply", runs.c.status == "succeeded")
            .order_by(runs.c.started_at)
        ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for (summary,) in rows:
        data = jsonutil.loads(summary) if summary else {}
        if "version" in data:
            out[str(data["version"])] = data
    return out


def changelog(store: Store) -> list[tuple[SpecVersion, Plan | None]]:
    """Each recorded version with the plan from the version before it (None for the first)."""
    out: list[tuple[SpecVersion, Plan | None]] = []
    previous: ProductSpec | None = None
    for v in history(store):
        try:
            model = v.model()
        except C360Error:
            out.append((v, None))
            continue
        out.append((v, diff(previous, model) if previous is not None else None))
        previous = model
    return out


def plan_against_store(store: Store, product: ProductSpec) -> Plan:
    base = published(store)
    return diff(base.model() if base is not None else None, product)


def apply(store: Store, product: ProductSpec, text: str, approved_by: str) -> Plan:
    """Record ``product`` as the new contract version, approved by ``approved_by``.

    Refused when the version does not fit the changes (a breaking change needs a new major)
    or when that version was already recorded with other content. The approved plan is kept
    in the apply run's summary and in the audit log, in the transaction that records the version.
    """
    if not approved_by.strip():
        raise C360Error("--approved-by needs the name of the person approving the plan")
    plan = plan_against_store(store, product)
    if plan.semver is not None and not plan.semver.ok:
        raise C360Error(f"cannot apply {product.version}: {plan.semver.message}")
    with store.engine.connect() as conn:
        row = conn.execute(
            select(spec_versions.c.text, spec_versions.c.applied_by).where(spec_versions.c.version == product.version)
        ).first()
    if row is not None:
        if row.text != text:
            raise C360Error(
                f"version {product.version} is already recorded with different content; give this spec a new version"
            )
        if row.applied_by:
            raise C360Error(f"version {product.version} was already applied by {row.applied_by}")
    run_id = store.start_run("apply")
    summary = {"version": product.version, "approved_by": approved_by, "plan": plan.as_dict()}
    try:
        # The version and its audit row commit together, or neither does.
        with store.engine.begin() as conn:
            if row is None:
                conn.execute(
                    insert(spec_versions).values(
                        version=product.version,
                        product=product.product,
                        text=text,
                        applied_at=utcnow(),
                        applied_by=approved_by,
                    )
                )
            else:
                # A build recorded this exact text before it was approved: record the approval.
                conn.execute(
                    update(spec_versions)
                    .where(spec_versions.c.version == product.version)
                    .values(applied_by=approved_by, applied_at=utcnow())
                )
            audit.append(
                conn,
                "spec_apply",
                audit.actor_of(),
                None,
                {
                    "product": product.product,
                    "version": product.version,
                    "approved_by": approved_by,
                    "run_id": run_id,
                    "plan": plan.as_dict(),
                },
            )
    except Exception as exc:
        store.finish_run(run_id, "failed", {**summary, "error": str(exc)})
        raise
    store.finish_run(run_id, "succeeded", summary)
    return plan


def _aware(ts: dt.datetime) -> dt.datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


# -- JSON Schema -------------------------------------------------------------------------------


def _field_schema(product: ProductSpec, name: str, mask: Form) -> dict[str, Any]:
    """The schema of one field served in the clear (``mask`` None) or with one mask."""
    if mask is not None:
        what = "Stable surrogate id of the customer" if name == "customer_id" else product.fields[name].description
        return {**MASKED_TYPES[mask], "description": f"{what}; masked ({mask})"}
    if name == "customer_id":
        return {"type": "string", "description": "Stable surrogate id of the customer"}
    f = product.fields[name]
    desc = f.description + (f" ({f.unit})" if f.unit else "")
    base = dict(JSON_TYPES[f.type])
    required = any(c.check == "not_null" and c.level == "error" for c in f.checks)
    if base and not required:
        base["type"] = [base["type"], "null"]
    for c in f.checks:
        if c.level != "error":
            continue
        if c.check == "accepted_values":
            base["enum"] = [*(c.values or []), *([] if required else [None])]
        elif c.check == "range":
            if c.min is not None:
                base["minimum"] = c.min
            if c.max is not None:
                base["maximum"] = c.max
    out: dict[str, Any] = {**base, "description": desc}
    if f.pii:
        out["x-c360-pii"] = True
    if f.unit:
        out["x-c360-unit"] = f.unit
    return out


def form_label(form: Form) -> str:
    return "in the clear" if form is None else f"masked ({form})"


def _view_schema(product: ProductSpec, view: View, name: str) -> dict[str, Any]:
    """A field as the consumer may receive it: one schema per form it may take on some row."""
    forms = view.forms[name]
    if len(forms) == 1:
        return _field_schema(product, name, forms[0])
    parts = [{k: v for k, v in _field_schema(product, name, m).items() if k != "description"} for m in forms]
    what = "Stable surrogate id of the customer" if name == "customer_id" else product.fields[name].description
    shown = ", ".join(form_label(m) for m in forms)
    return {"anyOf": parts, "description": f"{what}; {shown}, depending on the row"}


def consumer_json_schema(product: ProductSpec, consumer: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one record as ``consumer`` receives it.

    A field only some of the consumer's policies grant, under a row filter, is absent from the
    records those policies do not apply to, so it is not required.
    """
    if consumer not in product.consumers:
        raise C360Error(f"unknown consumer '{consumer}' (known: {', '.join(product.consumers)})")
    view = view_of(product, consumer)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:c360:{product.product}:{product.version}:{consumer}",
        "title": f"{product.product} {product.version} as seen by {consumer}",
        "type": "object",
        "properties": {f: _view_schema(product, view, f) for f in view.fields},
        "required": [f for f in view.fields if f in view.always],
        "additionalProperties": False,
    }


# -- ODCS --------------------------------------------------------------------------------------


def _quality(name: str, check: CheckSpec, table: str) -> dict[str, Any]:
    severity = "error" if check.level == "error" else "warning"
    common = {"name": f"{name}_{check.check}", "severity": severity, "mustBe": 0}
    if check.check == "not_null":
        return {**common, "type": "library", "metric": "nullValues", "dimension": "completeness"}
    if check.check == "unique":
        return {**common, "type": "library", "metric": "duplicateValues", "dimension": "uniqueness"}
    if check.check == "accepted_values":
        return {
            **common,
            "type": "library",
            "metric": "invalidValues",
            "dimension": "conformity",
            "arguments": {"validValues": list(check.values or [])},
        }
    if check.check == "freshness":
        what = f"{check.source}.{check.column}" if check.column else (check.source or "every source feeding it")
        return {
            "name": f"{name}_freshness",
            "severity": severity,
            "type": "text",
            "dimension": "timeliness",
            "description": f"{what} updated within {check.max_age} of the build's as-of time",
        }
    bounds = [
        f"{name} < {check.min:g}" if check.min is not None else "",
        f"{name} > {check.max:g}" if check.max is not None else "",
    ]
    where = " OR ".join(b for b in bounds if b)
    return {**common, "type": "sql", "dimension": "accuracy", "query": f"SELECT COUNT(*) FROM {table} WHERE {where}"}


def _sla(sub: SubscriptionSpec) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    element = ",".join(sub.fields)
    if sub.freshness:
        out.append(
            {
                "property": "latency",
                "value": duration_seconds(sub.freshness) // 60,
                "unit": "m",
                "element": element,
                "driver": "operational",
                "description": f"{sub.consumer} ({sub.purpose}): data at most {sub.freshness} old",
            }
        )
    if sub.latency_p99_ms is not None:
        out.append(
            {
                "property": "responseTime",
                "value": sub.latency_p99_ms,
                "unit": "ms",
                "element": element,
                "driver": "operational",
                "description": f"{sub.consumer} ({sub.purpose}): p99 read latency",
            }
        )
    return out


def odcs_servers(store_url: str | None) -> list[dict[str, Any]]:
    """The ODCS ``servers:`` entry of the serving store (SQLite, DuckDB or PostgreSQL).

    ``store_url`` defaults to ``C360_STORE_URL``; none at all gives no entry. Credentials in the
    URL are never written: a contract is handed to people who must not hold them.
    """
    import os
    from urllib.parse import unquote, urlsplit

    url = store_url or os.environ.get("C360_STORE_URL")
    if not url:
        return []
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    described = "The c360 store: every published snapshot, one JSON record per customer (snapshot_records)"
    if scheme in ("postgresql", "postgres"):
        return [
            {
                "server": "store",
                "type": "postgresql",
                "environment": "prod",
                "description": described,
                "host": parts.hostname or "localhost",
                "port": parts.port or 5432,
                "database": unquote(parts.path.lstrip("/")) or "postgres",
                "schema": "public",
            }
        ]
    path = unquote(url.split("://", 1)[1]) if "://" in url else url
    path = path[1:] if path.startswith("/") and scheme in ("sqlite", "duckdb") else path
    if scheme == "duckdb":
        return [{"server": "store", "type": "duckdb", "description": described, "database": path}]
    if scheme == "sqlite":
        return [
            {
                "server": "store",
                "type": "custom",
                "description": described,
                "database": path,
                "customProperties": [{"property": "engine", "value": "sqlite"}],
            }
        ]
    return [
        {
            "server": "store",
            "type": "custom",
            "description": described,
            "customProperties": [{"property": "engine", "value": scheme or "unknown"}],
        }
    ]


def odcs_document(product: ProductSpec, consumer: str | None = None, *, store_url: str | None = None) -> dict[str, Any]:
    """The ODCS v3 document for the product, or for one consumer's view of it.

    ``servers:`` names the serving store (``store_url``, else ``C360_STORE_URL``).
    """
    try:
        from open_data_contract_standard.model import OpenDataContractStandard
    except ImportError:
        raise MissingDependency("open-data-contract-standard", "contracts") from None
    if consumer is not None and consumer not in product.consumers:
        raise C360Error(f"unknown consumer '{consumer}' (known: {', '.join(product.consumers)})")
    view = view_of(product, consumer) if consumer else None
    table = product.product
    props: list[dict[str, Any]] = []
    for name in view.fields if view is not None else product.field_names:
        if name == "customer_id":
            props.append(
                {
                    "name": name,
                    "logicalType": "string",
                    "physicalType": "VARCHAR",
                    "description": "Stable surrogate id of the customer, minted by c360",
                    "primaryKey": True,
                    "primaryKeyPosition": 1,
                    "required": True,
                    "unique": True,
                    "classification": "internal",
                }
            )
            continue
        f = product.fields[name]
        prop: dict[str, Any] = {
            "name": name,
            "logicalType": ODCS_TYPES[f.type],
            "description": f.description,
            "classification": "restricted" if f.pii else "internal",
            "required": any(c.check == "not_null" and c.level == "error" for c in f.checks),
            "transformLogic": " ".join(f.expr.split()),
            "transformSourceObjects": sorted({f"{x['source']}.{x['column']}" for x in field_lineage(product, name)}),
        }
        if f.pii:
            prop["tags"] = ["pii"]
        custom: list[dict[str, Any]] = []
        if f.unit:
            custom.append({"property": "unit", "value": f.unit})
        masks = view.forms[name] if view is not None else (None,)
        if masks != (None,):
            value = masks[0] if len(masks) == 1 else ", ".join(form_label(m) for m in masks) + " by row"
            custom.append({"property": "mask", "value": value})
        if custom:
            prop["customProperties"] = custom
        if f.checks:
            prop["quality"] = [_quality(name, c, table) for c in f.checks]
        props.append(prop)
    subs = [s for s in product.subscriptions if consumer is None or s.consumer == consumer]
    doc: dict[str, Any] = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": f"{product.product}-{consumer}" if consumer else product.product,
        "name": f"{product.product} for {consumer}" if consumer else product.product,
        "version": product.version,
        "status": "active",
        "dataProduct": product.product,
        "domain": product.owner.team,
        "description": {
            "purpose": product.description or f"The {product.product} data product",
            **({"usage": "; ".join(s.purpose for s in subs)} if subs else {}),
            **({"limitations": f"Rows limited to: {view.row_filter}"} if view is not None and view.row_filter else {}),
        },
        "schema": [
            {
                "name": table,
                "physicalName": table,
                "physicalType": "table",
                "logicalType": "object",
                "description": product.description or table,
                "dataGranularityDescription": f"one record per {product.grain}",
                "properties": props,
            }
        ],
        "team": {
            "name": product.owner.team,
            "members": [{"username": product.owner.email, "role": "owner"}] if product.owner.email else [],
        },
        "roles": [
            {"role": name, "access": "read", "description": cons.description or name}
            for name, cons in product.consumers.items()
            if consumer is None or name == consumer
        ],
        "slaProperties": [p for s in subs for p in _sla(s)],
        "customProperties": [{"property": "grain", "value": product.grain}, {"property": "generator", "value": "c360"}],
        "contractCreatedTs": iso(utcnow()),
    }
    if product.owner.email:
        doc["support"] = [{"channel": "owner", "tool": "email", "url": f"mailto:{product.owner.email}"}]
    if not doc["slaProperties"]:
        del doc["slaProperties"]
    servers = odcs_servers(store_url)
    if servers:
        doc["servers"] = servers
    # The package's models are the check: a document they reject is never written.
    model = OpenDataContractStandard.model_validate(doc)
    out: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True)
    return out


def export(product: ProductSpec, out_dir: Path, fmt: str, *, store_url: str | None = None) -> list[Path]:
    """Write the product's contract(s) in ``fmt`` (odcs or jsonschema) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt == "odcs":
        docs = {f"{product.product}.odcs.yaml": odcs_document(product, store_url=store_url)}
        docs |= {
            f"{product.product}.{c}.odcs.yaml": odcs_document(product, c, store_url=store_url)
            for c in product.consumers
        }
        for name, doc in docs.items():
            path = out_dir / name
            path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
            written.append(path)
    elif fmt == "jsonschema":
        for c in product.consumers:
            path = out_dir / f"{product.product}.{c}.schema.json"
            path.write_text(json.dumps(consumer_json_schema(product, c), indent=2) + "\n", encoding="utf-8")
            written.append(path)
    else:
        raise C360Error(f"unknown format '{fmt}'; expected odcs or jsonschema")
    return written


__all__ = [
    "SpecVersion",
    "apply",
    "approved_plans",
    "changelog",
    "consumer_json_schema",
    "export",
    "history",
    "odcs_document",
    "odcs_servers",
    "plan_against_store",
    "published",
]
