"""``c360 sources``: check each source's connectivity and credentials, and discover its streams."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from c360.cli.main import SpecArg, app, console, err, friendly, open_spec
from c360.core.errors import C360Error, SourceError

sources_app = typer.Typer(help="The spec's sources: check them, discover their streams.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
@friendly
def check_cmd(
    spec: SpecArg,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
) -> None:
    """Connect to every source and check its credentials; exit 1 if any fails."""
    from c360.pipeline.sync import open_connector

    s = open_spec(spec)
    names = source or list(s.model.sources)
    table = Table("source", "connector", "status")
    failed = 0
    for name in names:
        if name not in s.model.sources:
            raise C360Error(f"unknown source '{name}' (known: {', '.join(s.model.sources)})")
        connector = s.model.sources[name].connector
        try:
            conn = open_connector(s, name)
            try:
                conn.check()
            finally:
                conn.close()
        except (SourceError, C360Error) as exc:
            failed += 1
            table.add_row(name, connector, f"[red]failed[/red]: {exc}")
        else:
            table.add_row(name, connector, "[green]ok[/green]")
    console.print(table)
    if failed:
        err.print(f"{failed} source(s) failed")
        raise typer.Exit(1)


@sources_app.command("discover")
@friendly
def discover_cmd(
    spec: SpecArg,
    source: Annotated[str, typer.Argument(help="The source, as named in the spec.")],
) -> None:
    """The streams (tables, objects, files) a source's connector can read, with their columns."""
    from c360.pipeline.sync import open_connector

    s = open_spec(spec)
    if source not in s.model.sources:
        from c360.core.text import closest

        hint = closest(source, s.model.sources)
        raise C360Error(f"unknown source '{source}'" + (f"; did you mean '{hint}'?" if hint else ""))
    conn = open_connector(s, source)
    try:
        streams = conn.discover()
    finally:
        conn.close()
    table = Table("stream", "key", "cursor", "columns")
    for st in streams:
        cols = ", ".join(f"{c.name} ({c.type})" for c in st.columns)
        table.add_row(st.name, st.key or "", st.cursor_field or "", cols)
    console.print(table)
