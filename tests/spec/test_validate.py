"""Spec validation: every error kind, located by file, line and key, with suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.core.errors import SpecError, SpecIssue
from c360.spec.validate import load_spec, load_spec_text

EXAMPLE = Path(__file__).parents[2] / "examples" / "customer_360" / "product.yaml"

BASE = """\
product: shop
version: 1.0.0
owner: {team: data}
sources:
  crm:
    connector: csv
    path: crm.csv
    key: Id
    columns:
      Id: string
      Name: string
      Amount: {type: money, currency: GBP}
    identity: {name: Name}
fields:
  account_name:
    type: string
    description: Name
    expr: crm.Name
  mrr:
    type: decimal
    unit: GBP
    description: Revenue
    expr: sum(crm.Amount)
consumers:
  finance:
    fields: [customer_id, mrr]
"""


def issues_of(text: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "p.yaml")
    return info.value.issues


def test_the_demo_spec_is_valid() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.model.product == "customer_360"
    assert [str(r) for r in spec.rules] == ["billing.crm_account_id = crm.Id"]
    assert set(spec.model.consumers) == {"finance", "support", "marketing", "churn_model", "product_owner"}
    assert spec.model.consumers["product_owner"].rights == ["owner"]


def test_the_base_spec_is_valid() -> None:
    assert load_spec_text(BASE).model.fields["mrr"].unit == "GBP"


def test_unknown_consumer_field_names_line_and_suggests() -> None:
    (issue,) = issues_of(BASE.replace("fields: [customer_id, mrr]", "fields: [customer_id, mmr]"))
    assert issue.file == "p.yaml"
    assert issue.line == 26
    assert issue.suggestion == "mrr"
    assert str(issue) == (
        "p.yaml:26: consumers.finance.fields[1]: unknown field 'mmr' in consumers.finance.fields; did you mean 'mrr'?"
    )


def test_unknown_key_is_named_with_closest_valid_key() -> None:
    text = BASE.replace("    type: string\n    description: Name", "    typ: string\n    description: Name")
    (issue,) = issues_of(text.replace("  account_name:\n", "  account_name:\n    type: string\n"))
    assert issue.key == "fields.account_name.typ"
    assert issue.suggestion == "type"
    assert issue.line == 17


def test_bad_literal_suggests_the_valid_word() -> None:
    (issue,) = issues_of(BASE.replace("owner: {team: data}", "owner: {team: data}\ngrain: acount"))
    assert issue.key == "grain"
    assert issue.line == 4
    assert issue.suggestion == "account"


def test_unknown_connector_suggests_and_names_line() -> None:
    (issue,) = issues_of(BASE.replace("connector: csv", "connector: cvs"))
    assert issue.key == "sources.crm.connector"
    assert issue.line == 6
    assert issue.suggestion == "csv"


def test_unknown_connector_option_is_an_error() -> None:
    missing, unknown = issues_of(BASE.replace("path: crm.csv", "pth: crm.csv"))
    assert unknown.key == "sources.crm.pth" and unknown.line == 7
    assert "unknown option 'pth' for connector 'csv'" in unknown.message
    assert unknown.suggestion == "path"
    assert missing.key == "sources.crm.path" and "is required" in missing.message


def test_expression_with_unknown_column_fails_at_validation() -> None:
    (issue,) = issues_of(BASE.replace("expr: crm.Name", "expr: crm.Nmae"))
    assert issue.key == "fields.account_name.expr"
    assert issue.line == 18
    assert "source 'crm' has no column 'Nmae'" in issue.message
    assert issue.suggestion == "Name"


def test_expression_with_unknown_source_fails_at_validation() -> None:
    (issue,) = issues_of(BASE.replace("expr: sum(crm.Amount)", "expr: sum(billing.amount)"))
    assert "unknown source 'billing'" in issue.message


def test_unparsable_expression_is_reported() -> None:
    (issue,) = issues_of(BASE.replace("expr: crm.Name", "expr: 'crm.Name +'"))
    assert issue.key == "fields.account_name.expr"
    assert "cannot parse expression" in issue.message


def test_every_error_is_reported_not_just_the_first() -> None:
    text = BASE.replace("expr: crm.Name", "expr: crm.Nmae").replace("[customer_id, mrr]", "[customer_id, mmr]")
    issues = issues_of(text)
    assert {i.key for i in issues} == {"fields.account_name.expr", "consumers.finance.fields[1]"}


def test_missing_required_key() -> None:
    issues = issues_of(BASE.replace("version: 1.0.0\n", ""))
    assert [(i.key, i.message) for i in issues] == [("version", "is required")]


def test_bad_version_is_explained() -> None:
    (issue,) = issues_of(BASE.replace("version: 1.0.0", "version: one"))
    assert issue.key == "version" and "semantic version" in issue.message


def test_yaml_syntax_error_names_the_line() -> None:
    (issue,) = issues_of(BASE.replace("owner: {team: data}", "owner: {team: data"))
    assert issue.line is not None and issue.line >= 3
    assert "invalid YAML" in issue.message


def test_missing_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("C360_TEST_SECRET", raising=False)
    (issue,) = issues_of(BASE.replace("path: crm.csv", "path: ${C360_TEST_SECRET}"))
    assert "C360_TEST_SECRET is not set" in issue.message


def test_environment_variable_is_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_TEST_PATH", "accounts.csv")
    spec = load_spec_text(BASE.replace("path: crm.csv", "path: ${C360_TEST_PATH}"))
    assert spec.model.sources["crm"].options["path"] == "accounts.csv"


def test_money_column_needs_a_rate_for_foreign_currency() -> None:
    (issue,) = issues_of(BASE.replace("currency: GBP}", "currency: USD}"))
    assert "no rate from USD to GBP" in issue.message


def test_subscription_to_ungranted_field() -> None:
    text = BASE + "subscriptions:\n  - {consumer: finance, fields: [account_name], purpose: x}\n"
    (issue,) = issues_of(text)
    assert "not granted" in issue.message and issue.line == 28


def test_erasure_field_must_exist() -> None:
    (issue,) = issues_of(BASE + "erasure: {delete: [emial]}\n")
    assert issue.key == "erasure.delete[0]"


def test_missing_file() -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec("/nonexistent/product.yaml")


TWO_SOURCES = BASE.replace(
    """    identity: {name: Name}
