"""Load a product spec and check it whole: every problem found, each located and explained.

The checks are grouped by what they read: :mod:`c360.spec.validate_pydantic` (the model's own
errors, located), :mod:`c360.spec.validate_sources` (a source's columns and identity),
:mod:`c360.spec.validate_rules` (identity rules and identifiers), :mod:`c360.spec.validate_access`
(consumers, policies, subscriptions) and the compiled policy's own problems
(:func:`c360.governance.policy.problems`). This module holds what remains: fields, erasure,
lifecycle and each source's connector options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from c360.core.errors import C360Error, MissingDependency, SpecError, SpecIssue
from c360.core.text import closest
from c360.governance.policy import problems as access_problems
from c360.spec.expressions import ExpressionError, column_refs, parse_expression
from c360.spec.loader import Located, Path_, load_yaml, load_yaml_text, substitute_env
from c360.spec.models import IDENT, SOURCE_KEYS, CheckSpec, ProductSpec, SourceSpec
from c360.spec.validate_access import check_consumers, check_policies, check_subscriptions
from c360.spec.validate_pydantic import pydantic_issues
from c360.spec.validate_rules import (
    IDENTITY_ATTRIBUTES,
    RULE,
    TRANSFORMS,
    Rule,
    check_identifiers,
    check_ref,
    check_rules,
)
from c360.spec.validate_sources import check_source

__all__ = ["IDENTITY_ATTRIBUTES", "RULE", "TRANSFORMS", "Rule", "Spec", "SpecError", "load_spec", "load_spec_text"]


@dataclass(frozen=True)
class Spec:
    """A validated spec: the model, where it came from, and its parsed rules."""

    model: ProductSpec
    path: Path
    rules: tuple[Rule, ...]
    text: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent


def load_spec(path: str | Path) -> Spec:
    """Load and validate ``path``; raise :class:`SpecError` listing every issue."""
    p = Path(path)
    doc = load_yaml(p)
    return _validate(doc, p, p.read_text(encoding="utf-8"))


def load_spec_text(text: str, path: str | Path = "product.yaml") -> Spec:
    p = Path(path)
    return _validate(load_yaml_text(text, str(p)), p, text)


def _validate(doc: Located, path: Path, text: str) -> Spec:
    issues: list[SpecIssue] = []
    if not isinstance(doc.data, dict):
        raise SpecError([doc.issue((), "expected a mapping with product, version, sources, fields, ...")])
    data = substitute_env(doc.data, (), doc, issues)
    try:
        model = ProductSpec.model_validate(data)
    except ValidationError as exc:
        issues.extend(pydantic_issues(exc, doc, data))
        raise SpecError(issues) from None
    rules = _check(model, doc, issues, path.parent)
    if issues:
        raise SpecError(issues)
    return Spec(model, path, tuple(rules), text)


# -- semantic checks -----------------------------------------------------------


def _check(model: ProductSpec, doc: Located, issues: list[SpecIssue], base_dir: Path) -> list[Rule]:
    for name, src in model.sources.items():
        issues.extend(check_source(name, src, model, doc, _check_connector))
    rules, found = check_rules(model, doc)
    issues.extend(found)
    issues.extend(check_identifiers(model, doc))
    issues.extend(_check_fields(model, doc))
    issues.extend(check_consumers(model, doc))
    issues.extend(check_policies(model, doc))
    issues.extend(check_subscriptions(model, doc))
    issues.extend(_check_erasure(model, doc))
    issues.extend(_check_lifecycle(model, doc))
    issues.extend(access_problems(model, doc))
    return rules


def _check_fields(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Field names, expressions reading declared columns, freshness checks naming their sources."""
    out: list[SpecIssue] = []
    for fname, f in model.fields.items():
        at: Path_ = ("fields", fname)
        if not IDENT.match(fname):
            out.append(doc.issue(at, "a field name must be a lower-case identifier (a-z, 0-9, _)"))
        if fname == "customer_id":
            out.append(doc.issue(at, "customer_id is built in; do not declare it"))
            continue
        try:
            node = parse_expression(f.expr)
        except ExpressionError as exc:
            out.append(doc.issue((*at, "expr"), str(exc)))
            continue
        refs = column_refs(node)
        for ref in refs:
            out.extend(check_ref(ref.source, ref.column, model, doc, (*at, "expr")))
        for i, check in enumerate(f.checks):
            if check.check == "freshness" and check.source is not None:
                out.extend(_check_freshness(check, {r.source for r in refs}, model, doc, (*at, "checks", i)))
    return out


