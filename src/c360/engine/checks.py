"""Quality gates: each field's declared checks, run on the materialised records before publish."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.core.clock import iso, utcnow
from c360.core.errors import QualityFailure, QualityGateFailed
from c360.spec.check_kinds import check_kind, in_range
from c360.spec.expressions import column_refs, parse_expression
from c360.spec.models import CheckSpec, ProductSpec, duration_seconds

SAMPLE = 5
_in_range = in_range  # importable here under its former name; the check registry has it


def describe(check: CheckSpec) -> str:
    """A check as a person reads it: ``range(min=0)``, ``accepted_values(smb, enterprise)``."""
    return check_kind(check.check).describe(check)


def _per_record(check: CheckSpec) -> bool:
    """Whether a check judges each record's value (else, like freshness, the sources' times)."""
    return check_kind(check.check).observe is not None


# A freshness check reads, per (source, column), the newest time known: the column's newest
# value, or (column None) when the source was last synced.
Newest = Mapping[tuple[str, str | None], dt.datetime | None]


def fed_by(product: ProductSpec, field_name: str, check: CheckSpec) -> list[str]:
    """The sources a freshness check on ``field_name`` is about: its ``source``, else all that feed it."""
    if check.source is not None:
        return [check.source]
    return sorted({r.source for r in column_refs(parse_expression(product.fields[field_name].expr))})


def freshness_inputs(product: ProductSpec) -> set[tuple[str, str | None]]:
    """Every (source, column) whose newest time the product's freshness checks need."""
    return {
        (s, c.column)
        for name, f in product.fields.items()
        for c in f.checks
        if not _per_record(c)
        for s in fed_by(product, name, c)
    }


def _freshness(product: ProductSpec, newest: Newest, as_of: dt.datetime) -> list[QualityFailure]:
    out = []
    for name, f in product.fields.items():
        for c in f.checks:
            if _per_record(c):
                continue
            limit = dt.timedelta(seconds=duration_seconds(c.max_age or "0s"))
            stale = []
            for s in fed_by(product, name, c):
                t = newest.get((s, c.column))
                what = f"{s}.{c.column}'s newest value" if c.column else f"{s} was last synced"
                if t is None:
                    stale.append(
                        f"{what.replace(' was last synced', ' was never synced')}"
                        if not c.column
                        else f"{s}.{c.column} holds no value"
                    )
                elif as_of - t > limit:
                    stale.append(f"{what} {_age(as_of - t)} before the build's as-of ({iso(t)}), more than {c.max_age}")
            if stale:
                out.append(QualityFailure(name, describe(c), c.level, len(stale), [], "; ".join(stale)))
    return out


def _age(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@dataclass
class _State:
    field_name: str
    check: CheckSpec
    failing: int = 0
    sample: list[str] = field(default_factory=list)
    seen: dict[Any, str] = field(default_factory=dict)  # unique: value → first customer

    def fail(self, customer_id: str) -> None:
        self.failing += 1
        if len(self.sample) < SAMPLE:
            self.sample.append(customer_id)

    def __post_init__(self) -> None:
        self._observe = check_kind(self.check.check).observe  # looked up once, used per record

    def observe(self, customer_id: str, value: Any) -> None:
        if self._observe is not None:
            self._observe(self.check, self, customer_id, value)


@dataclass
class CheckReport:
    checked: int = 0
    records: int = 0
    errors: list[QualityFailure] = field(default_factory=list)
    warnings: list[QualityFailure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        def one(f: QualityFailure) -> dict[str, Any]:
            out = {"field": f.field_name, "check": f.check, "level": f.level, "failing": f.failing, "sample": f.sample}
            return {**out, "detail": f.detail} if f.detail else out

        return {
            "checked": self.checked,
            "records": self.records,
            "errors": [one(f) for f in self.errors],
            "warnings": [one(f) for f in self.warnings],
        }


def run_checks(
    product: ProductSpec,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    newest: Newest | None = None,
    as_of: dt.datetime | None = None,
) -> CheckReport:
    """Run every declared check over ``records`` (customer id, record) in one pass.

    Freshness checks judge ``newest`` (see :func:`freshness_inputs`) against ``as_of``.
    """
    states = [_State(name, c) for name, f in product.fields.items() for c in f.checks if _per_record(c)]
    fresh = [c for f in product.fields.values() for c in f.checks if not _per_record(c)]
    report = CheckReport(checked=len(states) + len(fresh))
    if fresh:
        for failure in _freshness(product, newest or {}, as_of or utcnow()):
            (report.errors if failure.level == "error" else report.warnings).append(failure)
    if not states:
        return report
    for customer_id, record in records:
        report.records += 1
        for st in states:
            st.observe(customer_id, record.get(st.field_name))
    for st in states:
        if st.failing:
            failure = QualityFailure(st.field_name, describe(st.check), st.check.level, st.failing, st.sample)
            (report.errors if st.check.level == "error" else report.warnings).append(failure)
    return report


def gate(
    product: ProductSpec,
    records: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    newest: Newest | None = None,
    as_of: dt.datetime | None = None,
) -> CheckReport:
    """Run the checks; raise :class:`QualityGateFailed` when an error-level check fails.

    Warn-level failures are returned in the report; the build publishes and shows them.
    """
    report = run_checks(product, records, newest=newest, as_of=as_of)
    if report.errors:
        raise QualityGateFailed(report.errors)
    return report
