"""Access problems validate reports, each located, and notes worth knowing that are not errors.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from c360.core.errors import SpecIssue
from c360.governance.masks import compatible, mask_of
from c360.governance.policy_conditions import MAX_CONDITIONS
from c360.governance.policy_view import rules_of, views
from c360.governance.rowfilter import RowFilterError, compile_row_filter
from c360.governance.sla import current_major, pinned_major
from c360.spec.expressions import ExpressionError, column_refs, parse_expression
from c360.spec.loader import Located, Path_
from c360.spec.models import MaskKind, ProductSpec

__all__ = ["notes", "problems"]


def _written_rules(
    model: ProductSpec,
) -> list[tuple[Path_, str, Sequence[str], Mapping[str, MaskKind], str | None, Sequence[str]]]:
    """(where, name, fields as written, masks, row filter, consumers) of every rule in the spec."""
    out: list[tuple[Path_, str, Sequence[str], Mapping[str, MaskKind], str | None, Sequence[str]]] = [
        (("consumers", c), f"consumers.{c}", s.fields, s.masks, s.row_filter, [c]) for c, s in model.consumers.items()
    ]
    out += [
        (("policies", i), f"policies.{p.name}", p.fields, p.masks, p.row_filter, p.consumers)
        for i, p in enumerate(model.policies)
    ]
    return out


def _unservable_filter(row_filter: str, known: Sequence[str]) -> str | None:
    """Why serving cannot compile a row filter that otherwise checks out; None when it can.

    A filter that does not parse, or reads a source or an unknown field, is reported by validate's
    own checks, so it is not reported again here.
    """
    try:
        node = parse_expression(row_filter)
    except ExpressionError:
        return None
    if any(ref.source or ref.column not in known for ref in column_refs(node)):
        return None
    try:
        compile_row_filter(row_filter, known)
    except RowFilterError as exc:
        return f"this row filter cannot be served: {exc}"
    return None


def _mask_clashes(model: ProductSpec) -> list[tuple[Path_, str]]:
    """A field one consumer gets under incompatible masks (:func:`c360.governance.masks.compatible`).

    Serving shows the most revealing applicable mask, so with ``year`` and ``email`` the field
    would be an integer on some rows and a string on others: the consumer's contract could give
    it no single type. Each mask is compared with the first one (other than ``redact``) that an
    earlier rule of the consumer gives the field.
    """
    out: list[tuple[Path_, str]] = []
    for consumer in model.consumers:
        first: dict[str, tuple[str, MaskKind]] = {}
        for rule in rules_of(model, consumer):
            for f, kind in rule.masks.items():
                if mask_of(kind).json_type == "null":
                    continue
                seen = first.setdefault(f, (rule.name, kind))
                if not compatible(seen[1], kind):
                    was, now = mask_of(seen[1]).json_type, mask_of(kind).json_type
                    out.append(
                        (
                            (*rule.at, "masks", f),
                            f"'{f}' is masked {kind} here but {seen[1]} by {seen[0]} for consumer "
                            f"'{consumer}': it would be served as {now} on some rows and "
                            f"{was} on others; mask it one way for this consumer",
                        )
                    )
    return out


def _pinned_names(model: ProductSpec) -> list[tuple[Path_, str]]:
    """A rule of a consumer pinned to an earlier major that names a field this major no longer has.

    A pinned consumer is served its major's recorded spec and that spec's policy; the policy written
    here takes over when the pin is dropped, so it must name this major's fields.
    """
    out: list[tuple[Path_, str]] = []
    known = set(model.field_names)
    current = current_major(model)
    for at, name, fields, _, _, consumers in _written_rules(model):
        for consumer in consumers:
            major = pinned_major(model, consumer)
            if major is None or consumer not in model.consumers:
                continue
            for j, f in enumerate(fields):
                if f not in known:
                    out.append(
                        (
                            (*at, "fields", j),
                            f"consumer '{consumer}' is pinned to major {major} (served from that major's "
                            f"recorded spec), but {name} names '{f}', which major {current} no longer has; "
                            f"name major {current}'s fields here: they apply once the pin is dropped",
                        )
                    )
    return out


def problems(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Access problems validate reports, each located.

    * a row filter that parses but that the serving evaluator cannot compile (``length(x) > 3``);
    * one consumer's masks of one field whose values differ in type (``year`` and ``email``):
      masks of one type (``hash`` and ``email``) are not a problem, the most revealing applicable
      one is served, see :func:`notes`;
    * a consumer with more than :data:`MAX_CONDITIONS` distinct row filters;
    * a consumer pinned to an earlier major whose rules here name a field this major lacks.
    """
    found: list[tuple[Path_, str]] = []
    known = list(model.field_names)
    for at, _, _, _, row_filter, _ in _written_rules(model):
        why = _unservable_filter(row_filter, known) if row_filter is not None else None
        if why is not None:
            found.append(((*at, "row_filter"), why))
    found += _mask_clashes(model)
    for consumer, view in views(model).items():
        if len(view.conditions) > MAX_CONDITIONS:
            found.append(
                (
                    ("consumers", consumer),
                    f"{len(view.conditions)} distinct row filters apply to "
                    f"consumer '{consumer}'; at most {MAX_CONDITIONS} (merge some policies)",
                )
            )
    found += _pinned_names(model)
    return [doc.issue(at, message) for at, message in found]


def notes(model: ProductSpec) -> list[str]:
    """Things worth knowing that are not errors: a field one consumer gets under several masks.

    Serving shows, per record, the most revealing mask among the rules that apply to it, so the
    consumer gets the field in different forms on different rows.
    """
    out = []
    for consumer, view in views(model).items():
        if len(view.conditions) > MAX_CONDITIONS:
            continue
        for f, forms in view.forms.items():
            if len(forms) > 1:
                shown = ", ".join("in the clear" if m is None else m for m in forms)
                out.append(
                    f"consumer '{consumer}' is served '{f}' as {shown}, depending on the row "
                    "(the most revealing mask of the policies that apply to it wins)"
                )
    return out
