"""The compiled policy: one view per consumer, which serving, plan, exports and docs all read.

The reproductions of issue #15 run end to end here: a policy granting support one more field
(planned safe) must keep every support read working after apply and build; the JSON Schema
and the docs must describe what is served (the most revealing mask, the ``policies:`` entries,
a pinned major's view).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlglot import exp
from typer.testing import CliRunner

from c360.api import create_app
from c360.cli import app as cli
from c360.core.errors import SpecError
from c360.governance.access import policy_for
from c360.governance.contracts import consumer_json_schema, odcs_document
from c360.governance.docs import Site, render
from c360.governance.policy import assignments, canonical, implies, notes, served_view, view_of
from c360.spec.expressions import parse_expression
from c360.spec.models import ProductSpec
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store
from tests.api.test_pinned_major import version_two
from tests.conftest import DEMO_AS_OF, BuiltDemo

GOLDEN = Path(__file__).parents[1] / "spec" / "golden"
BASE = load_spec(GOLDEN / "mask_added" / "old.yaml")  # finance and support, no masks, no policies
runner = CliRunner()


def spec_with(extra: str, replace: dict[str, str] | None = None) -> ProductSpec:
    """The golden base spec, with text replaced and ``extra`` YAML appended."""
    text = BASE.text
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return load_spec_text(text + extra, BASE.path).model


FINANCE = "    fields: [customer_id, account_name, mrr, contact_email]\n"


# -- the view ---------------------------------------------------------------------------------


def test_a_policy_without_customer_id_keeps_it_in_the_clear_where_the_base_applies_everywhere() -> None:
    product = spec_with("policies:\n  - {name: extra, consumers: [support], fields: [mrr]}\n")
    view = view_of(product, "support")
    assert view.fields == ("customer_id", "account_name", "segment", "mrr")
    assert "customer_id" in view.clear_everywhere and view.always == set(view.fields)
    # The serving side reads the same view: reading by id stays allowed.
    assert "customer_id" in policy_for(product, "support").unmasked_everywhere


def test_a_row_filtered_policy_without_customer_id_makes_rows_without_it() -> None:
    product = spec_with(
        "policies:\n  - {name: extra, consumers: [support], fields: [mrr], row_filter: 'mrr > 0'}\n",
        {
            "    fields: [customer_id, account_name, segment]\n": (
                "    fields: [customer_id, account_name, segment]\n    row_filter: \"segment = 'smb'\"\n"
            )
        },
    )
    view = view_of(product, "support")
    # A paying non-smb customer is visible by the policy alone, without customer_id.
    assert "customer_id" not in view.clear_everywhere
    assert view.always == frozenset() and view.row_filter == "(segment = 'smb') OR (mrr > 0)"
    acc = policy_for(product, "support").access({"customer_id": "c1", "segment": "enterprise", "mrr": 5})
    assert acc is not None and acc.fields == ("mrr",)


def test_the_most_revealing_mask_wins_and_every_form_is_listed() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email],"
        " masks: {contact_email: email}}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: redact}\n"},
    )
    view = view_of(product, "finance")
    assert view.forms["contact_email"] == ("email",)  # both always apply: email wins
    served = policy_for(product, "finance").view({"customer_id": "c", "contact_email": "jane@acme.com"}, b"k")
    assert served is not None and served["contact_email"] == "j***@acme.com"


def test_filters_make_forms_depend_on_the_row() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email], row_filter: 'mrr > 0'}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: hash}\n"},
    )
    view = view_of(product, "finance")
    assert view.forms["contact_email"] == ("hash", None)
    assert view.masks_of("contact_email") == ["hash"] and view.mask("contact_email") == "hash"
    assert "contact_email" in view.clear_somewhere and "contact_email" not in view.clear_everywhere
    assert any("'contact_email' as hash, in the clear" in n for n in notes(product))


def test_an_unknown_consumer_is_denied_even_when_a_policy_names_it() -> None:
    product = ProductSpec.model_validate(
        {
            **BASE.model.model_dump(by_alias=True),
            "policies": [{"name": "ghost", "consumers": ["nobody"], "fields": ["mrr"]}],
        }
    )
    view = view_of(product, "nobody")
    assert view.denied and view.fields == () and view.cases == ()


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("segment = 'smb'", "segment in ('smb', 'mid_market')", True),
        ("segment in ('smb', 'mid_market')", "segment = 'smb'", False),
        ("'smb' = segment", "segment in ('smb')", True),
        ("mrr > 10", "mrr > 0", True),
        ("mrr > 10", "mrr >= 10", True),
        ("mrr >= 10", "mrr > 10", False),
        ("mrr >= 11", "mrr > 10", True),
        ("mrr < 0", "mrr <= 0", True),
        ("mrr > 0", "mrr < 100", False),
        ("mrr > 0 and segment = 'smb'", "mrr > 0", True),
        ("mrr > 0", "mrr > 0 or segment = 'smb'", True),
        ("segment = 'smb' or segment = 'mid_market'", "segment in ('smb', 'mid_market', 'enterprise')", True),
        ("segment = 'smb'", "segment = 'enterprise'", False),
        ("not segment = 'smb'", "segment = 'smb'", False),
        ("segment = '1'", "segment in (1)", False),  # a string is not a number
    ],
)
def test_implications_between_row_filters(a: str, b: str, expected: bool) -> None:
    assert implies(parse_expression(canonical(a)), parse_expression(canonical(b))) is expected


def test_cases_leave_out_combinations_an_implication_rules_out() -> None:
    narrow, wide = canonical("segment = 'smb'"), canonical("segment in ('smb', 'mid_market')")
    got = set(assignments(sorted([narrow, wide])))
    assert got == {frozenset(), frozenset({wide}), frozenset({narrow, wide})}


def test_a_filter_differing_in_case_and_spacing_is_the_same_condition() -> None:
    assert canonical("SEGMENT   =  'smb'") == canonical("segment = 'smb'")
    assert isinstance(parse_expression(canonical("a > 1 AND b")), exp.And)


# -- the exports and the docs read the same view --------------------------------------------------


def test_json_schema_types_a_field_by_the_mask_it_is_served_with() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email],"
        " masks: {contact_email: email}}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: redact}\n"},
    )
    prop = consumer_json_schema(product, "finance")["properties"]["contact_email"]
    assert prop["type"] == ["string", "null"]  # served j***@acme.com, never only null


def test_json_schema_of_row_dependent_fields() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [support], fields: [contact_email], row_filter: 'mrr > 0'}\n"
        "  - {name: hashed, consumers: [support], fields: [contact_email], masks: {contact_email: hash}}\n"
    )
    schema = consumer_json_schema(product, "support")
    prop = schema["properties"]["contact_email"]
    assert [p["type"] for p in prop["anyOf"]] == [["string", "null"], ["string", "null"]]
    assert "depending on the row" in prop["description"]
    assert schema["required"] == ["customer_id", "account_name", "segment", "contact_email"]
    only_some = spec_with(
        "policies:\n  - {name: contacts, consumers: [support], fields: [mrr], row_filter: 'mrr > 0'}\n"
    )
    assert "mrr" not in consumer_json_schema(only_some, "support")["required"]


def test_odcs_view_shows_the_served_mask_and_every_row_filter() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email],"
        " masks: {contact_email: email}, row_filter: 'mrr > 0'}\n",
        {FINANCE: "    fields: [customer_id, account_name, mrr]\n    row_filter: \"segment = 'smb'\"\n"},
    )
    doc = odcs_document(product, "finance")
    props = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert {"property": "mask", "value": "email"} in props["contact_email"]["customProperties"]
    assert doc["description"]["limitations"] == "Rows limited to: (segment = 'smb') OR (mrr > 0)"


class Grid(HTMLParser):
    """The access section's two tables (consumers, then the matrix) as rows of cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def grid(html: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(consumer → its row in the consumers table, field → its cells in the matrix) of a page."""
    page = Grid()
    page.feed(html)
    about = next(t for t in page.tables if t[0][:2] == ["consumer", "delivery"])
    matrix = next(t for t in page.tables if t[0][0] == "field" and "type" not in t[0])
    cells = {row[0]: row[1:] for row in matrix[1:]}
    cells["(header)"] = matrix[0][1:]
    return {row[0]: row for row in about[1:]}, cells


