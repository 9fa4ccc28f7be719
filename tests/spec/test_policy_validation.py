"""Bad access policies are located errors of ``c360 validate``, found before anything is published.

Each case is written as a spec file, validated through the CLI (every problem printed as
``file:line: key: message``) and applied to an empty store, which must refuse it and record
nothing:

* a ``policies:`` entry whose ``row_filter`` does not parse;
* two ``policies:`` entries granting one field to one consumer under *incompatible* masks.
  Incompatible means the masked values have different JSON types (``year`` gives an integer;
  ``email``, ``hash`` and ``last4`` give strings), so the field served to that consumer would
  have no single type (see :mod:`c360.governance.masks`). Masks of one type are not a problem
  (the most revealing applicable one is served); ``redact`` serves null, which every masked
  type allows, so it is compatible with every mask;
* a consumer pinned to an earlier major whose ``policies:`` entry names a field this major no
  longer has.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360.cli import app
from c360.core.errors import SpecError
from c360.governance.contracts import history
from c360.spec.validate import load_spec_text
from c360.store import Store

runner = CliRunner()
BASE = Path(__file__).parent / "golden" / "mask_added" / "old.yaml"  # finance and support, no policies


def _spec(extra: str, replace: dict[str, str] | None = None) -> str:
    text = BASE.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    return text + extra


def _line(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, needle
    return hits[occurrence - 1]


def _validate(tmp_path: Path, text: str) -> tuple[Path, list[dict[str, object]]]:
    path = tmp_path / "product.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["valid"] is False
    problems: list[dict[str, object]] = body["problems"]
    return path, problems


def _refused_by_apply(tmp_path: Path, path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    result = runner.invoke(app, ["apply", str(path), "--approved-by", "alice", "--store", url])
    assert result.exit_code != 0
    store = Store.open(url)
    try:
        assert history(store) == []  # nothing recorded, so nothing can be built or served
    finally:
        store.close()


def _shown(tmp_path: Path, path: Path) -> str:
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    return result.output


ROW_FILTER = "policies:\n  - {name: paying, consumers: [support], fields: [mrr], row_filter: 'mrr > ('}\n"


def test_a_policy_row_filter_that_does_not_parse_is_a_located_error(tmp_path: Path) -> None:
    text = _spec(ROW_FILTER)
    path, problems = _validate(tmp_path, text)
    assert len(problems) == 1  # reported once: not again as a filter serving cannot compile
    (p,) = problems
    assert p["key"] == "policies[0].row_filter" and str(p["message"]).startswith("cannot parse")
    assert p["line"] == _line(text, "name: paying")
    assert f"{path}:{p['line']}: policies[0].row_filter: cannot parse" in _shown(tmp_path, path)
    _refused_by_apply(tmp_path, path)


INCOMPATIBLE = (
    "policies:\n"
    "  - {name: hashed, consumers: [finance], fields: [contact_email], masks: {contact_email: hash}}\n"
    "  - {name: years, consumers: [finance], fields: [contact_email], masks: {contact_email: year},"
    " row_filter: 'mrr > 0'}\n"
)


def test_two_policies_granting_one_field_under_masks_of_different_types_is_a_located_error(tmp_path: Path) -> None:
    text = _spec(INCOMPATIBLE)
    path, problems = _validate(tmp_path, text)
    (p,) = problems
    assert p["key"] == "policies[1].masks.contact_email"
    assert p["line"] == _line(text, "name: years")
    assert str(p["message"]) == (
        "'contact_email' is masked year here but hash by policies.hashed for consumer 'finance': it would "
        "be served as integer on some rows and string on others; mask it one way for this consumer"
    )
    assert f"{path}:{p['line']}: policies[1].masks.contact_email:" in _shown(tmp_path, path)
    _refused_by_apply(tmp_path, path)


@pytest.mark.parametrize(
    ("first", "second"),
    [("hash", "email"), ("last4", "email"), ("redact", "year"), ("year", "redact"), ("year", "year")],
)
def test_masks_that_keep_one_type_are_not_incompatible(first: str, second: str) -> None:
    extra = (
        "policies:\n"
        f"  - {{name: one, consumers: [finance], fields: [contact_email], masks: {{contact_email: {first}}}}}\n"
        f"  - {{name: two, consumers: [finance], fields: [contact_email], masks: {{contact_email: {second}}},"
        " row_filter: 'mrr > 0'}\n"
    )
    load_spec_text(_spec(extra), BASE)  # valid


def test_incompatible_masks_for_different_consumers_are_no_clash() -> None:
    extra = (
        "policies:\n"
        "  - {name: hashed, consumers: [finance], fields: [contact_email], masks: {contact_email: hash}}\n"
        "  - {name: years, consumers: [support], fields: [contact_email], masks: {contact_email: year}}\n"
    )
    load_spec_text(_spec(extra), BASE)  # each consumer gets the field one way


# Version 2.0.0 renames mrr; finance stays pinned to major 1, and a policy for it still names mrr.
PINNED = {
    "version: 1.0.0": "version: 2.0.0",
    "  mrr:\n": "  monthly_revenue:\n",
    "fields: [customer_id, account_name, mrr, contact_email]": "fields: [customer_id, account_name, contact_email]",
    "purpose: revenue reporting, freshness: 24h}": "purpose: revenue reporting, freshness: 24h, major: 1}",
    "fields: [mrr, account_name]": "fields: [account_name]",
}
PINNED_POLICY = "policies:\n  - name: revenue\n    consumers: [finance]\n    fields:\n      - mrr\n"


def test_a_pinned_majors_policy_naming_a_field_that_no_longer_exists_is_a_located_error(tmp_path: Path) -> None:
    text = _spec(PINNED_POLICY, PINNED)
    path, problems = _validate(tmp_path, text)
    at_mrr = _line(text, "      - mrr")
    assert {(p["key"], p["line"]) for p in problems} == {("policies[0].fields[0]", at_mrr)}
    messages = [str(p["message"]) for p in problems]
    assert any(m.startswith("unknown field 'mrr'") for m in messages)
    assert (
        "consumer 'finance' is pinned to major 1 (served from that major's recorded spec), but policies.revenue "
        "names 'mrr', which major 2 no longer has; name major 2's fields here: they apply once the pin is dropped"
    ) in messages
    assert f"{path}:{at_mrr}: policies[0].fields[0]: consumer 'finance' is pinned to major 1" in _shown(tmp_path, path)
    _refused_by_apply(tmp_path, path)


def test_the_same_policy_is_valid_once_it_names_this_majors_field() -> None:
    text = _spec(PINNED_POLICY.replace("- mrr", "- monthly_revenue"), PINNED)
    load_spec_text(text, BASE)


def test_every_problem_is_reported_together() -> None:
    extra = ROW_FILTER + INCOMPATIBLE.removeprefix("policies:\n") + PINNED_POLICY.removeprefix("policies:\n")
    with pytest.raises(SpecError) as err:
        load_spec_text(_spec(extra, PINNED), BASE)
    keys = [i.key for i in err.value.issues]
    assert "policies[0].row_filter" in keys
    assert "policies[2].masks.contact_email" in keys
    assert keys.count("policies[3].fields[0]") == 2  # unknown, and named by a pinned consumer's policy
    assert all(i.line for i in err.value.issues)
