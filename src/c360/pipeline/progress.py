"""How pipeline stages report progress, without knowing who listens (a terminal, a log, nobody)."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def start(self, task: str, total: int | None = None) -> None: ...

    def advance(self, task: str, n: int = 1, *, info: str | None = None) -> None: ...

    def finish(self, task: str, info: str | None = None) -> None: ...


class Silent:
    """The reporter for callers that want none."""

    def start(self, task: str, total: int | None = None) -> None:
        return None

    def advance(self, task: str, n: int = 1, *, info: str | None = None) -> None:
        return None

    def finish(self, task: str, info: str | None = None) -> None:
        return None
