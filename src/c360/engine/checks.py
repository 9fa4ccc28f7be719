"""Quality gates: each field's declared checks, run on the materialised records before publish."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c360.core.errors import QualityFailure, QualityGateFailed
from c360.spec.models import CheckSpec, ProductSpec

SAMPLE = 5


def describe(check: CheckSpec) -> str:
    """A check as a person reads it: ``range(min=0)``, ``accepted_values(smb, enterprise)``."""
    if check.check == "accepted_values":
        return f"accepted_values({', '.join(str(v) for v in check.values or [])})"
    if check.check == "range":
        bounds = [
            f"{k}={v:g}" for k, v in (("min", check.min), ("max", check.max)) if v is not None
        ]
        return f"range({', '.join(bounds)})"
    return check.check


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

    def observe(self, customer_id: str, value: Any) -> None:
        c = self.check
        if c.check == "not_null":
            if value is None:
                self.fail(customer_id)
        elif value is None:
            return  # the other checks judge present values; nullness is not_null's business
        elif c.check == "unique":
            key = repr(value) if isinstance(value, dict | list) else value
            first = self.seen.setdefault(key, customer_id)
            if first != customer_id:
                if self.failing == 0:
                    self.fail(first)
                self.fail(customer_id)
        elif c.check == "accepted_values":
            if value not in (c.values or []):
                self.fail(customer_id)
        elif c.check == "range" and not _in_range(value, c.min, c.max):
            self.fail(customer_id)


def _in_range(value: Any, lo: float | None, hi: float | None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


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
            return {"field": f.field_name, "check": f.check, "level": f.level, "failing": f.failing,
                    "sample": f.sample}

        return {
            "checked": self.checked,
            "records": self.records,
            "errors": [one(f) for f in self.errors],
            "warnings": [one(f) for f in self.warnings],
        }


def run_checks(
    product: ProductSpec, records: Iterable[tuple[str, Mapping[str, Any]]]
) -> CheckReport:
    """Run every declared check over ``records`` (customer id, record) in one pass."""
    states = [_State(name, c) for name, f in product.fields.items() for c in f.checks]
    report = CheckReport(checked=len(states))
    if not states:
        return report
    for customer_id, record in records:
        report.records += 1
        for st in states:
            st.observe(customer_id, record.get(st.field_name))
    for st in states:
        if st.failing:
            failure = QualityFailure(
                st.field_name, describe(st.check), st.check.level, st.failing, st.sample
            )
            (report.errors if st.check.level == "error" else report.warnings).append(failure)
    return report


def gate(product: ProductSpec, records: Iterable[tuple[str, Mapping[str, Any]]]) -> CheckReport:
    """Run the checks; raise :class:`QualityGateFailed` when an error-level check fails.

    Warn-level failures are returned in the report; the build publishes and shows them.
    """
    report = run_checks(product, records)
    if report.errors:
        raise QualityGateFailed(report.errors)
    return report
