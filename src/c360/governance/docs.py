"""The product's documentation as a static HTML site: contract, history, fields, access, SLAs.

The access section shows each consumer's view as it is served (the compiled policy of
:mod:`c360.governance.policy`): every ``policies:`` entry naming it, the form each field takes
(and whether it depends on the row), its rows, and, for a consumer pinned to an earlier major,
that major's view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from c360.core.clock import iso, utcnow
from c360.governance.lineage import field_lineage
from c360.governance.masks import mask_of
from c360.governance.policy import View, served_view
from c360.governance.sla import SubscriptionStatus
from c360.spec.check_kinds import check_kind
from c360.spec.diff import Plan
from c360.spec.models import CheckSpec, ProductSpec

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
  padding: 0 1rem; color: #1d2330; }
h1 { margin-bottom: 0 } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d8dde6 }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 } th, td { text-align: left;
  padding: .35rem .6rem; border-bottom: 1px solid #e6e9ef; vertical-align: top }
th { background: #f3f5f9 } code { font-size: 13px; background: #f3f5f9; padding: 0 .2rem }
.breaking { color: #a4161a; font-weight: 600 } .semantic { color: #9a6700 } .safe { color: #1a7f37 }
.pii { color: #a4161a; font-weight: 600 } .muted { color: #6b7385 }
.ok { color: #1a7f37 } .bad { color: #a4161a }
td.grant { text-align: center }
"""


@dataclass(frozen=True)
class VersionEntry:
    """One recorded version for the history section."""

    version: str
    applied_at: dt.datetime
    applied_by: str | None
    plan: Plan | None  # changes from the version before; None for the first
    approved: dict[str, Any] | None = None  # the plan as approved by `c360 apply`, if it was applied


@dataclass
class Site:
    product: ProductSpec
    history: Sequence[VersionEntry] = ()
    statuses: Sequence[SubscriptionStatus] | None = None  # live compliance, when a store is at hand
    generated_at: dt.datetime = field(default_factory=utcnow)
    # Consumers pinned to an earlier major → the recorded spec they are served (from the store).
    served: Mapping[str, ProductSpec] = field(default_factory=dict)


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _product(p: ProductSpec) -> str:
    owner = _e(p.owner.team) + (
        f' &lt;<a href="mailto:{_e(p.owner.email)}">{_e(p.owner.email)}</a>&gt;' if p.owner.email else ""
    )
    sources = ", ".join(f"<code>{_e(n)}</code> ({_e(s.connector)})" for n, s in p.sources.items())
    return f"<h1>{_e(p.product)} <span class=muted>{_e(p.version)}</span></h1><p>{_e(p.description)}</p>" + _table(
        ["", ""],
        [
            ["owner", owner],
            ["grain", _e(p.grain)],
            ["version", _e(p.version)],
            ["sources", sources],
            ["fields", str(len(p.fields) + 1)],
            ["consumers", str(len(p.consumers))],
        ],
    )


def _history(entries: Sequence[VersionEntry]) -> str:
    if not entries:
        return "<h2 id=history>Version history</h2><p class=muted>No version recorded yet.</p>"
    parts = ["<h2 id=history>Version history</h2>"]
    for v in reversed(entries):
        who = f" by {_e(v.applied_by)}" if v.applied_by else " (recorded by a build, not approved)"
        parts.append(
            f"<h3 id=v{_e(v.version)}>{_e(v.version)}</h3><p class=muted>applied {_e(iso(v.applied_at))}{who}</p>"
        )
        if v.plan is None:
            parts.append("<p>First recorded version.</p>")
            continue
        if v.plan.semver is not None:
            parts.append(f"<p class=muted>{_e(v.plan.semver.message)}</p>")
        if not v.plan.changes:
            parts.append("<p>No contract change.</p>")
            continue
        items = []
        for c in v.plan.changes:
            who = ", ".join(a.consumer for a in c.affected)
            affects = f" <span class=muted>(affects {_e(who)})</span>" if who else ""
            level = f'<span class="{c.level}">{c.level}</span>'
            items.append(f"<li>{level} {_e(c.message)}{affects}</li>")
        parts.append(f"<ul>{''.join(items)}</ul>")
    return "".join(parts)


def _lineage(p: ProductSpec, name: str) -> str:
    items = []
    for x in field_lineage(p, name):
        if "connector" in x:
            items.append(
                f"<code>{_e(x['source'])}.{_e(x['column'])}</code> "
                f"<span class=muted>({_e(x['connector'])} {_e(x['stream'])}, "
                f"{_e(x['path'])})</span>"
            )
        else:
            items.append(f"<span class=muted>{_e(x.get('transform'))}</span>")
    return "<br>".join(items)


def _check(c: CheckSpec) -> str:
    """A check as the documentation shows it (the check registry's words for its kind)."""
    return check_kind(c.check).human(c)


