"""Rich progress for pipeline stages: a spinner or bar per task, with counts and rates."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<24}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def start(self, task: str, total: int | None = None) -> None:
        self.tasks[task] = self.progress.add_task(task, total=total, info="")

    def advance(self, task: str, n: int = 1, *, info: str | None = None) -> None:
        tid = self.tasks.get(task)
        if tid is not None:
            self.progress.update(tid, advance=n, info=info or "")

    def finish(self, task: str, info: str | None = None) -> None:
        tid = self.tasks.get(task)
        if tid is not None:
            t = self.progress.tasks[tid]
            total = t.total if t.total is not None else t.completed
            self.progress.update(tid, total=total, completed=total, info=info or "")