def test_the_docs_grid_includes_policies_entries_and_the_served_mask() -> None:
    product = spec_with(
        "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email],"
        " masks: {contact_email: email}}\n"
        "  - {name: paying, consumers: [support], fields: [mrr], row_filter: 'mrr > 0'}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: redact}\n"},
    )
    about, cells = grid(render(Site(product)))
    assert cells["contact_email"] == ["masked: email", ""]
    assert cells["mrr"] == ["✓", "✓ (some rows)"]
    assert about["support"][6] == "policies.paying" and about["finance"][6] == "policies.contacts"


def test_the_docs_grid_shows_a_pinned_consumer_its_majors_view() -> None:
    v1 = BASE.model
    v2 = spec_with(
        "",
        {
            "version: 1.0.0": "version: 2.0.0",
            FINANCE: FINANCE + "    masks: {contact_email: email}\n",
            "purpose: revenue reporting, freshness: 24h}": "purpose: revenue reporting, freshness: 24h, major: 1}",
        },
    )
    assert served_view(v2, "finance", {}).forms["contact_email"] == ("email",)
    assert served_view(v2, "finance", {"finance": v1}).forms["contact_email"] == (None,)
    about, cells = grid(render(Site(v2, served={"finance": v1})))
    assert cells["(header)"] == ["finance (major 1)", "support"]
    assert cells["contact_email"] == ["✓", ""]  # served in the clear, from 1.0.0
    assert about["finance"][7] == "major 1 (1.0.0)"


