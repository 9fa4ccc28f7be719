"""The documentation site: product, history and changelog, fields and lineage, access, SLAs."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from pathlib import Path

from c360.governance.contracts import apply, approved_plans, changelog
from c360.governance.docs import Site, VersionEntry, render, write_site
from c360.governance.sla import compliance
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store

GOLDEN = Path(__file__).parents[1] / "spec" / "golden"


class Tables(HTMLParser):
    """Every table's rows as lists of cell text, plus all headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self.items: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self._item: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "li":
            self._item = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item).strip())
            self._item = None

    def handle_data(self, data: str) -> None:
        for buf in (self._cell, self._heading, self._item):
            if buf is not None:
                buf.append(data)


def _site(tmp_path: Path) -> tuple[Site, Path]:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    v1 = load_spec(GOLDEN / "mask_added" / "old.yaml")
    apply(store, v1.model, v1.text, "alice")
    v2 = load_spec(GOLDEN / "mask_added" / "new.yaml")
    text = v2.text.replace("description: Billing contact", "description: Billing <contact> & co")
    v2 = load_spec_text(text, v2.path)
    apply(store, v2.model, v2.text, "bob")
    approved = approved_plans(store)
    history = [
        VersionEntry(v.version, v.applied_at, v.applied_by, plan, approved.get(v.version))
        for v, plan in changelog(store)
    ]
    built = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    statuses = compliance(v2.model, built_at=built, sync_times={}, now=built + dt.timedelta(hours=1))
    site = Site(v2.model, history, statuses)
    return site, write_site(site, tmp_path / "site")


def test_the_site_documents_the_product_its_fields_and_their_lineage(tmp_path: Path) -> None:
    site, index = _site(tmp_path)
    assert index == tmp_path / "site" / "index.html"
    html = index.read_text()
    page = Tables()
    page.feed(html)
    assert page.headings[0] == "accounts 2.0.0"
    about = {row[0]: row[1] for row in page.tables[0]}
    assert about["owner"] == "customer-data <customer-data@example.com>"
    fields = {row[0]: row for row in page.tables[1][1:]}
    assert list(fields) == site.product.field_names
    _, type_, unit, definition, pii, lineage, _ = fields["mrr"]
    assert (type_, unit, definition, pii) == ("decimal", "GBP", "Monthly recurring revenue", "")
    assert "billing.amount" in lineage and "billing.status" in lineage and "jsonl billing.jsonl" in lineage
    assert "sum(billing.amount) filter (where billing.status = 'active')" in lineage
    assert fields["contact_email"][4] == "PII"
    assert fields["account_name"][6] == "not null"
    # Text from the spec is escaped, never markup.
    assert fields["contact_email"][3] == "Billing <contact> & co"
    assert "<contact>" not in html


def test_the_site_shows_history_access_and_subscriptions(tmp_path: Path) -> None:
    _, index = _site(tmp_path)
    page = Tables()
    page.feed(index.read_text())
    assert "2.0.0" in page.headings and "1.0.0" in page.headings
    assert any(i.startswith("breaking") and "'contact_email' now masked (email) for 'finance'" in i for i in page.items)
    assert any(i.startswith("safe") and "description of 'contact_email' changed" in i for i in page.items)
    matrix = page.tables[3]
    assert matrix[0] == ["field", "finance", "support"]
    cells = {row[0]: row[1:] for row in matrix[1:]}
    assert cells["contact_email"] == ["masked: email", ""]
    assert cells["account_name"] == ["✓", "✓"]
    assert cells["mrr"] == ["✓", ""]
    subs = {row[0]: row for row in page.tables[4][1:]}
    assert subs["finance"][1:5] == ["revenue reporting", "mrr, account_name", "24h", ""]
    assert subs["finance"][6] == "compliant"
    assert subs["support"][4] == "50 ms" and "the SLA is 15m" in subs["support"][6]


def test_history_says_when_a_version_was_only_recorded_by_a_build(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    v1 = load_spec(GOLDEN / "mask_added" / "old.yaml")
    store.record_spec(v1.model.product, v1.model.version, v1.text)
    history = [VersionEntry(v.version, v.applied_at, v.applied_by, plan) for v, plan in changelog(store)]
    html = render(Site(v1.model, history))
    assert "recorded by a build, not approved" in html and "First recorded version." in html
    assert "not measured" in html
