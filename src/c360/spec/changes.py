"""A plan's parts: each change, the consumers it affects, and whether the version step fits.

:mod:`c360.spec.diff` finds the changes; this module holds what it returns and the semantic
versioning rule it judges them by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "PATCH_KINDS",
    "Affected",
    "Bump",
    "Change",
    "Level",
    "Plan",
    "SemverCheck",
    "check_semver",
    "parse_version",
    "required_bump",
]

Level = Literal["breaking", "safe", "semantic"]
Bump = Literal["none", "patch", "minor", "major"]
_BUMPS: tuple[Bump, ...] = ("none", "patch", "minor", "major")
# Changes that only document: a patch step is enough.
PATCH_KINDS = frozenset({"description_changed", "metadata_changed", "owner_changed", "checks_changed"})
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Affected:
    """A consumer in a change's blast radius, by one of its subscriptions relying on what changed.

    A consumer whose view changes but no subscription of which relies on it is named too, with
    no purpose, fields or SLA.
    """

    consumer: str
    owner: str | None
    purpose: str | None
    fields: tuple[str, ...]
    freshness: str | None
    latency_p99_ms: float | None
    major: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "owner": self.owner,
            "purpose": self.purpose,
            "fields": list(self.fields),
            "freshness": self.freshness,
            "latency_p99_ms": self.latency_p99_ms,
            "major": self.major,
        }


@dataclass(frozen=True)
class Change:
    kind: str  # field_removed, type_changed, grant_withdrawn, expression_changed, ...
    level: Level
    path: str  # where in the spec, e.g. fields.mrr.unit
    message: str
    field: str | None = None
    consumer: str | None = None
    before: Any = None
    after: Any = None
    affected: tuple[Affected, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "level": self.level,
            "path": self.path,
            "message": self.message,
            "field": self.field,
            "consumer": self.consumer,
            "before": self.before,
            "after": self.after,
            "affected": [a.as_dict() for a in self.affected],
        }


@dataclass(frozen=True)
class SemverCheck:
    old: str | None
    new: str
    required: Bump
    actual: Bump | Literal["backwards"]
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "required": self.required,
            "actual": self.actual,
            "ok": self.ok,
            "message": self.message,
        }


@dataclass
class Plan:
    """Everything that differs between the published spec and a candidate."""

    product: str
    old_version: str | None
    new_version: str
    changes: list[Change] = field(default_factory=list)
    semver: SemverCheck | None = None

    def of(self, level: Level) -> list[Change]:
        return [c for c in self.changes if c.level == level]

    @property
    def breaking(self) -> bool:
        return any(c.level == "breaking" for c in self.changes)

    @property
    def exit_code(self) -> int:
        """0 when safe; 1 when breaking or when the version bump does not fit the changes."""
        return 1 if self.breaking or (self.semver is not None and not self.semver.ok) else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "product": self.product,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "summary": {lvl: len(self.of(lvl)) for lvl in ("breaking", "semantic", "safe")},
            "semver": self.semver.as_dict() if self.semver else None,
            "changes": [c.as_dict() for c in self.changes],
            "exit_code": self.exit_code,
        }


# -- semver -----------------------------------------------------------------------------


def parse_version(text: str) -> tuple[int, int, int]:
    m = _VERSION.match(text)
    if not m:
        raise ValueError(f"not a semantic version: {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def required_bump(changes: list[Change]) -> Bump:
    """Breaking → major; other changes to what consumers get → minor; documentation → patch."""
    if any(c.level == "breaking" for c in changes):
        return "major"
    if any(c.kind not in PATCH_KINDS for c in changes):
        return "minor"
    return "patch" if changes else "none"


def check_semver(old: str | None, new: str, changes: list[Change]) -> SemverCheck:
    """Does the step from ``old`` to ``new`` fit the changes?

    Breaking changes need a major step (a minor one before 1.0.0), other contract changes a
    minor step, documentation a patch.
    """
    required = required_bump(changes)
    if old is None:
        return SemverCheck(None, new, required, "major", True, f"first version {new}")
    o, n = parse_version(old), parse_version(new)
    if n < o:
        return SemverCheck(
            old,
            new,
            required,
            "backwards",
            False,
            f"version goes backwards from {old} to {new}; the next version must be above {old}",
        )
    actual: Bump = "none" if n == o else "major" if n[0] > o[0] else "minor" if n[1] > o[1] else "patch"
    # Before 1.0.0 a minor step may break (semver §4).
    need: Bump = "minor" if required == "major" and o[0] == 0 else required
    if need == "none" and actual != "none":
        return SemverCheck(old, new, required, actual, True, f"{old} → {new}: no contract change")
    ok = _BUMPS.index(actual) >= _BUMPS.index(need)
    if ok:
        message = f"{old} → {new} is a {actual} step" + (f" ({need} needed)" if need != "none" else "")
    elif actual == "none":
        message = f"the spec changed but its version is still {old}; set version to {_next(o, need)}"
    else:
        message = (
            f"{old} → {new} is a {actual} step but the changes need a {need} step; set version to {_next(o, need)}"
        )
    return SemverCheck(old, new, required, actual, ok, message)


def _next(v: tuple[int, int, int], bump: str) -> str:
    if bump == "major":
        return f"{v[0] + 1}.0.0"
    if bump == "minor":
        return f"{v[0]}.{v[1] + 1}.0"
    return f"{v[0]}.{v[1]}.{v[2] + 1}"
