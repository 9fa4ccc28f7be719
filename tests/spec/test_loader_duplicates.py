"""A key given twice in a spec is an error naming both lines, never the last one silently."""

from __future__ import annotations

import pytest

from c360.core.errors import SpecError
from c360.spec.loader import load_yaml_text


def test_a_duplicate_key_names_both_lines() -> None:
    text = "consumers:\n  finance:\n    fields: [mrr]\n  support:\n    fields: [x]\n  finance:\n    fields: [ltv]\n"
    with pytest.raises(SpecError) as failed:
        load_yaml_text(text, "product.yaml")
    message = str(failed.value)
    assert "product.yaml:6" in message and "consumers.finance" in message and "lines 2 and 6" in message


def test_a_duplicate_nested_key_is_caught_too() -> None:
    with pytest.raises(SpecError, match="row_filter"):
        load_yaml_text("consumers:\n  a:\n    row_filter: x\n    row_filter: y\n")


def test_merge_keys_may_be_overridden() -> None:
    doc = load_yaml_text("base: &b {a: 1, b: 2}\nthing:\n  <<: *b\n  b: 3\n")
    assert doc.data["thing"] == {"a": 1, "b": 3}
