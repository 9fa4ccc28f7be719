"""Load a product spec and check it whole: every problem found, each located and explained."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from c360.core.errors import C360Error, MissingDependency, SpecError, SpecIssue
from c360.core.text import closest
from c360.governance.policy import problems as access_problems
from c360.spec.expressions import ExpressionError, column_refs, parse_expression
from c360.spec.loader import Located, Path_, load_yaml, load_yaml_text, substitute_env
from c360.spec.models import IDENT, SOURCE_KEYS, CheckSpec, ColumnSpec, ProductSpec, SourceSpec

# The transforms an identity rule or identifier may name (c360.identity.transforms has them).
TRANSFORMS = ("trim", "lower", "digits", "salesforce_id", "e164", "domain", "email")

# Attributes identity resolution normalises and compares; ``parent`` names another record of
# the same source that is a different customer. Other identity keys are identifiers.
IDENTITY_ATTRIBUTES = (
    "name",
    "web_domain",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "country",
    "person_name",
    "first_name",
    "last_name",
    "dob",
    "parent",
)
# A column with spaces or other characters is written in double quotes: ``shop."Customer ID"``.
_SIDE = r"\s*((?:[a-z_]+\(\s*)*)([A-Za-z_]\w*)\.([\w.]+|\"[^\"]+\")\s*((?:\)\s*)*)"
RULE = re.compile(rf"^{_SIDE}=\s*{_SIDE}$")


@dataclass(frozen=True)
class Rule:
    """A deterministic identity rule: ``left.column = right.column`` links records.

    Each side may put its values in one form first: ``salesforce_id(billing.crm_account_id) =
    crm.Id``; transforms apply innermost first. With none declared, values are trimmed, and
    when one side holds Salesforce ids both sides are read as 18-character ids.
    """

    left_source: str
    left_column: str
    right_source: str
    right_column: str
    left_transform: tuple[str, ...] = ()
    right_transform: tuple[str, ...] = ()

    def __str__(self) -> str:
        def side(fns: tuple[str, ...], source: str, column: str) -> str:
            text = f"{source}.{column}" if re.fullmatch(r"[\w.]+", column) else f'{source}."{column}"'
            for fn in fns:
                text = f"{fn}({text})"
            return text

        return (
            f"{side(self.left_transform, self.left_source, self.left_column)} = "
            f"{side(self.right_transform, self.right_source, self.right_column)}"
        )


def _transforms(opening: str) -> tuple[str, ...]:
    """``lower(trim(`` → ``("trim", "lower")``: innermost first."""
    return tuple(reversed([t.strip() for t in opening.split("(") if t.strip()]))


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
        issues.extend(_pydantic_issues(exc, doc, data))
        raise SpecError(issues) from None
    rules = _check(model, doc, issues, path.parent)
    if issues:
        raise SpecError(issues)
    return Spec(model, path, tuple(rules), text)


# -- pydantic errors, located --------------------------------------------------


def _pydantic_issues(exc: ValidationError, doc: Located, data: Any) -> list[SpecIssue]:
    out = []
    for err in exc.errors():
        loc: Path_ = tuple(p for p in err["loc"] if isinstance(p, str | int))
        kind = err["type"]
        suggestion = None
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _allowed_keys(loc[:-1])
            suggestion = closest(key, allowed)
            message = f"unknown key '{key}'" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
        elif kind == "missing":
            message = "is required"
        elif kind in ("literal_error", "enum"):
            expected = re.findall(r"'([^']+)'", str(err.get("ctx", {}).get("expected", "")))
            value = _value_at(data, loc)
            suggestion = closest(str(value), expected) if expected else None
            message = f"'{value}' is not valid; expected one of: {', '.join(expected)}"
        else:
            value = _value_at(data, loc)
            msg = err["msg"].removeprefix("Value error, ")
            message = f"{msg} (found {value!r})" if value is not None and not isinstance(value, dict | list) else msg
        out.append(doc.issue(loc, message, suggestion))
    return out


def _value_at(data: Any, loc: Path_) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _allowed_keys(loc: Path_) -> list[str]:
    from c360.spec import models as m

    if not loc:
        return list(m.ProductSpec.model_fields)
    head = loc[0]
    table: dict[str, type[Any]] = {
        "owner": m.Owner,
        "currency": m.Currency,
        "identity": m.IdentitySpec,
        "erasure": m.ErasureSpec,
    }
    if head in table and len(loc) == 1:
        return list(table[str(head)].model_fields)
    if head == "identity" and loc[1:] == ("match",):
        return list(m.MatchSpec.model_fields)
    if head == "fields" and len(loc) == 2:
        return list(m.FieldSpec.model_fields)
    if head == "consumers" and len(loc) == 2:
        return list(m.ConsumerSpec.model_fields)
    if head == "subscriptions" and len(loc) == 2:
        return list(m.SubscriptionSpec.model_fields)
    if head == "sources" and len(loc) == 4 and loc[2] == "columns":
        return [f.alias or name for name, f in m.ColumnSpec.model_fields.items()]
    return []


# -- semantic checks -----------------------------------------------------------


def _check(model: ProductSpec, doc: Located, issues: list[SpecIssue], base_dir: Path) -> list[Rule]:
    sources = model.sources
    for name, src in sources.items():
        _check_source(name, src, model, doc, issues)
    rules = _check_rules(model, doc, issues)
    issues.extend(_check_identifiers(model, doc))

    for fname, f in model.fields.items():
        at: Path_ = ("fields", fname)
        if not IDENT.match(fname):
            issues.append(doc.issue(at, "a field name must be a lower-case identifier (a-z, 0-9, _)"))
        if fname == "customer_id":
            issues.append(doc.issue(at, "customer_id is built in; do not declare it"))
            continue
        try:
            node = parse_expression(f.expr)
        except ExpressionError as exc:
            issues.append(doc.issue((*at, "expr"), str(exc)))
            continue
        refs = column_refs(node)
        for ref in refs:
            issues.extend(_check_ref(ref.source, ref.column, model, doc, (*at, "expr")))
        for i, check in enumerate(f.checks):
            if check.check == "freshness" and check.source is not None:
                issues.extend(_check_freshness(check, {r.source for r in refs}, model, doc, (*at, "checks", i)))

    known = model.field_names
    for cname, consumer in model.consumers.items():
        for i, fname in enumerate(consumer.fields):
            if fname not in known:
                issues.append(
                    doc.issue(
                        ("consumers", cname, "fields", i),
                        f"unknown field '{fname}' in consumers.{cname}.fields",
                        closest(fname, known),
                    )
                )
        issues.extend(
            _check_access(("consumers", cname), consumer.fields, consumer.masks, consumer.row_filter, model, doc)
        )
    for i, policy in enumerate(model.policies):
        at_p: Path_ = ("policies", i)
        for j, cname in enumerate(policy.consumers):
            if cname not in model.consumers:
                issues.append(
                    doc.issue((*at_p, "consumers", j), f"unknown consumer '{cname}'", closest(cname, model.consumers))
                )
        for j, fname in enumerate(policy.fields):
            if fname not in known:
                issues.append(doc.issue((*at_p, "fields", j), f"unknown field '{fname}'", closest(fname, known)))
        issues.extend(_check_access(at_p, policy.fields, policy.masks, policy.row_filter, model, doc))
    for i, sub in enumerate(model.subscriptions):
        at = ("subscriptions", i)
        granted = model.consumers.get(sub.consumer)
        if granted is None:
            issues.append(
                doc.issue(
                    (*at, "consumer"), f"unknown consumer '{sub.consumer}'", closest(sub.consumer, model.consumers)
                )
            )
            continue
        for j, fname in enumerate(sub.fields):
            if fname not in known:
                issues.append(doc.issue((*at, "fields", j), f"unknown field '{fname}'", closest(fname, known)))
            elif fname not in granted.fields:
                issues.append(
                    doc.issue(
                        (*at, "fields", j),
                        f"consumer '{sub.consumer}' subscribes to '{fname}' but is not granted it; "
                        f"add it to consumers.{sub.consumer}.fields or drop it here",
                    )
                )
    erasure = model.erasure
    for part in ("delete", "anonymise"):
        for i, fname in enumerate(getattr(erasure, part)):
            if fname not in model.fields:
                issues.append(doc.issue(("erasure", part, i), f"unknown field '{fname}'", closest(fname, model.fields)))
    for fname in erasure.retain:
        if fname not in model.fields:
            issues.append(
                doc.issue(("erasure", "retain", fname), f"unknown field '{fname}'", closest(fname, model.fields))
            )
        if fname in erasure.delete:
            issues.append(doc.issue(("erasure", "retain", fname), f"'{fname}' cannot be both deleted and retained"))
    issues.extend(_check_lifecycle(model, doc))
    issues.extend(access_problems(model, doc))
    return rules


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


def _check_access(
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


def _check_source(name: str, src: SourceSpec, model: ProductSpec, doc: Located, issues: list[SpecIssue]) -> None:
    at: Path_ = ("sources", name)
    if not IDENT.match(name):
        issues.append(doc.issue(at, "a source name must be a lower-case identifier (a-z, 0-9, _)"))
    from c360.connectors.registry import REGISTRY, options_model

    if src.connector not in REGISTRY:
        issues.append(
            doc.issue(
                (*at, "connector"),
                f"unknown connector '{src.connector}' (known: {', '.join(sorted(REGISTRY))})",
                closest(src.connector, REGISTRY),
            )
        )
    else:
        try:
            opts_model = options_model(src.connector)
        except MissingDependency as exc:
            issues.append(doc.issue((*at, "connector"), str(exc)))
        except C360Error as exc:
            issues.append(doc.issue((*at, "connector"), str(exc)))
        else:
            try:
                opts_model.model_validate(src.options)
            except ValidationError as exc:
                for err in exc.errors():
                    key = str(err["loc"][0]) if err["loc"] else ""
                    if err["type"] == "extra_forbidden":
                        allowed = sorted(set(opts_model.model_fields) | SOURCE_KEYS | set(SourceSpec.model_fields))
                        issues.append(
                            doc.issue(
                                (*at, key),
                                f"unknown option '{key}' for connector '{src.connector}'",
                                closest(key, allowed),
                            )
                        )
                    else:
                        msg = "is required" if err["type"] == "missing" else err["msg"]
                        issues.append(
                            doc.issue(
                                (*at, key) if key else at, f"option '{key}' of connector '{src.connector}': {msg}"
                            )
                        )
    cols = src.columns
    if not cols:
        issues.append(doc.issue(at, "declare the columns the product reads, with their types (columns: ...)"))
    elif src.key not in cols:
        issues.append(
            doc.issue((*at, "key"), f"key '{src.key}' is not one of the source's columns", closest(src.key, cols))
        )
    for cname, col in cols.items():
        issues.extend(_check_hygiene((*at, "columns", cname), cname, col, doc))
        if isinstance(col.map, str) and col.map not in model.vocabularies:
            issues.append(
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
            issues.append(
                doc.issue(
                    (*at, "columns", cname, "currency"),
                    f"no rate from {col.currency.upper()} to {model.currency.unit} in currency.rates",
                )
            )
    for attr, column in src.identity_columns:
        if cols and column not in cols:
            issues.append(
                doc.issue(
                    (*at, "identity", attr),
                    f"identity attribute '{attr}' names column '{column}', which the source does not declare",
                    closest(column, cols),
                )
            )
        if attr not in IDENTITY_ATTRIBUTES:
            near = closest(attr, IDENTITY_ATTRIBUTES)
            if near is not None and attr not in model.identity.identifiers:
                # Most likely a misspelt attribute ("emial"); an identifier is declared under that name.
                issues.append(
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
                issues.append(
                    doc.issue(
                        (*at, "identity", attr),
                        f"an identifier's name must be a lower-case identifier (a-z, 0-9, _), found '{attr}'",
                    )
                )
    if src.belongs_to is not None:
        parent = model.sources.get(src.belongs_to.source)
        if parent is None:
            issues.append(
                doc.issue(
                    (*at, "belongs_to", "source"),
                    f"unknown source '{src.belongs_to.source}'",
                    closest(src.belongs_to.source, model.sources),
                )
            )
        elif parent.belongs_to is not None:
            issues.append(
                doc.issue(
                    (*at, "belongs_to", "source"), "a source can only belong to a source that resolves its own identity"
                )
            )
        if cols and src.belongs_to.column not in cols:
            issues.append(
                doc.issue(
                    (*at, "belongs_to", "column"),
                    f"unknown column '{src.belongs_to.column}'",
                    closest(src.belongs_to.column, cols),
                )
            )
        if src.identity:
            issues.append(
                doc.issue(
                    (*at, "identity"),
                    "a source that belongs_to another takes its identity from it; remove identity here",
                )
            )
    elif not src.identity:
        issues.append(doc.issue(at, "a source needs identity attributes or belongs_to another source"))
    if src.updated_at is not None and cols and src.updated_at not in cols:
        issues.append(
            doc.issue(
                (*at, "updated_at"),
                f"unknown column '{src.updated_at}' (updated_at names the "
                "declared column that says which of two rows with one key is newer)",
                closest(src.updated_at, cols),
            )
        )


def _check_hygiene(at: Path_, cname: str, col: ColumnSpec, doc: Located) -> list[SpecIssue]:
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


def _check_rules(model: ProductSpec, doc: Located, issues: list[SpecIssue]) -> list[Rule]:
    rules = []
    for i, text in enumerate(model.identity.rules):
        at: Path_ = ("identity", "rules", i)
        m = RULE.match(text)
        if not m or m.group(1).count("(") != m.group(4).count(")") or m.group(5).count("(") != m.group(8).count(")"):
            issues.append(
                doc.issue(
                    at,
                    f"cannot read rule '{text}'; expected 'source.column = source.column', "
                    "each side optionally in transforms such as salesforce_id(crm.Id)",
                )
            )
            continue
        rule = Rule(
            m.group(2),
            m.group(3).strip('"'),
            m.group(6),
            m.group(7).strip('"'),
            _transforms(m.group(1)),
            _transforms(m.group(5)),
        )
        found = [
            *_check_ref(rule.left_source, rule.left_column, model, doc, at),
            *_check_ref(rule.right_source, rule.right_column, model, doc, at),
        ]
        for fn in (*rule.left_transform, *rule.right_transform):
            if fn not in TRANSFORMS:
                found.append(
                    doc.issue(at, f"unknown transform '{fn}' (known: {', '.join(TRANSFORMS)})", closest(fn, TRANSFORMS))
                )
        issues.extend(found)
        if not found:
            rules.append(rule)
    return rules


def _check_identifiers(model: ProductSpec, doc: Located) -> list[SpecIssue]:
    out: list[SpecIssue] = []
    used = {attr for src in model.sources.values() for attr in src.identity if attr not in IDENTITY_ATTRIBUTES}
    for name, ident in model.identity.identifiers.items():
        at: Path_ = ("identity", "identifiers", name)
        if name in IDENTITY_ATTRIBUTES:
            out.append(
                doc.issue(
                    at,
                    f"'{name}' is a built-in identity attribute, compared in its own way; "
                    "an identifier needs a name of its own",
                )
            )
        elif name not in used:
            out.append(doc.issue(at, f"no source's identity declares '{name}'", closest(name, used)))
        for i, fn in enumerate(ident.transform):
            if fn == "regex":
                if not ident.pattern:
                    out.append(doc.issue((*at, "pattern"), "the regex transform needs 'pattern'"))
                else:
                    try:
                        re.compile(ident.pattern)
                    except re.error as exc:
                        out.append(doc.issue((*at, "pattern"), f"not a regular expression: {exc}"))
            elif fn not in TRANSFORMS:
                out.append(
                    doc.issue(
                        (*at, "transform", i),
                        f"unknown transform '{fn}' (known: {', '.join((*TRANSFORMS, 'regex'))})",
                        closest(fn, TRANSFORMS),
                    )
                )
    for i, source in enumerate(model.identity.distinct or ()):
        if source not in model.sources:
            out.append(
                doc.issue(("identity", "distinct", i), f"unknown source '{source}'", closest(source, model.sources))
            )
    return out


def _check_ref(source: str, column: str, model: ProductSpec, doc: Located, at: Path_) -> list[SpecIssue]:
    if not source:
        return [doc.issue(at, f"column '{column}' needs its source, e.g. crm.{column}")]
    src = model.sources.get(source)
    if src is None:
        return [doc.issue(at, f"unknown source '{source}'", closest(source, model.sources))]
    if column not in src.columns:
        return [doc.issue(at, f"source '{source}' has no column '{column}'", closest(column, src.columns))]
    return []
