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
    """Connect to every source and check its credentials; exit 1 if any fails.

    Each failure is printed in full under the table, named by the spec's source and its
    connector (``source 'sf_contacts': (salesforce) ...``): sources may share a connector.
    """
    from rich.markup import escape

    from c360.pipeline.sync import as_source, open_connector

    s = open_spec(spec)
    names = source or list(s.model.sources)
    table = Table("source", "connector", "status")
    errors: list[str] = []
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
        except SourceError as exc:
            errors.append(str(as_source(exc, name, connector)))
            table.add_row(name, connector, "[red]failed[/red] (see below)")
        except C360Error as exc:
            errors.append(f"source '{name}': ({connector}) {exc}")
            table.add_row(name, connector, "[red]failed[/red] (see below)")
        else:
            table.add_row(name, connector, "[green]ok[/green]")
    console.print(table)
    for message in errors:
        err.print(f"[red]failed:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    if errors:
        err.print(f"{len(errors)} source(s) failed")
        raise typer.Exit(1)


@sources_app.command("discover")
@friendly
def discover_cmd(
    spec: SpecArg, source: Annotated[str, typer.Argument(help="The source, as named in the spec.")]
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
