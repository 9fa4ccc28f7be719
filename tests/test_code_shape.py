"""The code's shape, checked like its behaviour: modules a person can read, functions they can follow."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

SRC = Path(__file__).resolve().parent.parent / "src" / "c360"
MAX_LINES = 600
MAX_COMPLEXITY = 25  # radon's cyclomatic complexity; 25 is the top of its "D" rank


def modules() -> list[Path]:
    found = sorted(SRC.rglob("*.py"))
    assert len(found) > 100, f"expected the package's modules under {SRC}"
    return found


def test_no_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in modules() if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"


def test_no_function_is_over_complexity_25() -> None:
    over: dict[str, int] = {}
    for path in modules():
        for block in cc_visit(path.read_text("utf-8")):
            if block.complexity > MAX_COMPLEXITY:
                over[f"{path.relative_to(SRC)}:{block.lineno} {block.fullname}"] = block.complexity
    assert not over, f"functions over cyclomatic complexity {MAX_COMPLEXITY} (extract their phases): {over}"


def test_the_checks_can_fail() -> None:
    tangled = "def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(30)) + "    return -1\n"
    assert max(b.complexity for b in cc_visit(tangled)) > MAX_COMPLEXITY
