"""One error tree: each failure has its class under the root, and callers can tell them apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.core.errors import (
    C360Error,
    ContractError,
    NotFound,
    PolicyError,
    StoreError,
    StoreUnavailable,
    TransientSourceError,
)
from c360.core.retry import RetriesExhausted
from c360.governance.contracts import apply
from c360.governance.contracts_schema import consumer_json_schema
from c360.governance.erasure import SubjectNotFound
from c360.governance.policy_conditions import assignments
from c360.spec.validate import load_spec, load_spec_text
from c360.store import Store

GOLDEN = Path(__file__).parents[1] / "spec" / "golden"


def test_the_tree() -> None:
    for cls in (NotFound, PolicyError, ContractError, StoreError):
        assert issubclass(cls, C360Error)
    assert issubclass(StoreUnavailable, StoreError) and not issubclass(StoreUnavailable, NotFound)
    assert issubclass(SubjectNotFound, NotFound) and not issubclass(SubjectNotFound, StoreError)
    assert issubclass(RetriesExhausted, TransientSourceError)


def test_the_contract_gate_refuses_with_a_contract_error(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/store.db")
    v1 = load_spec(GOLDEN / "type_changed" / "old.yaml")
    apply(store, v1.model, v1.text, "alice")
    with pytest.raises(ContractError, match="already applied by alice"):
        apply(store, v1.model, v1.text, "bob")
    breaking = load_spec(GOLDEN / "type_changed" / "new.yaml")
    wrong = load_spec_text(breaking.text.replace("version: 2.0.0", "version: 1.1.0"), breaking.path)
    with pytest.raises(ContractError, match="major"):
        apply(store, wrong.model, wrong.text, "alice")


def test_an_unknown_consumer_is_not_found_and_too_many_filters_a_policy_error() -> None:
    v1 = load_spec(GOLDEN / "type_changed" / "old.yaml")
    with pytest.raises(NotFound, match="unknown consumer 'nobody'"):
        consumer_json_schema(v1.model, "nobody")
    with pytest.raises(PolicyError, match="row filters"):
        assignments([f"mrr > {i}" for i in range(40)])
