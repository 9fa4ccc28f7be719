"""The product as an Open Data Contract Standard (ODCS v3) document, or one consumer's view of it.

The documents are built with the ``open-data-contract-standard`` package's models (one for the
product, one per consumer view), which check them: a document they reject is never written.
A consumer's view is read from the compiled policy (:mod:`c360.governance.policy`); masks are
described by the mask registry (:mod:`c360.governance.masks`), quality rules by the check
registry (:mod:`c360.spec.check_kinds`).

The schema object is named after the product's flat relation (``c360_<product>``, see
:mod:`c360.store.product_relation`): a PostgreSQL store's view of the published snapshot, or a
Parquet file of it. ``servers:`` says where that relation is, so ``datacontract test`` can run
the contract's quality rules against the published product.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from c360.core.clock import iso, utcnow
from c360.core.errors import C360Error, MissingDependency
from c360.governance.contracts_schema import form_label
from c360.governance.lineage import field_lineage
from c360.governance.masks import mask_of
from c360.governance.policy import View, view_of
from c360.spec.check_kinds import check_kind, guarantees_non_null
from c360.spec.models import CheckSpec, ProductSpec, SubscriptionSpec, duration_seconds
from c360.store.product_relation import relation_name

__all__ = ["ODCS_API_VERSION", "ODCS_TYPES", "odcs_document", "odcs_servers", "write_odcs"]

ODCS_API_VERSION = "v3.1.0"

ODCS_TYPES = {
    "string": "string",
    "integer": "integer",
    "decimal": "number",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "json": "object",
}


def _quality(name: str, check: CheckSpec, table: str) -> dict[str, Any]:
    """The ODCS quality rule of one check (the check registry's, for its kind)."""
    return check_kind(check.check).quality(name, check, table)


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


def _parquet_server(product: str | None, data: Path) -> dict[str, Any]:
    return {
        "server": "product",
        "type": "local",
        "format": "parquet",
        "path": str(data.resolve()),
        "description": f"The published snapshot of {product or 'the product'} as Parquet, one row per customer",
    }


def _store_server(url: str, relation: str | None) -> dict[str, Any]:
    """The store's entry: a PostgreSQL store serves the product's view; others only hold the records."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return {
            "server": "store",
            "type": "postgresql",
            "environment": "prod",
            "description": f"The c360 store: view {relation or 'c360_<product>'} shows the published snapshot, "
            "one row per customer",
            "host": parts.hostname or "localhost",
            "port": parts.port or 5432,
            "database": unquote(parts.path.lstrip("/")) or "postgres",
            "schema": "public",
        }
    described = "The c360 store: every published snapshot, one JSON record per customer (snapshot_records)"
    path = unquote(url.split("://", 1)[1]) if "://" in url else url
    path = path[1:] if path.startswith("/") and scheme in ("sqlite", "duckdb") else path
    if scheme == "duckdb":
        return {"server": "store", "type": "duckdb", "description": described, "database": path}
    engine = {"property": "engine", "value": scheme or "unknown"}
    if scheme == "sqlite":
        return {
            "server": "store",
            "type": "custom",
            "description": described,
            "database": path,
            "customProperties": [engine],
        }
    return {"server": "store", "type": "custom", "description": described, "customProperties": [engine]}


def odcs_servers(
    store_url: str | None, *, data: Path | None = None, product: str | None = None
) -> list[dict[str, Any]]:
    """The ODCS ``servers:`` entries: the product's Parquet file (``data``) first, then the serving store.

    ``store_url`` defaults to ``C360_STORE_URL``; a PostgreSQL store's entry points at the
    product's view there (schema ``public``). ``datacontract test`` tests the first entry unless
    told another. Credentials in the URL are never written: a contract is handed to people who
    must not hold them.
    """
    import os

    out = [_parquet_server(product, data)] if data is not None else []
    url = store_url or os.environ.get("C360_STORE_URL")
    if url:
        out.append(_store_server(url, relation_name(product) if product else None))
    return out


def _customer_id() -> dict[str, Any]:
    return {
        "name": "customer_id",
        "logicalType": "string",
        "physicalType": "VARCHAR",
        "description": "Stable surrogate id of the customer, minted by c360",
        "primaryKey": True,
        "primaryKeyPosition": 1,
        "required": True,
        "unique": True,
        "classification": "internal",
    }


def _masked(prop: dict[str, Any], forms: tuple[Any, ...], custom: list[dict[str, Any]]) -> None:
    """What a view's masks say of a property: the mask(s), their meaning, a masked value's type."""
    if forms == (None,):
        return
    value = forms[0] if len(forms) == 1 else ", ".join(form_label(m) for m in forms) + " by row"
    custom.append({"property": "mask", "value": value})
    masks = [mask_of(m) for m in forms if m is not None]
    custom.append({"property": "maskDescription", "value": "; ".join(m.odcs_description for m in masks)})
    logical = {m.odcs_logical_type for m in masks}
    if None not in forms and len(logical) == 1 and None not in logical:
        prop["logicalType"] = logical.pop()  # every row masked, the masked values of one type


def _property(product: ProductSpec, view: View | None, name: str, table: str) -> dict[str, Any]:
    """One field as an ODCS schema property (as ``view``'s consumer is served it, if given)."""
    if name == "customer_id":
        return _customer_id()
    f = product.fields[name]
    prop: dict[str, Any] = {
        "name": name,
        "logicalType": ODCS_TYPES[f.type],
        "description": f.description,
        "classification": "restricted" if f.pii else "internal",
        "required": guarantees_non_null(f.checks),
        "transformLogic": " ".join(f.expr.split()),
        "transformSourceObjects": sorted({f"{x['source']}.{x['column']}" for x in field_lineage(product, name)}),
    }
    if f.pii:
        prop["tags"] = ["pii"]
    custom: list[dict[str, Any]] = []
    if f.unit:
        custom.append({"property": "unit", "value": f.unit})
    _masked(prop, view.forms[name] if view is not None else (None,), custom)
    if custom:
        prop["customProperties"] = custom
    if f.checks:
        prop["quality"] = [_quality(name, c, table) for c in f.checks]
    return prop


def _description(product: ProductSpec, view: View | None, subs: list[SubscriptionSpec]) -> dict[str, Any]:
    out: dict[str, Any] = {"purpose": product.description or f"The {product.product} data product"}
    if subs:
        out["usage"] = "; ".join(s.purpose for s in subs)
    if view is not None and view.row_filter:
        out["limitations"] = f"Rows limited to: {view.row_filter}"
    return out


def _schema(product: ProductSpec, props: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = relation_name(product.product)
    return [
        {
            "name": table,
            "physicalName": table,
            "physicalType": "table",
            "logicalType": "object",
            "description": product.description or table,
            "dataGranularityDescription": f"one record per {product.grain}",
            "properties": props,
        }
    ]


def _team(product: ProductSpec) -> dict[str, Any]:
    owner = product.owner
    return {"name": owner.team, "members": [{"username": owner.email, "role": "owner"}] if owner.email else []}


def _roles(product: ProductSpec, consumer: str | None) -> list[dict[str, Any]]:
    return [
        {"role": name, "access": "read", "description": cons.description or name}
        for name, cons in product.consumers.items()
        if consumer is None or name == consumer
    ]


def odcs_document(
    product: ProductSpec, consumer: str | None = None, *, store_url: str | None = None, data: Path | None = None
) -> dict[str, Any]:
    """The ODCS v3 document for the product, or for one consumer's view of it.

    ``servers:`` names the product's Parquet file (``data``, if given) and the serving store
    (``store_url``, else ``C360_STORE_URL``); see :func:`odcs_servers`.
    """
    try:
        from open_data_contract_standard.model import OpenDataContractStandard
    except ImportError:
        raise MissingDependency("open-data-contract-standard", "contracts") from None
    if consumer is not None and consumer not in product.consumers:
        raise C360Error(f"unknown consumer '{consumer}' (known: {', '.join(product.consumers)})")
    view = view_of(product, consumer) if consumer else None
    names = view.fields if view is not None else product.field_names
    props = [_property(product, view, name, relation_name(product.product)) for name in names]
    subs = [s for s in product.subscriptions if consumer is None or s.consumer == consumer]
    owner = product.owner
    doc: dict[str, Any] = {
        "apiVersion": ODCS_API_VERSION,
        "kind": "DataContract",
        "id": f"{product.product}-{consumer}" if consumer else product.product,
        "name": f"{product.product} for {consumer}" if consumer else product.product,
        "version": product.version,
        "status": "active",
        "dataProduct": product.product,
        "domain": owner.team,
        "description": _description(product, view, subs),
        "schema": _schema(product, props),
        "team": _team(product),
        "roles": _roles(product, consumer),
        "customProperties": [{"property": "grain", "value": product.grain}, {"property": "generator", "value": "c360"}],
        "contractCreatedTs": iso(utcnow()),
    }
    sla = [p for s in subs for p in _sla(s)]
    if sla:
        doc["slaProperties"] = sla
    if owner.email:
        doc["support"] = [{"channel": "owner", "tool": "email", "url": f"mailto:{owner.email}"}]
    servers = odcs_servers(store_url, data=data, product=product.product)
    if servers:
        doc["servers"] = servers
    # The package's models are the check: a document they reject is never written.
    model = OpenDataContractStandard.model_validate(doc)
    out: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True)
    return out


def write_odcs(
    product: ProductSpec, out_dir: Path, *, store_url: str | None = None, data: Path | None = None
) -> list[Path]:
    """Write the product's ODCS document and each consumer view's under ``out_dir``; the paths written."""
    docs = {f"{product.product}.odcs.yaml": odcs_document(product, store_url=store_url, data=data)}
    docs |= {
        f"{product.product}.{c}.odcs.yaml": odcs_document(product, c, store_url=store_url, data=data)
        for c in product.consumers
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, doc in docs.items():
        path = out_dir / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(path)
    return written
