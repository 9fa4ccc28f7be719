"""The changes of a spec that are not about access: fields, vocabularies, source columns,
subscriptions and the product's own metadata, each classified (see :mod:`c360.spec.diff`).
"""

from __future__ import annotations

from c360.spec.changes import Change
from c360.spec.check_kinds import guarantees_non_null
from c360.spec.expressions import DIALECT, ExpressionError, column_refs, parse_expression
from c360.spec.models import ProductSpec, SubscriptionSpec

__all__ = [
    "field_changes",
    "product_changes",
    "renames",
    "source_column_changes",
    "subscription_changes",
    "vocabulary_changes",
]


def _canonical(expr: str) -> str:
    try:
        return parse_expression(expr).sql(DIALECT, normalize=True)
    except ExpressionError:
        return " ".join(expr.split())


def _not_null(product: ProductSpec, name: str) -> bool:
    return guarantees_non_null(product.fields[name].checks)


def _subscribed(product: ProductSpec, name: str) -> bool:
    return any(name in s.fields for s in product.subscriptions)


def renames(old: ProductSpec, new: ProductSpec) -> dict[str, str]:
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


def field_changes(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    removed = [f for f in old.fields if f not in new.fields]
    added = [f for f in new.fields if f not in old.fields]
    renamed = {o: n for n, o in renames(old, new).items()}
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
        if name in new.fields:
            out.extend(_field_changed(old, new, name))
    return out


def _field_changed(old: ProductSpec, new: ProductSpec, name: str) -> list[Change]:
    """How a field both specs declare changed: type, unit, expression, documentation, guarantees."""
    out: list[Change] = []
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


def vocabulary_changes(old: ProductSpec, new: ProductSpec) -> list[Change]:
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


def source_column_changes(old: ProductSpec, new: ProductSpec) -> list[Change]:
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


def _sub_key(s: SubscriptionSpec) -> tuple[str, str]:
    return (s.consumer, s.purpose)


def subscription_changes(old: ProductSpec, new: ProductSpec) -> list[Change]:
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


def product_changes(old: ProductSpec, new: ProductSpec) -> list[Change]:
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
