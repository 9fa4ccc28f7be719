"""A source's own keys as validate checks them: columns, identity attributes, belongs_to, updated_at.

Its connector's options are checked by :mod:`c360.spec.validate`, which alone may ask the
connector registry.
"""

from __future__ import annotations

from collections.abc import Callable

from c360.core.errors import SpecIssue
from c360.core.text import closest
from c360.spec.loader import Located, Path_
from c360.spec.models import IDENT, ColumnSpec, ProductSpec, SourceSpec
from c360.spec.validate_rules import IDENTITY_ATTRIBUTES

__all__ = ["check_hygiene", "check_source"]


def check_source(
    name: str,
    src: SourceSpec,
    model: ProductSpec,
    doc: Located,
    connector: Callable[[Path_, SourceSpec, Located], list[SpecIssue]],
) -> list[SpecIssue]:
    """Every problem of source ``name``; ``connector`` checks its connector and options."""
    at: Path_ = ("sources", name)
    out: list[SpecIssue] = []
    if not IDENT.match(name):
        out.append(doc.issue(at, "a source name must be a lower-case identifier (a-z, 0-9, _)"))
    out += connector(at, src, doc)
    out += _columns(at, src, model, doc)
    out += _identity(at, src, model, doc)
    if src.belongs_to is not None:
        out += _belongs_to(at, src, model, doc)
    elif not src.identity:
        out.append(doc.issue(at, "a source needs identity attributes or belongs_to another source"))
    cols = src.columns
    if src.updated_at is not None and cols and src.updated_at not in cols:
        out.append(
            doc.issue(
                (*at, "updated_at"),
                f"unknown column '{src.updated_at}' (updated_at names the "
                "declared column that says which of two rows with one key is newer)",
                closest(src.updated_at, cols),
            )
        )
    return out


def _columns(at: Path_, src: SourceSpec, model: ProductSpec, doc: Located) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    cols = src.columns
    if not cols:
        out.append(doc.issue(at, "declare the columns the product reads, with their types (columns: ...)"))
    elif src.key not in cols:
        out.append(
            doc.issue((*at, "key"), f"key '{src.key}' is not one of the source's columns", closest(src.key, cols))
        )
    for cname, col in cols.items():
        out.extend(check_hygiene((*at, "columns", cname), cname, col, doc))
        if isinstance(col.map, str) and col.map not in model.vocabularies:
            out.append(
                doc.issue(
                    (*at, "columns", cname, "map"),
                    f"unknown vocabulary '{col.map}'",
                    closest(col.map, model.vocabularies),
                )
            )
        if (
            col.type == "money"
            and col.currency
            and model.currency.unit != col.currency.upper()
            and col.currency.upper() not in model.currency.rates
        ):
            out.append(
                doc.issue(
                    (*at, "columns", cname, "currency"),
                    f"no rate from {col.currency.upper()} to {model.currency.unit} in currency.rates",
                )
            )
    return out


def _identity(at: Path_, src: SourceSpec, model: ProductSpec, doc: Located) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    cols = src.columns
    for attr, column in src.identity_columns:
        if cols and column not in cols:
            out.append(
                doc.issue(
                    (*at, "identity", attr),
                    f"identity attribute '{attr}' names column '{column}', which the source does not declare",
                    closest(column, cols),
                )
            )
        if attr in IDENTITY_ATTRIBUTES:
            continue
        near = closest(attr, IDENTITY_ATTRIBUTES)
        if near is not None and attr not in model.identity.identifiers:
            # Most likely a misspelt attribute ("emial"); an identifier is declared under that name.
            out.append(
                doc.issue(
                    (*at, "identity", attr),
                    f"unknown identity attribute '{attr}' "
                    f"(expected one of: {', '.join(IDENTITY_ATTRIBUTES)}; an identifier of "
                    f"your own, such as workspace_id, must not look like one: declare it "
                    f"under identity.identifiers)",
                    near,
                )
            )
        elif not IDENT.match(attr):
            out.append(
                doc.issue(
                    (*at, "identity", attr),
                    f"an identifier's name must be a lower-case identifier (a-z, 0-9, _), found '{attr}'",
                )
            )
    return out


def _belongs_to(at: Path_, src: SourceSpec, model: ProductSpec, doc: Located) -> list[SpecIssue]:
    assert src.belongs_to is not None
    out: list[SpecIssue] = []
    cols = src.columns
    parent = model.sources.get(src.belongs_to.source)
    if parent is None:
        out.append(
            doc.issue(
                (*at, "belongs_to", "source"),
                f"unknown source '{src.belongs_to.source}'",
                closest(src.belongs_to.source, model.sources),
            )
        )
    elif parent.belongs_to is not None:
        out.append(
            doc.issue(
                (*at, "belongs_to", "source"), "a source can only belong to a source that resolves its own identity"
            )
        )
    if cols and src.belongs_to.column not in cols:
        out.append(
            doc.issue(
                (*at, "belongs_to", "column"),
                f"unknown column '{src.belongs_to.column}'",
                closest(src.belongs_to.column, cols),
            )
        )
    if src.identity:
        out.append(
            doc.issue(
                (*at, "identity"), "a source that belongs_to another takes its identity from it; remove identity here"
            )
        )
    return out


def check_hygiene(at: Path_, cname: str, col: ColumnSpec, doc: Located) -> list[SpecIssue]:
    """``trim``, ``collapse_spaces`` and ``case`` clean text: they belong to string columns."""
    if col.type == "string":
        return []
    out = []
    for option in ("trim", "collapse_spaces", "case"):
        value = getattr(col, option)
        if value not in (False, None):
            why = (
                ""
                if col.type == "json"
                else (f" (read as {col.type}, its values' surrounding spaces are ignored already)")
            )
            out.append(
                doc.issue(
                    (*at, option),
                    f"'{option}' cleans text, so it belongs to a string column, and "
                    f"'{cname}' is {col.type}{why}; remove it, or declare the column 'type: string'",
                )
            )
    return out