def _check_erasure(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Erasure names the product's fields, and no field is both deleted and retained."""
    out: list[SpecIssue] = []
    erasure = model.erasure
    for part in ("delete", "anonymise"):
        for i, fname in enumerate(getattr(erasure, part)):
            if fname not in model.fields:
                out.append(doc.issue(("erasure", part, i), f"unknown field '{fname}'", closest(fname, model.fields)))
    for fname in erasure.retain:
        if fname not in model.fields:
            out.append(
                doc.issue(("erasure", "retain", fname), f"unknown field '{fname}'", closest(fname, model.fields))
            )
        if fname in erasure.delete:
            out.append(doc.issue(("erasure", "retain", fname), f"'{fname}' cannot be both deleted and retained"))
    return out


def _check_freshness(check: CheckSpec, feeds: set[str], model: ProductSpec, doc: Located, at: Path_) -> list[SpecIssue]:
    """A freshness check names a source that feeds the field and, optionally, a timestamp column of it."""
    src = model.sources.get(check.source or "")
    if src is None:
        return [
            doc.issue((*at, "source"), f"unknown source '{check.source}'", closest(check.source or "", model.sources))
        ]
    out = []
    if check.source not in feeds:
        out.append(
            doc.issue(
                (*at, "source"),
                f"source '{check.source}' does not feed this field (it reads "
                f"{', '.join(sorted(feeds)) or 'no source'})",
            )
        )
    if check.column is not None:
        col = src.columns.get(check.column)
        if col is None:
            out.append(
                doc.issue(
                    (*at, "column"),
                    f"source '{check.source}' declares no column '{check.column}'",
                    closest(check.column, src.columns),
                )
            )
        elif col.type != "timestamp":
            out.append(
                doc.issue(
                    (*at, "column"),
                    f"'{check.source}.{check.column}' is {col.type}; a freshness column must be a timestamp",
                )
            )
    return out


def _check_lifecycle(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    """Pinned majors must exist; sunsets belong to earlier majors and lie ahead."""
    from c360.core.clock import utcnow

    out = []
    current = int(model.version.split(".")[0])
    for i, sub in enumerate(model.subscriptions):
        if sub.major is not None and not 0 <= sub.major <= current:
            out.append(
                doc.issue(
                    ("subscriptions", i, "major"),
                    f"major version {sub.major} does not exist (this spec is "
                    f"{model.version}); pin {current} or an earlier major",
                )
            )
    today = utcnow().date()
    for major, date in model.lifecycle.sunset.items():
        at: Path_ = ("lifecycle", "sunset", str(major))
        if major >= current:
            out.append(
                doc.issue(
                    at, f"cannot sunset major {major}: this spec is {model.version}; only earlier majors can be sunset"
                )
            )
        elif date < today:
            pinned = sorted({s.consumer for s in model.subscriptions if s.major == major})
            todo = f"move {', '.join(pinned)} to major {current} and drop their pin" if pinned else "remove the entry"
            out.append(
                doc.issue(at, f"sunset date {date} of major {major} is in the past; {todo}, or set a later date")
            )
    return out


def _check_connector(at: Path_, src: SourceSpec, doc: Located) -> list[SpecIssue]:
    """The source's connector is known and its options are the connector's."""
    from c360.connectors.registry import REGISTRY, options_model

    if src.connector not in REGISTRY:
        return [
            doc.issue(
                (*at, "connector"),
                f"unknown connector '{src.connector}' (known: {', '.join(sorted(REGISTRY))})",
                closest(src.connector, REGISTRY),
            )
        ]
    try:
        opts_model = options_model(src.connector)
    except (MissingDependency, C360Error) as exc:
        return [doc.issue((*at, "connector"), str(exc))]
    try:
        opts_model.model_validate(src.options)
    except ValidationError as exc:
        allowed = sorted(set(opts_model.model_fields) | SOURCE_KEYS | set(SourceSpec.model_fields))
        return [_option_issue(at, src, doc, err, allowed) for err in exc.errors()]
    return []


def _option_issue(at: Path_, src: SourceSpec, doc: Located, err: Any, allowed: list[str]) -> SpecIssue:
    key = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        return doc.issue((*at, key), f"unknown option '{key}' for connector '{src.connector}'", closest(key, allowed))
    msg = "is required" if err["type"] == "missing" else err["msg"]
    return doc.issue((*at, key) if key else at, f"option '{key}' of connector '{src.connector}': {msg}")
