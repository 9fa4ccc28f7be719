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

This module compares consumers' access and finds the blast radius; the other changes are
:mod:`c360.spec.diff_fields`, and the plan, its changes and the semver rule :mod:`c360.spec.changes`.
"""

from __future__ import annotations

from c360.governance.policy import Delta, View, blame, compare, view_of
from c360.spec.changes import _BUMPS as _BUMPS
from c360.spec.changes import _VERSION as _VERSION
from c360.spec.changes import (
    PATCH_KINDS,
    Affected,
    Bump,
    Change,
    Level,
    Plan,
    SemverCheck,
    check_semver,
    parse_version,
    required_bump,
)
from c360.spec.changes import _next as _next
from c360.spec.diff_fields import _canonical as _canonical
from c360.spec.diff_fields import _fields_reading as _fields_reading
from c360.spec.diff_fields import _not_null as _not_null
from c360.spec.diff_fields import _subscribed as _subscribed
from c360.spec.diff_fields import (
    field_changes,
    product_changes,
    renames,
    source_column_changes,
    subscription_changes,
    vocabulary_changes,
)
from c360.spec.models import ProductSpec, SubscriptionSpec

__all__ = [
    "PATCH_KINDS",
    "Affected",
    "Bump",
    "Change",
    "Level",
    "Plan",
    "SemverCheck",
    "check_semver",
    "diff",
    "effective_grants",
    "parse_version",
    "required_bump",
]
# Kept importable from here under the names they had when they were defined here.
_renames, _fields, _vocabularies = renames, field_changes, vocabulary_changes
_source_columns, _subscriptions, _product = source_column_changes, subscription_changes, product_changes

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
            *field_changes(old, new),
            *vocabulary_changes(old, new),
            *source_column_changes(old, new),
            *_consumers(old, new),
            *subscription_changes(old, new),
            *product_changes(old, new),
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


def _consumers(old: ProductSpec, new: ProductSpec) -> list[Change]:
    out: list[Change] = []
    renamed = {o: n for n, o in renames(old, new).items()}  # old name → new name
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
