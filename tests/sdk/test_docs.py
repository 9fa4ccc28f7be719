"""The ```python blocks of docs/sdk.md run, in order, against a served demo (``notest`` ones skipped)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.sdk.conftest import Demo

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"
README = Path(__file__).parents[2] / "README.md"


def blocks(text: str | None = None) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", DOC.read_text() if text is None else text, flags=re.S | re.M)


def readme_sdk_blocks() -> list[str]:
    """The README's "Python SDK" section's examples."""
    section = README.read_text().split("\n## Python SDK\n", 1)[1].split("\n## ", 1)[0]
    return blocks(section)


def test_doc_has_examples() -> None:
    assert len(blocks()) >= 3


def test_doc_examples_run(
    served_demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("C360_URL", served_demo.url)
    monkeypatch.setenv("C360_API_KEY", served_demo.keys["finance"])
    namespace: dict[str, object] = {"__name__": "docs_sdk"}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"{DOC}:block{i}", "exec"), namespace)
    out = capsys.readouterr().out
    assert "not found: not_found" in out and "changed since last sync: 0" in out


def test_readme_sdk_example_runs(
    served_demo: Demo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("C360_URL", served_demo.url)
    monkeypatch.setenv("C360_API_KEY", served_demo.keys["finance"])
    (code,) = readme_sdk_blocks()
    exec(compile(code, f"{README}:python-sdk", "exec"), {"__name__": "readme_sdk"})
    assert "customers in this page" in capsys.readouterr().out