""",
    """    identity: {name: Name, parent: ParentId, city: Name}
  billing:
    connector: csv
    path: billing.csv
    key: id
    columns: {id: string, ref: string, ws: string}
    identity: {workspace_id: ws}
""",
).replace(
    "      Amount: {type: money, currency: GBP}\n",
    "      Amount: {type: money, currency: GBP}\n      ParentId: string\n",
)


def test_rules_may_put_each_side_in_a_form_first() -> None:
    rules_text = "['salesforce_id(billing.ref) = crm.Id', 'lower(trim(billing.ref)) = crm.Name']"
    text = TWO_SOURCES + f"identity:\n  rules: {rules_text}\n"
    rules = load_spec_text(text).rules
    assert [(r.left_transform, r.right_transform) for r in rules] == [(("salesforce_id",), ()), (("trim", "lower"), ())]
    assert str(rules[1]) == "lower(trim(billing.ref)) = crm.Name"


def test_a_rule_names_a_column_with_spaces_in_double_quotes() -> None:
    text = TWO_SOURCES.replace(
        "columns: {id: string, ref: string, ws: string}", "columns: {id: string, CRM Ref: string, ws: string}"
    )
    (rule,) = load_spec_text(text + """identity:\n  rules: ['billing."CRM Ref" = crm.Id']\n""").rules
    assert (rule.left_source, rule.left_column, rule.right_column) == ("billing", "CRM Ref", "Id")
    assert str(rule) == 'billing."CRM Ref" = crm.Id'


def test_an_unknown_transform_is_named_with_the_closest() -> None:
    text = TWO_SOURCES + "identity:\n  rules: ['salesforce(billing.ref) = crm.Id']\n"
    (issue,) = issues_of(text)
    assert "unknown transform 'salesforce'" in issue.message and issue.suggestion == "salesforce_id"


def test_identifiers_are_declared_with_their_strength_and_transform() -> None:
    text = TWO_SOURCES + "identity:\n  identifiers: {workspace_id: {strength: evidence, transform: [trim, lower]}}\n"
    ident = load_spec_text(text).model.identity.identifiers["workspace_id"]
    assert (ident.strength, ident.transform) == ("evidence", ["trim", "lower"])
    assert (
        load_spec_text(TWO_SOURCES + "identity:\n  identifiers: {workspace_id: key}\n")
        .model.identity.identifiers["workspace_id"]
        .strength
        == "key"
    )


def test_an_identifier_no_source_declares_is_an_error() -> None:
    (issue,) = issues_of(TWO_SOURCES + "identity:\n  identifiers: {workspace: key}\n")
    assert "no source's identity declares 'workspace'" in issue.message and issue.suggestion == "workspace_id"


def test_a_misspelt_attribute_is_not_taken_for_an_identifier() -> None:
    (issue,) = issues_of(TWO_SOURCES.replace("identity: {workspace_id: ws}", "identity: {emial: ws}"))
    assert "unknown identity attribute 'emial'" in issue.message and issue.suggestion == "email"


def test_distinct_names_sources() -> None:
    (issue,) = issues_of(TWO_SOURCES + "identity:\n  distinct: [crmm]\n")
    assert "unknown source 'crmm'" in issue.message and issue.suggestion == "crm"


def test_yaml_merge_keys_are_read() -> None:
    text = BASE.replace("sources:\n  crm:\n", "sources:\n  crm: &crm\n") + ""
    text = text.replace("fields:\n", "  crm2: {<<: *crm, path: other.csv}\nfields:\n", 1)
    spec = load_spec_text(text)
    assert spec.model.sources["crm2"].options["path"] == "other.csv"
    assert spec.model.sources["crm2"].identity == {"name": "Name"}


def test_an_expression_cannot_read_a_file_or_call_what_is_not_allowed() -> None:
    """A field once published a local file: `(select * from read_csv_auto('<file>') limit 1)`."""
    for expr in (
        "coalesce(crm.Name, (select * from read_csv_auto('/etc/passwd') limit 1))",
        "read_csv_auto('/etc/passwd')",
        "getenv('HOME')",
        "current_setting('threads')",
    ):
        text = BASE.replace("    expr: crm.Name\n", f'    expr: "{expr}"\n')
        (issue,) = issues_of(text)
        assert issue.key == "fields.account_name.expr" and "not allowed" in issue.message, expr
    text = BASE.replace(
        "    fields: [customer_id, mrr]\n", '    fields: [customer_id, mrr]\n    row_filter: "exists (select 1)"\n'
    )
    assert any("not allowed" in i.message for i in issues_of(text))


def test_duckdb_reads_only_what_is_registered() -> None:
    import duckdb

    from c360.core import duck

    con = duck.connect()
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_csv_auto('/etc/hostname')").fetchall()