# -- validate ---------------------------------------------------------------------------------------


def problems_of(extra: str, replace: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecError) as err:
        spec_with(extra, replace)
    return [f"{i.key}: {i.message}" for i in err.value.issues]


def test_a_policy_row_filter_serving_cannot_compile_is_a_located_error() -> None:
    (issue,) = problems_of(
        "policies:\n  - {name: long, consumers: [support], fields: [mrr], row_filter: 'length(segment) > 3'}\n"
    )
    assert issue.startswith("policies[0].row_filter: this row filter cannot be served")
    assert "not supported in a row filter" in issue
    (issue,) = problems_of(
        "",
        {
            "    fields: [customer_id, account_name, segment]\n": "    fields: [customer_id, account_name, segment]\n"
            "    row_filter: 'sum(mrr) > 0'\n"
        },
    )
    assert issue.startswith("consumers.support.row_filter: this row filter cannot be served")


def test_a_policy_row_filter_that_does_not_parse_is_reported_once() -> None:
    issues = problems_of("policies:\n  - {name: bad, consumers: [support], fields: [mrr], row_filter: 'mrr > ('}\n")
    assert len(issues) == 1 and issues[0].startswith("policies[0].row_filter: cannot parse")
    # Read as SQL, ``mrr > > 1`` is the shift ``mrr >> 1``: it parses, but no server could evaluate it.
    (issue,) = problems_of("policies:\n  - {name: bad, consumers: [support], fields: [mrr], row_filter: 'mrr > > 1'}\n")
    assert issue.startswith("policies[0].row_filter: this row filter cannot be served: 'mrr >> 1'")


def test_masks_whose_values_differ_in_type_on_one_field_are_an_error() -> None:
    (issue,) = problems_of(
        "policies:\n  - {name: years, consumers: [finance], fields: [contact_email], masks: {contact_email: year}}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: email}\n"},
    )
    assert issue.startswith(
        "policies[0].masks.contact_email: 'contact_email' is masked year here but email "
        "by consumers.finance for consumer 'finance'"
    )


def test_masks_of_one_type_are_served_most_revealing_first_and_noted() -> None:
    product = spec_with(
        "policies:\n  - {name: shown, consumers: [finance], fields: [contact_email], masks: {contact_email: email},"
        " row_filter: 'mrr > 0'}\n",
        {FINANCE: FINANCE + "    masks: {contact_email: hash}\n"},
    )
    assert view_of(product, "finance").forms["contact_email"] == ("hash", "email")
    assert any("'contact_email' as hash, email, depending on the row" in n for n in notes(product))


def test_a_pinned_consumers_policy_naming_a_field_this_major_lacks_is_a_located_error() -> None:
    issues = problems_of(
        "",
        {
            "version: 1.0.0": "version: 2.0.0",
            "  mrr:\n": "  monthly_revenue:\n",
            "purpose: revenue reporting, freshness: 24h}": "purpose: revenue reporting, freshness: 24h, major: 1}",
            "fields: [mrr, account_name]": "fields: [monthly_revenue, account_name]",
        },
    )
    pinned = [i for i in issues if "pinned" in i]
    assert pinned == [
        "consumers.finance.fields[2]: consumer 'finance' is pinned to major 1 (served from that major's recorded "
        "spec), but consumers.finance names 'mrr', which major 2 no longer has; name major 2's fields here: "
        "they apply once the pin is dropped"
    ]


