"""YAML in, plain data out, remembering the line of every key so errors can point at it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from c360.core.errors import SpecError, SpecIssue

Path_ = tuple[str | int, ...]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Located:
    """A parsed document plus the line (1-based) where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its closest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def issue(self, path: Path_, message: str, suggestion: str | None = None) -> SpecIssue:
        return SpecIssue(self.file, self.line(path), dotted(path), message, suggestion)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


class DuplicateKey(Exception):
    def __init__(self, path: Path_, first: int, again: int) -> None:
        self.path, self.first, self.again = path, first, again


def _convert(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        given: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # `<<: *anchor` (or a list of them): the anchored mappings' keys, unless given here.
                merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for m in merged:
                    base = _convert(m, path, lines)
                    if isinstance(base, dict):
                        for k, v in base.items():
                            out.setdefault(k, v)
                continue
            key = str(_scalar(key_node))
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in given:
                # YAML would keep the last silently: a reviewer reading the first block would
                # approve grants that are not the ones enforced.
                raise DuplicateKey(child, given[key], line)
            given[key] = line
            lines[child] = line
            out[key] = _convert(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    # A fresh constructor per value: the safe constructor keeps state between documents.
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)  # type: ignore[no-untyped-call, unused-ignore]


def load_yaml(path: Path) -> Located:
    """Parse ``path``; syntax errors become a SpecError naming the line."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(name, None, "", "no such file")]) from None
    return load_yaml_text(text, name)


def load_yaml_text(text: str, name: str = "<spec>") -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError([SpecIssue(name, line, "", f"invalid YAML: {exc.problem}")]) from None
    if node is None:
        raise SpecError([SpecIssue(name, 1, "", "the file is empty; expected a product spec")])
    lines: dict[Path_, int] = {}
    try:
        data = _convert(node, (), lines)
    except DuplicateKey as dup:
        raise SpecError(
            [
                SpecIssue(
                    name,
                    dup.again,
                    dotted(dup.path),
                    f"'{dup.path[-1]}' is given twice (lines {dup.first} and {dup.again}); "
                    "YAML would silently keep the last: merge them into one",
                )
            ]
        ) from None
    return Located(name, data, lines)


def substitute_env(value: Any, path: Path_, doc: Located, issues: list[SpecIssue]) -> Any:
    """Replace ``${VAR}`` with the environment's value; a missing variable is an issue."""
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            var = m.group(1)
            if var not in os.environ:
                issues.append(doc.issue(path, f"environment variable {var} is not set"))
                return ""
            return os.environ[var]

        return _ENV.sub(repl, value)
    if isinstance(value, dict):
        return {k: substitute_env(v, (*path, k), doc, issues) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, (*path, i), doc, issues) for i, v in enumerate(value)]
    return value
