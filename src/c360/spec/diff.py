"""Compare two product specs: every change classified, its blast radius, and the semver it needs.

A change is **breaking** when a consumer relying on the old contract can fail
(a field removed or renamed, its type or unit changed, a vocabulary narrowed, a
not-null guarantee dropped on a field someone subscribes to, or anything a consumer
could read before that it can no longer read as well), **safe** when it only adds or
documents, and **semantic** when the shape stays but values may change (an expression,
or the source columns it reads).

Access changes are found by comparing each consumer's effective view before and after
(:func:`c360.governance.policy.compare`), never the YAML: a field it could read and no
longer can, a mask added or changed to one that is not provably more revealing, a row
filter narrowed (any change that is not provably a widening), or reads by id or lookups
it loses are breaking; the reverse is safe. The blast radius of a breaking or semantic
change names every consumer whose view it changes, with the subscriptions relying on
what changed, if any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from c360.governance.policy import Delta, View, blame, compare, view_of
from c360.spec.expressions import DIALECT, ExpressionError, column_refs, parse_expression
from c360.spec.models import ProductSpec, SubscriptionSpec

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


# -- what a consumer is granted ------------------------------------------------------


def effective_grants(product: ProductSpec, consumer: str) -> dict[str, str | None]:
    """Field → the least revealing mask it may carry for ``consumer`` (None: always in the clear).

    A summary of :func:`c360.governance.policy.view_of`, which holds the whole view (every form a
    field may take, on which rows, the row filters and the pinned major).
    """
    view = view_of(product, consumer)
    return {f: view.mask(f) for f in view.fields}


# -- the diff ---------------------------------------------------------------------------


def diff(old: ProductSpec | None, new: ProductSpec) -> Plan:
    """Classify each change from ``old`` (the published spec; None at first) to ``new``."""
    plan = Plan(new.product, old.version if old else None, new.version)
    if old is not None:
        changes = [
            *_fields(old, new),
            *_vocabularies(old, new),
            *_source_columns(old, new),
            *_consumers(old, new),
            *_subscriptions(old, new),
            *_product(old, new),
        ]
        seen = {c: view_of(old, c) for c in old.consumers}
        plan.changes = [
            Change(c.kind, c.level, c.path, c.message, c.field, c.consumer, c.before, c.after, _blast(c, old, seen))
            if c.level != "safe"
            else c
            for c in changes
        ]
    plan.semver = check_semver(plan.old_version, new.version, plan.changes)
    return plan


def _canonical(expr: str) -> str:
    try:
        return parse_expression(expr).sql(DIALECT, normalize=True)
    except ExpressionError:
        return " ".join(expr.split())


def _not_null(product: ProductSpec, name: str) -> bool:
    return any(c.check == "not_null" and c.level == "error" for c in product.fields[name].checks)


def _subscribed(product: ProductSpec, name: str) -> bool:
    return any(name in s.fields for s in product.subscriptions)


def _renames(old: ProductSpec, new: ProductSpec) -> dict[str, str]:
    """New name → old name, for a removed field whose expression reappears under a new name."""
    removed = [f for f in old.fields if f not in new.fields]
    added = [f for f in new.fields if f not in old.fields]
    out: dict[str, str] = {}
    for r in removed:
        for a in added:
            if a not in out and _canonical(old.fields[r].expr) == _canonical(new.fields[a].expr):
                out[a] = r
                break
    return out


def _fields(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    removed = [f for f in old.fields if f not in new.fields]
    added = [f for f in new.fields if f not in old.fields]
    renamed = {o: n for n, o in _renames(old, new).items()}
    for r in removed:
        if r in renamed:
            out.append(
                Change(
                    "field_renamed",
                    "breaking",
                    f"fields.{r}",
                    f"field '{r}' renamed to '{renamed[r]}'",
                    r,
                    before=r,
                    after=renamed[r],
                )
            )
        else:
            out.append(Change("field_removed", "breaking", f"fields.{r}", f"field '{r}' removed", r))
    for a in added:
        if a not in renamed.values():
            out.append(Change("field_added", "safe", f"fields.{a}", f"field '{a}' added", a, after=new.fields[a].type))
    for name in old.fields:
        if name not in new.fields:
            continue
        o, n = old.fields[name], new.fields[name]
        at = f"fields.{name}"
        if o.type != n.type:
            out.append(
                Change(
                    "type_changed",
                    "breaking",
                    f"{at}.type",
                    f"type of '{name}' changed from {o.type} to {n.type}",
                    name,
                    before=o.type,
                    after=n.type,
                )
            )
        if o.unit != n.unit:
            out.append(
                Change(
                    "unit_changed",
                    "breaking",
                    f"{at}.unit",
                    f"unit of '{name}' changed from {o.unit} to {n.unit}",
                    name,
                    before=o.unit,
                    after=n.unit,
                )
            )
        if _canonical(o.expr) != _canonical(n.expr):
            out.append(
                Change(
                    "expression_changed",
                    "semantic",
                    f"{at}.expr",
                    f"expression of '{name}' changed; review the values it now produces",
                    name,
                    before=" ".join(o.expr.split()),
                    after=" ".join(n.expr.split()),
                )
            )
        if o.description != n.description:
            out.append(
                Change(
                    "description_changed",
                    "safe",
                    f"{at}.description",
                    f"description of '{name}' changed",
                    name,
                    before=o.description,
                    after=n.description,
                )
            )
        if o.pii != n.pii or o.owner != n.owner:
            what = "PII flag" if o.pii != n.pii else "owner"
            out.append(Change("metadata_changed", "safe", at, f"{what} of '{name}' changed", name))
        if _not_null(old, name) and not _not_null(new, name):
            # Judged on the new spec: a subscription dropped in the same change relies on nothing.
            relied = _subscribed(new, name)
            out.append(
                Change(
                    "made_nullable",
                    "breaking" if relied else "safe",
                    f"{at}.checks",
                    f"'{name}' is no longer guaranteed non-null" + (" and subscribers rely on it" if relied else ""),
                    name,
                )
            )
        elif [c.model_dump() for c in o.checks] != [c.model_dump() for c in n.checks]:
            out.append(Change("checks_changed", "safe", f"{at}.checks", f"quality checks of '{name}' changed", name))
    return out


def _fields_reading(product: ProductSpec, refs: set[tuple[str, str]]) -> list[str]:
    out = []
    for name, f in product.fields.items():
        try:
            used = {(r.source, r.column) for r in column_refs(parse_expression(f.expr))}
        except ExpressionError:
            continue
        if used & refs:
            out.append(name)
    return out


def _vocabularies(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    for vocab, before in old.vocabularies.items():
        after = new.vocabularies.get(vocab, {})
        lost_values = sorted(set(before.values()) - set(after.values()))
        lost_keys = sorted(set(before) - set(after))
        readers = {(s, c) for s, src in new.sources.items() for c, col in src.columns.items() if col.map == vocab}
        fields: list[str | None] = [*_fields_reading(new, readers)] or [None]
        if lost_values or lost_keys:
            what = (
                f"values {', '.join(lost_values)} no longer produced"
                if lost_values
                else f"{', '.join(lost_keys)} no longer mapped (now null)"
            )
            for f in fields:
                out.append(
                    Change(
                        "vocabulary_narrowed",
                        "breaking",
                        f"vocabularies.{vocab}",
                        f"vocabulary '{vocab}' narrowed: {what}",
                        f,
                        before=sorted(set(before.values())),
                        after=sorted(set(after.values())),
                    )
                )
        elif after != before:
            out.append(
                Change("vocabulary_widened", "safe", f"vocabularies.{vocab}", f"vocabulary '{vocab}' maps more values")
            )
    return out


def _source_columns(old: ProductSpec, new: ProductSpec) -> list[Change]:
    """A column read differently (type, path, currency, map) changes the fields reading it."""
    out: list[Change] = []
    for sname, src in new.sources.items():
        before = old.sources.get(sname)
        if before is None:
            continue
        for cname, col in src.columns.items():
            was = before.columns.get(cname)
            if was is None or was.model_dump(exclude={"description"}) == col.model_dump(exclude={"description"}):
                continue
            for f in _fields_reading(new, {(sname, cname)}):
                out.append(
                    Change(
                        "source_column_changed",
                        "semantic",
                        f"sources.{sname}.columns.{cname}",
                        f"column {sname}.{cname} is read differently; '{f}' may change",
                        f,
                    )
                )
    return out


def _consumers(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    renamed = {o: n for n, o in _renames(old, new).items()}  # old name → new name
    for cname in old.consumers:
        if cname not in new.consumers:
            out.append(
                Change(
                    "consumer_removed",
                    "breaking",
                    f"consumers.{cname}",
                    f"consumer '{cname}' removed: every grant withdrawn",
                    consumer=cname,
                )
            )
            continue
        out.extend(_access(compare(old, new, cname, renamed), new.field_names))
        o, n = old.consumers[cname], new.consumers[cname]
        if o.delivery != n.delivery:
            out.append(
                Change(
                    "delivery_changed",
                    "semantic",
                    f"consumers.{cname}.delivery",
                    f"'{cname}' delivery changed from {o.delivery} to {n.delivery}",
                    consumer=cname,
                    before=o.delivery,
                    after=n.delivery,
                )
            )
    for cname in new.consumers:
        if cname not in old.consumers:
            out.append(
                Change("consumer_added", "safe", f"consumers.{cname}", f"consumer '{cname}' added", consumer=cname)
            )
    return out


def _some(everywhere: bool) -> str:
    return "" if everywhere else " on some rows"


def _access(d: Delta, order: list[str]) -> list[Change]:
    """The changes of one consumer's view, field by field in product order, then its rows."""
    c = d.after.consumer
    at = f"consumers.{c}"
    out: list[Change] = []
    for f in order:
        if f in d.lost:
            out.append(
                Change(
                    "grant_withdrawn",
                    "breaking",
                    blame(d, f, "fields") or f"{at}.fields",
                    f"'{c}' no longer granted '{f}'" + _some(d.lost[f]),
                    f,
                    c,
                )
            )
        if f in d.restricted:
            was, now = d.restricted[f]
            path = blame(d, f, "masks") or f"{at}.masks.{f}"
            if was is None:
                out.append(
                    Change(
                        "mask_added",
                        "breaking",
                        path,
                        f"'{f}' now masked ({now}) for '{c}'",
                        f,
                        c,
                        before=was,
                        after=now,
                    )
                )
            else:
                out.append(
                    Change(
                        "mask_changed",
                        "breaking",
                        path,
                        f"'{f}' now masked {now} instead of {was} for '{c}'",
                        f,
                        c,
                        before=was,
                        after=now,
                    )
                )
        if f in d.widened:
            was, now = d.widened[f]
            path = blame(d, f, "masks") or f"{at}.masks.{f}"
            if now is None:
                out.append(
                    Change(
                        "mask_removed", "safe", path, f"'{f}' no longer masked for '{c}'", f, c, before=was, after=now
                    )
                )
            else:
                out.append(
                    Change(
                        "mask_changed",
                        "safe",
                        path,
                        f"'{f}' now masked {now} instead of {was} for '{c}'",
                        f,
                        c,
                        before=was,
                        after=now,
                    )
                )
        if f in d.gained and f not in d.lost:
            out.append(
                Change(
                    "grant_added",
                    "safe",
                    blame(d, f, "fields") or f"{at}.fields",
                    f"'{c}' granted '{f}'" + _some(d.gained[f]),
                    f,
                    c,
                )
            )
    out.extend(_rows(d, at))
    if d.id_read_lost and "customer_id" not in d.lost and "customer_id" not in d.restricted:
        out.append(
            Change(
                "read_by_id_lost",
                "breaking",
                blame(d, None, "row_filter") or at,
                f"'{c}' no longer sees customer_id in the clear on every row, so it can no "
                "longer read, page or batch customers by id",
                "customer_id",
                c,
            )
        )
    if d.lookups_lost and not d.after.denied:  # a consumer granted nothing loses each field instead
        out.append(
            Change(
                "lookup_lost",
                "breaking",
                at,
                f"'{c}' may no longer look customers up by {', '.join(sorted(d.lookups_lost))} keys",
                consumer=c,
                before=sorted(d.lookups_lost),
            )
        )
    if d.reordered:
        out.append(Change("fields_reordered", "safe", "fields", f"fields served to '{c}' in another order", consumer=c))
    return out


