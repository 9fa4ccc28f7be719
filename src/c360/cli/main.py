"""The ``c360`` command: validate, sync, build, serve, and manage the product."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from c360.core.errors import C360Error, SpecError
from c360.spec.validate import Spec, load_spec

app = typer.Typer(
    name="c360",
    help="Customer 360 as a governed data product.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (no colour or markup).")]


def write_json(data: Any) -> None:
    """``data`` as indented JSON on stdout, nothing else (for ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _version(value: bool) -> None:
    if value:
        from c360 import __version__

        sys.stdout.write(f"c360 {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Customer 360 as a governed data product."""


F = TypeVar("F", bound=Callable[..., Any])

SpecArg = Annotated[Path, typer.Argument(help="The product spec (YAML).", show_default=False)]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar="C360_STORE_URL", help="Store URL (default: sqlite at <spec dir>/.c360/store.db)."),
]


def friendly(fn: F) -> F:
    """Turn c360's own errors into a clear message and exit code 1, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SpecError as exc:
            err.print(f"[red]spec is invalid ({len(exc.issues)} problem(s)):[/red]")
            for issue in exc.issues:
                err.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except C360Error as exc:
            # markup=False: a message such as "pip install 'c360[postgres]'" must print whole
            err.print("[red]error:[/red] ", end="", highlight=False)
            err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def open_spec(path: Path) -> Spec:
    return load_spec(path)


def open_store(spec: Spec, url: str | None) -> Any:
    from c360.store import Store, default_url

    return Store.open(url or default_url(spec.base_dir))


@app.command()
@friendly
def validate(spec: SpecArg, as_json: JsonFlag = False) -> None:
    """Check a spec; print every problem found (exit 1) or a one-line summary (exit 0)."""
    from c360.engine.materialise import check_plan

    if as_json:
        _validate_json(spec)
        return
    s = open_spec(spec)
    problems = check_plan(s.model)
    if problems:
        err.print(f"[red]spec is invalid ({len(problems)} problem(s)):[/red]")
        for p in problems:
            err.print(f"  {spec}: fields.{p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    m = s.model
    from c360.governance.policy import notes

    for note in notes(m):
        console.print(f"[yellow]note[/yellow] {note}", highlight=False, soft_wrap=True)
    console.print(
        f"[green]ok[/green] {m.product} {m.version}: {len(m.sources)} sources, "
        f"{len(m.fields)} fields, {len(m.consumers)} consumers"
    )


def _validate_json(spec: Path) -> None:
    """``validate --json``: ``{"valid", "problems": [{file, line, key, message, suggestion}], ...}``."""
    from dataclasses import asdict

    from c360.engine.materialise import check_plan
    from c360.governance.policy import notes

    try:
        s = open_spec(spec)
    except SpecError as exc:
        write_json({"valid": False, "problems": [asdict(i) for i in exc.issues], "notes": []})
        raise typer.Exit(1) from None
    problems = [
        {
            "file": str(spec),
            "line": None,
            "key": f"fields.{p}".split(":")[0],
            "message": f"fields.{p}",
            "suggestion": None,
        }
        for p in check_plan(s.model)
    ]
    m = s.model
    write_json(
        {
            "valid": not problems,
            "problems": problems,
            "notes": [str(n) for n in notes(m)],
            "product": m.product,
            "version": m.version,
            "sources": len(m.sources),
            "fields": len(m.fields),
            "consumers": len(m.consumers),
        }
    )
    if problems:
        raise typer.Exit(1)


@app.command()
@friendly
def sync(
    spec: SpecArg,
    source: Annotated[list[str] | None, typer.Option("--source", help="Only this source (repeatable).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Ignore cursors; read everything again.")] = False,
    store: StoreOpt = None,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, envvar="C360_SYNC_PARALLEL", help="Sources synced at once.")
    ] = 4,
) -> None:
    """Read sources into staging (incrementally from each source's cursor).

    Sources sync at once (--parallel of them), each on its own: one that fails is reported
    by name and the others still sync; the exit code is 1 if a required source failed (a
    source with ``required: false`` that fails is reported, not fatal), and the run is
    recorded as failed.
    """
    from rich.markup import escape

    from c360.cli.reporter import RichReporter
    from c360.pipeline.sync import sync_each

    s = open_spec(spec)
    for name in source or []:
        if name not in s.model.sources:
            raise C360Error(f"unknown source '{name}' (known: {', '.join(s.model.sources)})")
    st = open_store(s, store)
    run_id = st.start_run("sync")
    try:
        with RichReporter(console) as rep:
            outcome = sync_each(s, st, run_id=run_id, sources=source, full=full, reporter=rep, parallel=parallel)
    except BaseException as exc:  # interrupted or the store failed: never leave the run 'running'
        st.finish_run(run_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise
    results = outcome.synced
    table = Table("source", "new", "changed", "unchanged", "deleted", "quarantined", "records/s")
    for r in results:
        rate = r.records / r.seconds if r.seconds else 0.0
        table.add_row(
            r.source,
            str(r.counts.new),
            str(r.counts.changed),
            str(r.counts.unchanged),
            str(r.counts.deleted),
            str(r.quarantined),
            f"{rate:,.0f}",
        )
    errors = {f.source: f.message for f in outcome.failed if s.model.sources[f.source].required}
    optional = {f.source: f.message for f in outcome.failed if not s.model.sources[f.source].required}
    st.finish_run(
        run_id,
        "failed" if errors else "succeeded",
        {
            "sources": [r.source for r in results],
            **({"failed": errors} if errors else {}),
            **({"failed_optional": optional} if optional else {}),
        },
    )
    console.print(table)
    print_notices({r.source: r.notices for r in results if r.notices})
    for r in results:
        if r.refused:
            kind, _, where = r.reasons.commonest() or ("", 0, "")
            console.print(
                f"[red]{r.source}: {r.quarantined:,} of {r.quarantined + r.records:,} rows read were "
                f"quarantined[/red] ({kind}, e.g. {where}); records the read did not show are kept, "
                "not deleted, and the next build refuses this source",
                highlight=False,
            )
    for message in optional.values():
        err.print(
            f"[yellow]failed (required: false):[/yellow] {escape(message)}; a build uses what its last "
            "good sync staged",
            highlight=False,
            soft_wrap=True,
        )
    for message in errors.values():
        err.print(f"[red]failed:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    if errors:
        not_required = f" ({len(optional)} of them not required)" if optional else ""
        err.print(
            f"{len(outcome.failed)} of {len(outcome.failed) + len(results)} source(s) failed to sync"
            f"{not_required}; the others were synced. Fix the cause above, then run c360 sync again "
            f"(--source NAME syncs just one).",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


LogFormatOpt = Annotated[
    str | None, typer.Option("--log-format", envvar="C360_LOG_FORMAT", help="Logs on stderr: logfmt (default) or json.")
]
LogLevelOpt = Annotated[
    str | None, typer.Option("--log-level", envvar="C360_LOG_LEVEL", help="DEBUG, INFO (default), WARNING or ERROR.")
]


@app.command()
@friendly
def build(
    spec: SpecArg,
    store: StoreOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Re-read every source from the start.")] = False,
    skip_sync: Annotated[bool, typer.Option("--skip-sync", help="Build from what is staged.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Build time for now() (ISO-8601).")] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="Train the matching model afresh.")] = False,
    log_format: LogFormatOpt = None,
    log_level: LogLevelOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Sync, resolve identities, materialise and publish a new snapshot."""
    from c360.core import logs

    logs.setup(log_format, log_level)
    from c360.cli.reporter import RichReporter
    from c360.engine.columns import parse_timestamp
    from c360.pipeline.build import build as run_build

    s = open_spec(spec)
    st = open_store(s, store)
    when = parse_timestamp(as_of) if as_of else None
    if as_json:  # no progress display: stdout holds the report only
        report = run_build(s, st, full=full, skip_sync=skip_sync, as_of=when, retrain=retrain)
        write_json(report.as_dict())
        return
    with RichReporter(console) as rep:
        report = run_build(s, st, full=full, skip_sync=skip_sync, as_of=when, reporter=rep, retrain=retrain)
    print_build_summary(report)


def print_notices(notices: dict[str, dict[str, dict[str, Any]]]) -> None:
    """What a read took in but may have lost meaning on: undecodable bytes, repeated keys."""
    for source, kinds in notices.items():
        for kind, entry in kinds.items():
            console.print(
                f"[yellow]{source}: {entry['count']:,} {kind.replace('_', ' ')}[/yellow], e.g. {entry['examples'][0]}",
                highlight=False,
            )


def print_build_summary(report: Any) -> None:
    table = Table(title=f"snapshot {report.version} published: {report.customers:,} customers", title_justify="left")
    table.add_column("source")
    table.add_column("records", justify="right")
    table.add_column("quarantined", justify="right")
    for name, n in report.staged.items():
        table.add_row(name, f"{n:,}", str(report.quarantined.get(name, 0)))
    console.print(table)
    times = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    ids = ", ".join(f"{k} {v}" for k, v in sorted(report.identity_events.items())) or "no change"
    console.print(f"identity: {ids}; unresolved records: {report.unresolved}; pairs for review: {report.review}")
    if report.name_only or report.shared_values or report.refused_values:
        refused = ", ".join(f"{k} (x{v})" for k, v in sorted(report.refused_values.items()))
        console.print(
            f"identity evidence: {report.name_only} customer(s) known only by a name; "
            f"{report.shared_values} contact value(s) shared by several people (weight only)"
            + (f"; weak or missing evidence: {refused}" if refused else ""),
            highlight=False,
        )
    if report.unmapped:
        shown = ", ".join(f"{k} (x{v})" for k, v in list(report.unmapped.items())[:5])
        console.print(f"[yellow]unmapped vocabulary values (set to null):[/yellow] {shown}")
    if any(report.quarantined.values()):
        console.print("[yellow]quarantined records are listed by[/yellow] c360 quarantine SPEC")
    if report.nulled:
        shown = ", ".join(f"{k} (x{v})" for k, v in report.nulled.items())
        console.print(f"[yellow]bad values set to null (on_invalid: null):[/yellow] {shown}", highlight=False)
    print_notices(report.notices)
    for w in report.quality.get("warnings", []):
        what = w.get("detail") or f"{w['failing']} customer(s), e.g. {', '.join(w['sample'])}"
        console.print(f"[yellow]quality warning[/yellow] {w['field']}: {w['check']} failed: {what}", highlight=False)
    for major, m in sorted(report.majors.items()):
        console.print(
            f"major {major} (spec {m['spec_version']}) also built for {', '.join(m['consumers'])}: "
            f"{m['customers']:,} customers",
            highlight=False,
        )
    console.print(f"time: {times}")


@app.command()
@friendly
def quarantine(
    spec: SpecArg, store: StoreOpt = None, limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50
) -> None:
    """List quarantined records with the place they came from and the reason.

    Each build quarantines a bad record again; a record (its source and location) is listed
    and counted once, with its latest run and reason.
    """
    s = open_spec(spec)
    rows = open_store(s, store).quarantined_latest()
    table = Table("run", "source", "location", "reason", "entries")
    for r in rows[-limit:]:
        table.add_row(r["run_id"], r["source"], r["location"], r["reason"], str(r["times"]))
    console.print(table)
    console.print(f"{len(rows)} quarantined record(s) in all")


@app.command()
@friendly
def serve(
    spec: SpecArg,
    store: StoreOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8360,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    log_format: LogFormatOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Serve the product's API (a start-up line, then one access line per request, on stderr)."""
    from c360.core import logs

    logs.setup(log_format, log_level, export=True)  # exported: each worker logs alike
    from c360.api.serve import run

    s = open_spec(spec)
    open_store(s, store).close()  # migrate once, before workers start
    run(s.path, store, host=host, port=port, workers=workers)


connectors_app = typer.Typer(help="The connectors c360 ships.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")


@connectors_app.command("list")
def connectors_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every connector, and whether its optional client is installed."""
    from c360.connectors.registry import REGISTRY

    rows = [
        {"name": e.name, "description": e.description, "installed": e.installed, "extra": e.extra}
        for e in REGISTRY.values()
    ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("connector", "installed", "extra", "description")
    for r in rows:
        table.add_row(
            str(r["name"]), "yes" if r["installed"] else "[red]no[/red]", str(r["extra"] or ""), str(r["description"])
        )
    console.print(table)


def main() -> None:
    import c360.cli  # noqa: F401  (importing the package registers every area's commands)

    app()