def test_too_many_row_filters_for_one_consumer_is_an_error() -> None:
    policies = "".join(
        f"  - {{name: p{i}, consumers: [support], fields: [mrr], row_filter: 'mrr > {i}'}}\n" for i in range(11)
    )
    (issue,) = problems_of("policies:\n" + policies)
    assert issue.startswith("consumers.support: 11 distinct row filters apply to consumer 'support'")


# -- end to end: plan safe, apply, build, serve ------------------------------------------------------


@pytest.fixture()
def demo_copy(built_demo: BuiltDemo, tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    d = tmp_path / "demo"
    shutil.copytree(built_demo.dir, d)
    spec = d / "product.yaml"
    store = ["--store", f"sqlite:///{d}/store.db"]
    assert runner.invoke(cli, ["apply", str(spec), "--approved-by", "alice", *store]).exit_code == 0
    yield spec, store


def _build(spec: Path, store: list[str]) -> None:
    built = runner.invoke(cli, ["build", str(spec), "--skip-sync", "--as-of", DEMO_AS_OF, *store])
    assert built.exit_code == 0, built.output


def test_granting_support_one_more_field_planned_safe_keeps_every_read_working(
    demo_copy: tuple[Path, list[str]],
) -> None:
    spec, store = demo_copy
    text = spec.read_text().replace("version: 1.0.0", "version: 1.1.0")
    spec.write_text(text + "\npolicies:\n  - {name: billing_context, consumers: [support], fields: [billing_active]}\n")
    plan = runner.invoke(cli, ["plan", str(spec), *store])
    assert plan.exit_code == 0, plan.output
    assert "'support' granted 'billing_active'" in plan.output and "breaking" not in plan.output
    assert runner.invoke(cli, ["apply", str(spec), "--approved-by", "bob", *store]).exit_code == 0
    _build(spec, store)

    s = Store.open(store[1])
    support = {"Authorization": f"Bearer {s.create_key('support')}"}
    with TestClient(create_app(load_spec(spec), s, refresh_seconds=0)) as c:
        page = c.get("/v1/customers?limit=3", headers=support)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert items and all("billing_active" in i for i in items)
        cid = items[0]["customer_id"]
        one = c.get(f"/v1/customers/{cid}?mode=materialised", headers=support)
        assert one.status_code == 200 and one.json()["customer_id"] == cid
        batch = c.post("/v1/customers:batchGet", json={"ids": [cid]}, headers=support)
        assert batch.status_code == 200 and len(batch.json()["items"]) == 1


def test_the_product_page_shows_a_pinned_consumer_what_it_is_served(demo_copy: tuple[Path, list[str]]) -> None:
    spec, store = demo_copy
    text = version_two(spec.read_text())
    masked = re.sub(
        r"(  finance:\n(?:    .*\n)+?    fields: \[[^\]]*\]\n)", r"\1    masks: {billing_contact_email: email}\n", text
    )
    assert masked != text
    spec.write_text(masked)
    assert runner.invoke(cli, ["apply", str(spec), "--approved-by", "bob", *store]).exit_code == 0
    _build(spec, store)

    s = Store.open(store[1])
    finance = {"Authorization": f"Bearer {s.create_key('finance')}"}
    owner = {"Authorization": f"Bearer {s.create_key('product_owner')}"}
    with TestClient(create_app(load_spec(spec), s, refresh_seconds=0)) as c:
        items = c.get("/v1/customers?limit=50", headers=finance).json()["items"]
        emails = [i["billing_contact_email"] for i in items if i.get("billing_contact_email")]
        assert emails and all("***" not in e for e in emails)  # major 1 serves it in the clear
        page = c.get("/", headers=owner)
        assert page.status_code == 200
    about, cells = grid(page.text)
    header = cells["(header)"]
    col = header.index("finance (major 1)")
    assert cells["billing_contact_email"][col] == "✓"
    assert cells["mrr (earlier major)"][col] == "✓"  # 1.0.0's name for monthly_recurring_revenue
    assert cells["monthly_recurring_revenue"][col] == ""
    assert about["finance"][7] == "major 1 (1.0.0)"