def _fields(p: ProductSpec) -> str:
    rows = [
        [
            "<code id=f-customer_id>customer_id</code>",
            "string",
            "",
            "Stable surrogate id of the customer",
            "",
            _lineage(p, "customer_id"),
            "",
        ]
    ]
    for name, f in p.fields.items():
        checks = ", ".join(_e(_check(c)) + (" (warn)" if c.level == "warn" else "") for c in f.checks)
        rows.append(
            [
                f"<code id=f-{_e(name)}>{_e(name)}</code>",
                _e(f.type),
                _e(f.unit),
                _e(f.description),
                "<span class=pii>PII</span>" if f.pii else "",
                _lineage(p, name) + f"<br><code>{_e(' '.join(f.expr.split()))}</code>",
                checks,
            ]
        )
    return "<h2 id=fields>Fields</h2>" + _table(
        ["field", "type", "unit", "definition", "PII", "lineage and expression", "checks"], rows
    )


def _cell(view: View, name: str) -> str:
    """How one consumer is served one field: ✓ in the clear, its masks, and whether it varies by row."""
    forms = view.forms.get(name)
    if not forms:
        return ""
    text = " / ".join(
        "✓" if m is None else f'<span title="{_e(mask_of(m).description)}">masked: {_e(m)}</span>' for m in forms
    )
    if len(forms) > 1:
        text += " (by row)"
    if name not in view.always:
        text += " (some rows)"
    return text


def _served_from(view: View) -> str:
    """For a pinned consumer, the spec its view is served from."""
    if view.major is None:
        return ""
    if view.version is not None and view.version.split(".")[0] == str(view.major):
        return f"major {_e(view.major)} ({_e(view.version)})"
    return f"major {_e(view.major)} <span class=muted>(its recorded spec is not at hand; shown as this version)</span>"


def _access(p: ProductSpec, served: Mapping[str, ProductSpec]) -> str:
    consumers = list(p.consumers)
    seen = {c: served_view(p, c, served) for c in consumers}
    about = _table(
        ["consumer", "delivery", "owner", "row filter", "rate limit", "description", "policies", "served from"],
        [
            [
                f"<code>{_e(n)}</code>",
                _e(c.delivery),
                _e(c.owner),
                f"<code>{_e(seen[n].row_filter)}</code>" if seen[n].row_filter else "",
                _e(c.rate_limit),
                _e(c.description),
                ", ".join(f"<code>{_e(r.name)}</code>" for r in seen[n].rules if r.at[0] == "policies"),
                _served_from(seen[n]),
            ]
            for n, c in p.consumers.items()
        ],
    )
    names = list(p.field_names)
    names += [f for v in seen.values() for f in v.fields if f not in names]
    rows = []
    for name in dict.fromkeys(names):
        label = (
            f'<a href="#f-{_e(name)}">{_e(name)}</a>'
            if name in p.field_names
            else (f"{_e(name)} <span class=muted>(earlier major)</span>")
        )
        rows.append([label, *(_cell(seen[c], name) for c in consumers)])
    head = [
        f"<code>{_e(c)}</code>" + (f" (major {_e(seen[c].major)})" if seen[c].major is not None else "")
        for c in consumers
    ]
    matrix = _table(["field", *head], rows, "access")
    return "<h2 id=consumers>Consumers and access</h2>" + about + "<h3>Access matrix</h3>" + matrix


def _subscriptions(p: ProductSpec, statuses: Sequence[SubscriptionStatus] | None) -> str:
    live = {(s.consumer, s.purpose): s for s in statuses or ()}
    rows = []
    for sub in p.subscriptions:
        st = live.get((sub.consumer, sub.purpose))
        if st is None:
            status = "<span class=muted>not measured</span>"
        elif st.compliant:
            status = "<span class=ok>compliant</span>"
        else:
            status = "<span class=bad>" + _e("; ".join(st.violations)) + "</span>"
        sunset = p.lifecycle.sunset.get(sub.major) if sub.major is not None else None
        rows.append(
            [
                f"<code>{_e(sub.consumer)}</code>",
                _e(sub.purpose),
                ", ".join(f'<a href="#f-{_e(f)}">{_e(f)}</a>' for f in sub.fields),
                _e(sub.freshness),
                f"{sub.latency_p99_ms:g} ms" if sub.latency_p99_ms is not None else "",
                _e(sub.major) + (f" (sunset {_e(sunset)})" if sunset else ""),
                status,
            ]
        )
    if not rows:
        return "<h2 id=subscriptions>Subscriptions and SLAs</h2><p class=muted>No subscriptions.</p>"
    return "<h2 id=subscriptions>Subscriptions and SLAs</h2>" + _table(
        ["consumer", "purpose", "relies on", "freshness", "latency p99", "pinned major", "compliance"], rows
    )


def render(site: Site) -> str:
    """The whole site as one HTML page."""
    p = site.product
    nav = " · ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (("history", "history"), ("fields", "fields"), ("consumers", "access"), ("subscriptions", "SLAs"))
    )
    body = "".join(
        [
            _product(p),
            f"<p>{nav}</p>",
            _history(site.history),
            _fields(p),
            _access(p, site.served),
            _subscriptions(p, site.statuses),
            f"<p class=muted>Generated by c360 at {_e(iso(site.generated_at))}.</p>",
        ]
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(p.product)} '
        f"{_e(p.version)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def write_site(site: Site, out_dir: Path) -> Path:
    """Write the site under ``out_dir``; returns the path of its index page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(render(site), encoding="utf-8")
    return index