def _rows(d: Delta, at: str) -> list[Change]:
    c, before, after = d.after.consumer, d.before.row_filter, d.after.row_filter
    path = blame(d, None, "row_filter") or f"{at}.row_filter"
    if d.rows_lost:
        kind = "row_filter_added" if before is None else "row_filter_changed"
        shown = f"only rows where {after}" if after is not None else "no rows"
        return [Change(kind, "breaking", path, f"'{c}' now sees {shown}", consumer=c, before=before, after=after)]
    if d.rows_gained:
        if after is None:
            return [
                Change(
                    "row_filter_removed",
                    "safe",
                    path,
                    f"'{c}' row filter removed",
                    consumer=c,
                    before=before,
                    after=after,
                )
            ]
        return [
            Change(
                "row_filter_widened",
                "safe",
                path,
                f"'{c}' now sees rows where {after}",
                consumer=c,
                before=before,
                after=after,
            )
        ]
    return []


def _sub_key(s: SubscriptionSpec) -> tuple[str, str]:
    return (s.consumer, s.purpose)


def _subscriptions(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    before = {_sub_key(s): s for s in old.subscriptions}
    after = {_sub_key(s): s for s in new.subscriptions}
    for key, s in after.items():
        at = f"subscriptions[{s.consumer}: {s.purpose}]"
        if key not in before:
            out.append(
                Change(
                    "subscription_added", "safe", at, f"'{s.consumer}' subscribes for {s.purpose}", consumer=s.consumer
                )
            )
        elif before[key] != s:
            out.append(
                Change(
                    "subscription_changed",
                    "safe",
                    at,
                    f"subscription of '{s.consumer}' for {s.purpose} changed",
                    consumer=s.consumer,
                )
            )
    for key, s in before.items():
        if key not in after:
            out.append(
                Change(
                    "subscription_removed",
                    "safe",
                    f"subscriptions[{s.consumer}: {s.purpose}]",
                    f"'{s.consumer}' no longer subscribes for {s.purpose}",
                    consumer=s.consumer,
                )
            )
    return out


def _product(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    if old.description != new.description:
        out.append(Change("description_changed", "safe", "description", "product description changed"))
    if old.owner != new.owner:
        out.append(
            Change(
                "owner_changed",
                "safe",
                "owner",
                f"owner changed to {new.owner.team}",
                before=old.owner.team,
                after=new.owner.team,
            )
        )
    if old.lifecycle != new.lifecycle:
        out.append(
            Change(
                "lifecycle_changed",
                "safe",
                "lifecycle.sunset",
                "sunset dates changed",
                before={str(k): str(v) for k, v in old.lifecycle.sunset.items()},
                after={str(k): str(v) for k, v in new.lifecycle.sunset.items()},
            )
        )
    return out


def _blast(change: Change, product: ProductSpec, seen: dict[str, View]) -> tuple[Affected, ...]:
    """Every consumer whose view the change touches, by each of its subscriptions relying on it.

    A change of one consumer's access touches that consumer; a change of a field touches every
    consumer granted it; a change of neither (a vocabulary no field reads) every subscription.
    """
    if change.consumer is None and change.field is None:
        return tuple(_by_subscription(product, s) for s in product.subscriptions)
    if change.consumer is not None:
        consumers = [change.consumer]
    else:
        consumers = [c for c, v in seen.items() if change.field in v.fields]
    out: list[Affected] = []
    for consumer in consumers:
        subs = [
            s
            for s in product.subscriptions
            if s.consumer == consumer and (change.field is None or change.field in s.fields)
        ]
        if subs:
            out.extend(_by_subscription(product, s) for s in subs)
        else:
            spec = product.consumers.get(consumer)
            out.append(Affected(consumer, spec.owner if spec else None, None, (), None, None, None))
    return tuple(out)


def _by_subscription(product: ProductSpec, s: SubscriptionSpec) -> Affected:
    consumer = product.consumers.get(s.consumer)
    owner = consumer.owner if consumer is not None else None
    return Affected(s.consumer, owner, s.purpose, tuple(s.fields), s.freshness, s.latency_p99_ms, s.major)


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
