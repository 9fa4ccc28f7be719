"""Identity rules and identifiers as validate reads them: the rule grammar, transforms and references."""

from __future__ import annotations

import re
from dataclasses import dataclass

from c360.core.errors import SpecIssue
from c360.core.text import closest
from c360.spec.loader import Located, Path_
from c360.spec.models import ProductSpec

__all__ = ["IDENTITY_ATTRIBUTES", "RULE", "TRANSFORMS", "Rule", "check_identifiers", "check_ref", "check_rules"]

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


def check_rules(model: ProductSpec, doc: Located) -> tuple[list[Rule], list[SpecIssue]]:
    """The identity rules that read well, and the problems of those that do not."""
    rules: list[Rule] = []
    issues: list[SpecIssue] = []
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
            *check_ref(rule.left_source, rule.left_column, model, doc, at),
            *check_ref(rule.right_source, rule.right_column, model, doc, at),
        ]
        for fn in (*rule.left_transform, *rule.right_transform):
            if fn not in TRANSFORMS:
                found.append(
                    doc.issue(at, f"unknown transform '{fn}' (known: {', '.join(TRANSFORMS)})", closest(fn, TRANSFORMS))
                )
        issues.extend(found)
        if not found:
            rules.append(rule)
    return rules, issues


def check_identifiers(model: ProductSpec, doc: Located) -> list[SpecIssue]:
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


def check_ref(source: str, column: str, model: ProductSpec, doc: Located, at: Path_) -> list[SpecIssue]:
    if not source:
        return [doc.issue(at, f"column '{column}' needs its source, e.g. crm.{column}")]
    src = model.sources.get(source)
    if src is None:
        return [doc.issue(at, f"unknown source '{source}'", closest(source, model.sources))]
    if column not in src.columns:
        return [doc.issue(at, f"source '{source}' has no column '{column}'", closest(column, src.columns))]
    return []
