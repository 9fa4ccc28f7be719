"""Every quality check kind in one registry: how it is evaluated, described and exported.

A check kind (:data:`c360.spec.models.CheckKind`) is described once, here: how it judges a
record's value (``observe``; none for ``freshness``, which judges the sources' sync times,
see :mod:`c360.engine.checks`), how a check reads in a build report (``describe``) and in the
documentation (``human``), its ODCS quality rule (``quality``) and what it adds to the JSON
Schema of the field (``json_schema``, when it says something a schema can). The quality gates,
the ODCS and JSON Schema exports and the documentation site all read it from here.

It lives in :mod:`c360.spec` because the engine (which runs checks) and governance (which
exports and documents them) may not import each other. A kind the spec model allows but the
registry lacks fails at import; a kind the registry does not know raises
:class:`UnknownCheck` wherever it is looked up. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, get_args

from c360.spec.models import CheckKind, CheckSpec

__all__ = ["CHECKS", "CheckKindInfo", "Tally", "UnknownCheck", "check_kind", "guarantees_non_null"]


class UnknownCheck(ValueError):
    """A check kind the registry has no entry for."""


class Tally(Protocol):
    """What an ``observe`` function records into: failing customers and the values seen so far."""

    failing: int
    seen: dict[Any, str]

    def fail(self, customer_id: str) -> None: ...


# check → the record's customer id and the field's value → records failures into the tally
Observe = Callable[[CheckSpec, Tally, str, Any], None]


@dataclass(frozen=True)
class CheckKindInfo:
    """One check kind: everything c360 says about it, in one place."""

    name: CheckKind
    observe: Observe | None  # None: not judged per record (freshness judges sources)
    describe: Callable[[CheckSpec], str]  # for build reports: range(min=0)
    human: Callable[[CheckSpec], str]  # for the documentation: range min 0
    quality: Callable[[str, CheckSpec, str], dict[str, Any]]  # (field, check, physical table) → ODCS rule
    json_schema: Callable[[CheckSpec, bool], dict[str, Any]] | None = None  # (check, non-null) → keywords
    non_null: bool = False  # an error-level check of this kind guarantees the field is never null


# -- observe ---------------------------------------------------------------------------------


def _observe_not_null(check: CheckSpec, tally: Tally, customer_id: str, value: Any) -> None:
    if value is None:
        tally.fail(customer_id)


def _observe_unique(check: CheckSpec, tally: Tally, customer_id: str, value: Any) -> None:
    if value is None:
        return  # nullness is not_null's business
    key = repr(value) if isinstance(value, dict | list) else value
    first = tally.seen.setdefault(key, customer_id)
    if first != customer_id:
        if tally.failing == 0:
            tally.fail(first)
        tally.fail(customer_id)


def _observe_accepted(check: CheckSpec, tally: Tally, customer_id: str, value: Any) -> None:
    if value is not None and value not in (check.values or []):
        tally.fail(customer_id)


def in_range(value: Any, lo: float | None, hi: float | None) -> bool:
    """Whether ``value`` is a number within the bounds (a boolean is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _observe_range(check: CheckSpec, tally: Tally, customer_id: str, value: Any) -> None:
    if value is not None and not in_range(value, check.min, check.max):
        tally.fail(customer_id)


# -- describe ----------------------------------------------------------------------------------


def _values(check: CheckSpec) -> str:
    return ", ".join(str(v) for v in check.values or [])


def _bounds(check: CheckSpec, sep: str) -> list[str]:
    return [f"{k}{sep}{v:g}" for k, v in (("min", check.min), ("max", check.max)) if v is not None]


def _fresh_what(check: CheckSpec, default: str | None) -> str | None:
    return f"{check.source}.{check.column}" if check.column else (check.source or default)


def _describe_freshness(check: CheckSpec) -> str:
    what = _fresh_what(check, None)
    return f"freshness({what + ', ' if what else ''}max_age={check.max_age})"


# -- ODCS quality ------------------------------------------------------------------------------


def _common(name: str, check: CheckSpec) -> dict[str, Any]:
    severity = "error" if check.level == "error" else "warning"
    return {"name": f"{name}_{check.check}", "severity": severity, "mustBe": 0}


def _library(metric: str, dimension: str) -> Callable[[str, CheckSpec, str], dict[str, Any]]:
    def quality(name: str, check: CheckSpec, table: str) -> dict[str, Any]:
        out = {**_common(name, check), "type": "library", "metric": metric, "dimension": dimension}
        if check.check == "accepted_values":
            out["arguments"] = {"validValues": list(check.values or [])}
        return out

    return quality


def _quality_range(name: str, check: CheckSpec, table: str) -> dict[str, Any]:
    bounds = [
        f"{name} < {check.min:g}" if check.min is not None else "",
        f"{name} > {check.max:g}" if check.max is not None else "",
    ]
    where = " OR ".join(b for b in bounds if b)
    query = f"SELECT COUNT(*) FROM {table} WHERE {where}"
    # The description names the rule where a tool that runs it (datacontract test) reports it.
    described = f"{name} within range {' '.join(_bounds(check, ' '))}"
    return {**_common(name, check), "type": "sql", "dimension": "accuracy", "description": described, "query": query}


def _quality_freshness(name: str, check: CheckSpec, table: str) -> dict[str, Any]:
    common = _common(name, check)
    return {
        "name": common["name"],
        "severity": common["severity"],
        "type": "text",
        "dimension": "timeliness",
        "description": f"{_fresh_what(check, 'every source feeding it')} updated within {check.max_age} "
        "of the build's as-of time",
    }


# -- JSON Schema -------------------------------------------------------------------------------


def _schema_accepted(check: CheckSpec, non_null: bool) -> dict[str, Any]:
    return {"enum": [*(check.values or []), *([] if non_null else [None])]}


def _schema_range(check: CheckSpec, non_null: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if check.min is not None:
        out["minimum"] = check.min
    if check.max is not None:
        out["maximum"] = check.max
    return out


def _entries() -> dict[CheckKind, CheckKindInfo]:
    entries = [
        CheckKindInfo(
            "not_null",
            _observe_not_null,
            lambda c: "not_null",
            lambda c: "not null",
            _library("nullValues", "completeness"),
            non_null=True,
        ),
        CheckKindInfo(
            "unique", _observe_unique, lambda c: "unique", lambda c: "unique", _library("duplicateValues", "uniqueness")
        ),
        CheckKindInfo(
            "accepted_values",
            _observe_accepted,
            lambda c: f"accepted_values({_values(c)})",
            lambda c: f"accepted values: {_values(c)}",
            _library("invalidValues", "conformity"),
            _schema_accepted,
        ),
        CheckKindInfo(
            "range",
            _observe_range,
            lambda c: f"range({', '.join(_bounds(c, '='))})",
            lambda c: "range " + " ".join(_bounds(c, " ")),
            _quality_range,
            _schema_range,
        ),
        CheckKindInfo(
            "freshness",
            None,
            _describe_freshness,
            lambda c: f"freshness: {_fresh_what(c, 'its sources')} within {c.max_age}",
            _quality_freshness,
        ),
    ]
    return {e.name: e for e in entries}


CHECKS: Mapping[CheckKind, CheckKindInfo] = MappingProxyType(_entries())


def _complete() -> None:
    """Every kind the spec allows has an entry, and the registry holds no other: else import fails."""
    allowed = set(get_args(CheckKind))
    missing, extra = allowed - set(CHECKS), set(CHECKS) - allowed
    if missing or extra:
        raise ImportError(
            f"the check registry does not match CheckKind: missing {sorted(missing)}, unknown {sorted(extra)}"
        )


_complete()


def check_kind(kind: str) -> CheckKindInfo:
    """The registry entry of ``kind``; :class:`UnknownCheck` when there is none."""
    try:
        return CHECKS[kind]  # type: ignore[index]
    except KeyError:
        raise UnknownCheck(f"unknown check {kind!r} (known: {', '.join(CHECKS)})") from None


def guarantees_non_null(checks: list[CheckSpec]) -> bool:
    """Whether the field's error-level checks guarantee it is never null."""
    return any(c.level == "error" and check_kind(c.check).non_null for c in checks)
