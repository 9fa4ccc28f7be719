"""The product as a contract: its recorded versions, and exports as ODCS v3 and JSON Schema.

The exports live in :mod:`c360.governance.contracts_odcs` (the Open Data Contract Standard
documents, one for the product and one per consumer view) and
:mod:`c360.governance.contracts_schema` (the JSON Schema of a consumer's record, as the API
returns it); both read the consumer's view from the compiled policy
(:mod:`c360.governance.policy`). The recorded versions are read and written through
:mod:`c360.store.spec_versions`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from c360.core import jsonutil
from c360.core.errors import C360Error, ContractError
from c360.governance import audit
from c360.governance.contracts_odcs import ODCS_API_VERSION, ODCS_TYPES, odcs_document, odcs_servers, write_odcs
from c360.governance.contracts_odcs import _quality as _quality
from c360.governance.contracts_odcs import _sla as _sla
from c360.governance.contracts_schema import JSON_TYPES, consumer_json_schema, form_label
from c360.governance.contracts_schema import _field_schema as _field_schema
from c360.governance.contracts_schema import _view_schema as _view_schema
from c360.governance.masks import MASKED_TYPES
from c360.spec.diff import Plan, diff, parse_version
from c360.spec.loader import load_yaml_text
from c360.spec.models import ProductSpec
from c360.store import Store
from c360.store import spec_versions as recorded

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
    out = [SpecVersion(r.version, r.product, r.text, r.applied_at, r.applied_by) for r in recorded.recorded(store)]
    return sorted(out, key=lambda v: parse_version(v.version))


def published(store: Store) -> SpecVersion | None:
    """The latest recorded version: the contract a new spec is planned against."""
    versions = history(store)
    return versions[-1] if versions else None


def approved_plans(store: Store) -> dict[str, dict[str, Any]]:
    """Spec version → the plan approved when it was applied (from the apply runs' summaries)."""
    out: dict[str, dict[str, Any]] = {}
    for summary in recorded.apply_summaries(store):
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
        raise ContractError(f"cannot apply {product.version}: {plan.semver.message}")
    row = recorded.recorded_version(store, product.version)
    if row is not None:
        if row.text != text:
            raise ContractError(
                f"version {product.version} is already recorded with different content; give this spec a new version"
            )
        if row.applied_by:
            raise ContractError(f"version {product.version} was already applied by {row.applied_by}")
    run_id = store.start_run("apply")
    summary = {"version": product.version, "approved_by": approved_by, "plan": plan.as_dict()}
    try:
        # The version and its audit row commit together, or neither does.
        with store.engine.begin() as conn:
            if row is None:
                recorded.insert_version(conn, product.product, product.version, text, approved_by)
            else:
                # A build recorded this exact text before it was approved: record the approval.
                recorded.set_approved(conn, product.version, approved_by)
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


# -- exports ----------------------------------------------------------------------------------


def export(product: ProductSpec, out_dir: Path, fmt: str, *, store_url: str | None = None) -> list[Path]:
    """Write the product's contract(s) in ``fmt`` (odcs or jsonschema) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt == "odcs":
        written += write_odcs(product, out_dir, store_url=store_url)
    elif fmt == "jsonschema":
        for c in product.consumers:
            path = out_dir / f"{product.product}.{c}.schema.json"
            path.write_text(json.dumps(consumer_json_schema(product, c), indent=2) + "\n", encoding="utf-8")
            written.append(path)
    else:
        raise C360Error(f"unknown format '{fmt}'; expected odcs or jsonschema")
    return written


__all__ = [
    "JSON_TYPES",
    "MASKED_TYPES",
    "ODCS_API_VERSION",
    "ODCS_TYPES",
    "SpecVersion",
    "apply",
    "approved_plans",
    "changelog",
    "consumer_json_schema",
    "export",
    "form_label",
    "history",
    "odcs_document",
    "odcs_servers",
    "parse_recorded",
    "plan_against_store",
    "published",
]
