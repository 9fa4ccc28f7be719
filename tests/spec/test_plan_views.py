"""``plan`` compares each consumer's effective view before and after, never the YAML.

A property ties the plan to what is served: over random small specs and records, when the
plan reports no change for a consumer, every record is served byte for byte as before; when
it reports only safe changes, everything the consumer could read before it still can, at
least as revealed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from c360.api.state import email_fields, project
from c360.cli import app as cli
from c360.governance.access import policy_for
from c360.governance.policy import at_least_as_revealing
from c360.spec.diff import Change, Plan, diff
from c360.spec.models import ProductSpec
from c360.spec.validate import load_spec, load_spec_text

GOLDEN = Path(__file__).parent / "golden"
BASE = load_spec(GOLDEN / "mask_added" / "old.yaml")  # finance and support, no masks, no policies
FINANCE = "    fields: [customer_id, account_name, mrr, contact_email]\n"
SUPPORT = "    fields: [customer_id, account_name, segment]\n"
runner = CliRunner()


def spec(extra: str = "", replace: dict[str, str] | None = None, version: str = "1.0.0") -> ProductSpec:
    text = BASE.text.replace("version: 1.0.0", f"version: {version}")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return load_spec_text(text + extra, BASE.path).model


def of(plan: Plan, consumer: str) -> list[tuple[str, str, str]]:
    return [(c.kind, c.level, c.path) for c in plan.changes if c.consumer == consumer]


def only(plan: Plan, kind: str) -> Change:
    (change,) = [c for c in plan.changes if c.kind == kind]
    return change


# -- the reproductions -------------------------------------------------------------------------


def test_a_policy_granting_one_more_field_is_a_safe_minor_change() -> None:
    old = spec()
    new = spec("policies:\n  - {name: extra, consumers: [support], fields: [mrr]}\n", version="1.1.0")
    plan = diff(old, new)
    assert of(plan, "support") == [("grant_added", "safe", "policies.extra")]
    assert plan.exit_code == 0 and plan.semver is not None and plan.semver.required == "minor"


CONTACTS = (
    "policies:\n  - {name: contacts, consumers: [finance], fields: [contact_email], masks: {contact_email: %s}}\n"
)


def test_a_policy_mask_changed_from_email_to_redact_is_breaking() -> None:
    # finance's base redacts contact_email; the policy shows it as j***@acme.com (the most revealing wins).
    redacted = {FINANCE: FINANCE + "    masks: {contact_email: redact}\n"}
    old = spec(CONTACTS % "email", redacted)
    new = spec(CONTACTS % "redact", redacted)
    record = {"customer_id": "c1", "contact_email": "jane@acme.com"}
    assert policy_for(old, "finance").view(record, b"k")["contact_email"] == "j***@acme.com"  # type: ignore[index]
    assert policy_for(new, "finance").view(record, b"k")["contact_email"] is None  # type: ignore[index]
    plan = diff(old, new)
    change = only(plan, "mask_changed")
    assert (change.level, change.path, change.before, change.after) == (
        "breaking",
        "policies.contacts.masks.contact_email",
        "email",
        "redact",
    )
    assert plan.exit_code == 1 and not plan.semver.ok  # type: ignore[union-attr]
    assert diff(new, old).of("breaking") == []  # and back: redact → email reveals more


def test_a_row_filter_added_to_a_policy_is_breaking() -> None:
    old = spec("policies:\n  - {name: extra, consumers: [support], fields: [mrr]}\n")
    new = spec("policies:\n  - {name: extra, consumers: [support], fields: [mrr], row_filter: 'mrr > 0'}\n")
    plan = diff(old, new)
    assert of(plan, "support") == [
        ("grant_withdrawn", "breaking", "policies.extra.row_filter"),
        # mrr (read from billing) in the clear on every row let it look up by billing keys
        ("lookup_lost", "breaking", "consumers.support"),
    ]
    assert only(plan, "grant_withdrawn").message == "'support' no longer granted 'mrr' on some rows"
    assert plan.exit_code == 1 and plan.semver is not None and not plan.semver.ok
    assert "no contract change" not in plan.semver.message


def test_a_row_filter_on_a_policy_granting_nothing_more_is_no_change() -> None:
    old = spec("policies:\n  - {name: same, consumers: [support], fields: [segment]}\n")
    new = spec("policies:\n  - {name: same, consumers: [support], fields: [segment], row_filter: 'mrr > 0'}\n")
    assert diff(old, new).changes == []  # the base grants segment on every row anyway


def test_the_blast_radius_names_a_consumer_granted_a_field_without_subscribing_to_it() -> None:
    old = spec()
    new = spec(replace={"    expr: billing.email": "    expr: lower(billing.email)"}, version="1.1.0")
    change = only(diff(old, new), "expression_changed")
    assert [(a.consumer, a.purpose) for a in change.affected] == [("finance", None)]
    typed = only(diff(old, spec(replace={"    type: decimal": "    type: integer"}, version="2.0.0")), "type_changed")
    assert [(a.consumer, a.purpose) for a in typed.affected] == [("finance", "revenue reporting")]


def test_the_plan_command_names_an_unsubscribed_consumer(tmp_path: Path) -> None:
    redacted = {FINANCE: FINANCE + "    masks: {contact_email: redact}\n"}
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(BASE.text.replace(FINANCE, FINANCE + "    masks: {contact_email: redact}\n") + CONTACTS % "email")
    new.write_text(
        old.read_text()
        .replace("contact_email: email", "contact_email: redact")
        .replace("version: 1.0.0", "version: 2.0.0")
    )
    assert spec(CONTACTS % "email", redacted) == load_spec(old).model
    result = runner.invoke(cli, ["plan", str(new), "--against", str(old)])
    assert result.exit_code == 1, result.output
    assert "policies.contacts.masks.contact_email: 'contact_email' now masked redact instead of email" in result.output
    assert "affects finance (owner finance-eng; no subscription relies on this)" in result.output


# -- classification by views ----------------------------------------------------------------------


def _filtered(row_filter: str) -> dict[str, str]:
    return {SUPPORT: SUPPORT + f'    row_filter: "{row_filter}"\n'}


def test_row_filters_widened_provably_are_safe_anything_else_breaking() -> None:
    narrow, wide = _filtered("segment = 'smb'"), _filtered("segment in ('smb', 'mid_market')")
    assert of(diff(spec(replace=narrow), spec(replace=wide)), "support") == [
        ("row_filter_widened", "safe", "consumers.support.row_filter")
    ]
    back = diff(spec(replace=wide), spec(replace=narrow))
    assert of(back, "support") == [("row_filter_changed", "breaking", "consumers.support.row_filter")]
    assert only(back, "row_filter_changed").message == "'support' now sees only rows where segment = 'smb'"
    other = diff(spec(replace=narrow), spec(replace=_filtered("segment = 'enterprise'")))
    assert of(other, "support") == [("row_filter_changed", "breaking", "consumers.support.row_filter")]
    assert of(diff(spec(replace=narrow), spec()), "support") == [
        ("row_filter_removed", "safe", "consumers.support.row_filter")
    ]
    same = _filtered("segment  =   'smb'")
    assert diff(spec(replace=narrow), spec(replace=same)).changes == []


def test_a_mask_between_two_kinds_is_not_a_widening() -> None:
    hashed = spec(replace={FINANCE: FINANCE + "    masks: {contact_email: hash}\n"})
    shown = spec(replace={FINANCE: FINANCE + "    masks: {contact_email: email}\n"})
    assert [(c.kind, c.level) for c in diff(hashed, shown).changes] == [("mask_changed", "breaking")]
    assert [(c.kind, c.level) for c in diff(shown, spec()).changes] == [("mask_removed", "safe")]
    assert [(c.kind, c.level) for c in diff(spec(), shown).changes] == [("mask_added", "breaking")]


def test_rows_without_customer_id_in_the_clear_stop_reads_by_id() -> None:
    smb = _filtered("segment = 'smb'")
    old = spec(replace=smb)
    new = spec(
        "policies:\n  - {name: paying, consumers: [support], fields: [mrr], row_filter: 'mrr > 0'}\n", replace=smb
    )
    kinds = [(c.kind, c.level) for c in diff(old, new).changes]
    assert ("read_by_id_lost", "breaking") in kinds
    assert not policy_for(new, "support").unmasked_everywhere >= {"customer_id"}


def test_a_consumer_granted_nothing_any_more_loses_each_field() -> None:
    subscription = (
        "  - {consumer: support, fields: [segment], purpose: agent context, freshness: 15m, latency_p99_ms: 50}\n"
    )
    new = spec(replace={SUPPORT: "    fields: []\n", subscription: ""}, version="2.0.0")
    kinds = [c.kind for c in diff(spec(), new).changes if c.consumer == "support"]
    assert kinds == ["grant_withdrawn"] * 3 + ["subscription_removed"]


# -- the property -----------------------------------------------------------------------------------

DOC: dict[str, Any] = yaml.safe_load(BASE.text)
FIELDS = ["customer_id", "account_name", "segment", "mrr", "contact_email"]
FILTERS = [
    None,
    "segment = 'smb'",
    "segment in ('smb', 'mid_market')",
    "mrr > 0",
    "mrr > 10",
    "segment = 'enterprise' or mrr > 10",
    "mrr >= 0 and segment = 'smb'",
]
MASKS = [None, None, "redact", "hash", "email", "last4"]
KEY = b"property-key"

grant = st.fixed_dictionaries(
    {
        "fields": st.lists(st.sampled_from(FIELDS), unique=True, max_size=5),
        "masks": st.dictionaries(st.sampled_from(FIELDS), st.sampled_from(MASKS), max_size=3),
        "row_filter": st.sampled_from(FILTERS),
    }
)


def _entry(g: dict[str, Any]) -> dict[str, Any]:
    masks = {f: m for f, m in g["masks"].items() if m is not None and f in g["fields"]}
    return {"fields": g["fields"], "masks": masks, **({"row_filter": g["row_filter"]} if g["row_filter"] else {})}


def _product(base: dict[str, Any], policies: list[dict[str, Any]]) -> ProductSpec:
    doc = copy.deepcopy(DOC)
    doc["consumers"] = {"support": {**_entry(base), "owner": "support-tools"}}
    doc["policies"] = [{"name": f"p{i}", "consumers": ["support"], **_entry(p)} for i, p in enumerate(policies)]
    doc["subscriptions"] = []
    return ProductSpec.model_validate(doc)


@st.composite
def spec_pairs(draw: st.DrawFn) -> tuple[ProductSpec, ProductSpec]:
    """A spec and its successor: each part kept, or drawn again (so that some stay the same)."""
    base = draw(grant)
    policies = draw(st.lists(grant, max_size=2))
    keep = st.booleans()
    new_base = base if draw(keep) else draw(grant)
    new_policies = [p if draw(keep) else draw(grant) for p in policies]
    if draw(keep):
        new_policies = [*new_policies, *draw(st.lists(grant, max_size=1))]
    elif new_policies:
        new_policies = new_policies[: draw(st.integers(0, len(new_policies)))]
    return _product(base, policies), _product(new_base, new_policies)


records = st.lists(
    st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(["c1", "c2", "c3"]),
            "account_name": st.sampled_from(["Acme", "Globex", None]),
            "segment": st.sampled_from(["smb", "mid_market", "enterprise", None]),
            "mrr": st.sampled_from([None, -1, 0, 5, 10, 10.5, 11]),
            "contact_email": st.sampled_from(["jane.doe@acme.com", "x", None]),
        }
    ),
    min_size=1,
    max_size=6,
)


def _served(product: ProductSpec, data: bytes) -> bytes | None:
    """What the real serving projection makes of one stored record for support."""
    policies = {"support": policy_for(product, "support")}
    body = project(policies, email_fields(product), data, KEY).get("support")
    return None if body is None else body[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_pairs(), records)
def test_what_plan_says_about_a_consumer_is_what_it_is_served(
    pair: tuple[ProductSpec, ProductSpec], rows: list[dict[str, Any]]
) -> None:
    old, new = pair
    changes = [c for c in diff(old, new).changes if c.consumer == "support"]
    before_policy, after_policy = policy_for(old, "support"), policy_for(new, "support")
    for record in rows:
        data = orjson.dumps(record)
        before, after = _served(old, data), _served(new, data)
        if not changes:
            assert before == after, (record, old.consumers, old.policies, new.consumers, new.policies)
        elif all(c.level == "safe" for c in changes) and before is not None:
            assert after is not None, (record, changes)
            was, now = orjson.loads(before), orjson.loads(after)
            acc_was, acc_now = before_policy.access(record), after_policy.access(record)
            assert acc_was is not None and acc_now is not None
            for f, value in was.items():
                assert f in now, (f, record, changes)
                form_was, form_now = acc_was.masks.get(f), acc_now.masks.get(f)
                assert at_least_as_revealing(form_now, form_was), (f, form_was, form_now, changes)
                if form_now == form_was:
                    assert now[f] == value
                elif form_now is None:
                    assert now[f] == record.get(f)
