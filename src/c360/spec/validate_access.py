"""Consumers, policies and subscriptions as validate checks them: names, grants, masks, row filters.

What only the compiled policy can judge (a row filter serving cannot compile, incompatible
masks, a pinned consumer's policy naming a field this major lacks) is
:func:`c360.governance.policy.problems`, which :mod:`c360.spec.validate` adds.
"""

from __future__ import annotations

from collections.abc import Mapping

from c360.core.errors import SpecIssue
from c360.core.text import closest
from c360.spec.expressions import ExpressionError, column_refs, parse_expression
from c360.spec.loader import Located, Path_
from c360.spec.models import ProductSpec

__all__ = ["check_access", "check_consumers", "check_policies", "check_subscriptions"]


def check_consumers(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Each consumer's fields are the product's, and its masks and row filter read them."""
    out: list[SpecIssue] = []
    known = model.field_names
    for cname, consumer in model.consumers.items():
        for i, fname in enumerate(consumer.fields):
            if fname not in known:
                out.append(
                    doc.issue(
                        ("consumers", cname, "fields", i),
                        f"unknown field '{fname}' in consumers.{cname}.fields",
                        closest(fname, known),
                    )
                )
        out.extend(check_access(("consumers", cname), consumer.fields, consumer.masks, consumer.row_filter, model, doc))
    return out


def check_policies(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Each ``policies:`` entry names declared consumers and the product's fields."""
    out: list[SpecIssue] = []
    known = model.field_names
    for i, policy in enumerate(model.policies):
        at_p: Path_ = ("policies", i)
        for j, cname in enumerate(policy.consumers):
            if cname not in model.consumers:
                out.append(
                    doc.issue((*at_p, "consumers", j), f"unknown consumer '{cname}'", closest(cname, model.consumers))
                )
        for j, fname in enumerate(policy.fields):
            if fname not in known:
                out.append(doc.issue((*at_p, "fields", j), f"unknown field '{fname}'", closest(fname, known)))
        out.extend(check_access(at_p, policy.fields, policy.masks, policy.row_filter, model, doc))
    return out


def check_subscriptions(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """A subscription names a declared consumer and fields it is granted."""
    out: list[SpecIssue] = []
    known = model.field_names
    for i, sub in enumerate(model.subscriptions):
        at: Path_ = ("subscriptions", i)
        granted = model.consumers.get(sub.consumer)
        if granted is None:
            out.append(
                doc.issue(
                    (*at, "consumer"), f"unknown consumer '{sub.consumer}'", closest(sub.consumer, model.consumers)
                )
            )
            continue
        for j, fname in enumerate(sub.fields):
            if fname not in known:
                out.append(doc.issue((*at, "fields", j), f"unknown field '{fname}'", closest(fname, known)))
            elif fname not in granted.fields:
                out.append(
                    doc.issue(
                        (*at, "fields", j),
                        f"consumer '{sub.consumer}' subscribes to '{fname}' but is not granted it; "
                        f"add it to consumers.{sub.consumer}.fields or drop it here",
                    )
                )
    return out


def check_access(
    at: Path_, fields: list[str], masks: Mapping[str, str], row_filter: str | None, model: ProductSpec, doc: Located
) -> list[SpecIssue]:
    out = []
    for fname in masks:
        if fname not in fields:
            out.append(
                doc.issue(
                    (*at, "masks", fname),
                    f"mask on '{fname}', which this policy does not grant",
                    closest(fname, fields),
                )
            )
    if row_filter is not None:
        try:
            node = parse_expression(row_filter)
        except ExpressionError as exc:
            return [*out, doc.issue((*at, "row_filter"), str(exc))]
        for ref in column_refs(node):
            if ref.source:
                out.append(
                    doc.issue(
                        (*at, "row_filter"),
                        f"a row filter reads the product's fields, not sources ('{ref.source}.{ref.column}')",
                    )
                )
            elif ref.column not in model.field_names:
                out.append(
                    doc.issue(
                        (*at, "row_filter"), f"unknown field '{ref.column}'", closest(ref.column, model.field_names)
                    )
                )
    return out
