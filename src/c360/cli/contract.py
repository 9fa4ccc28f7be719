"""Contract lifecycle commands: plan, apply, subscriptions, contract export, docs, lineage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from c360.cli.main import SpecArg, StoreOpt, app, console, err, friendly, open_spec, open_store
from c360.core.errors import C360Error, SpecError
from c360.spec.diff import Plan
from c360.spec.validate import Spec

if TYPE_CHECKING:
    from c360.spec.models import ProductSpec
    from c360.store import Store

contract_app = typer.Typer(help="The product's contract documents.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")

EXIT_INVALID = 2
LEVEL_STYLE = {"breaking": "red", "semantic": "yellow", "safe": "green"}


def _load_valid(path: Path) -> Spec:
    """The spec, or exit 2 with every problem (the plan's 'invalid spec' code)."""
    from c360.engine.materialise import check_plan

    try:
        spec = open_spec(path)
    except SpecError as exc:
        err.print(f"[red]spec is invalid ({len(exc.issues)} problem(s)):[/red]")
        for issue in exc.issues:
            err.print(f"  {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    problems = check_plan(spec.model)
    if problems:
        err.print(f"[red]spec is invalid ({len(problems)} problem(s)):[/red]")
        for p in problems:
            err.print(f"  {path}: fields.{p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID)
    return spec


def print_plan(plan: Plan) -> None:
    old = plan.old_version or "(nothing recorded)"
    console.print(f"plan for [bold]{plan.product}[/bold]: {old} → {plan.new_version}", highlight=False)
    if not plan.changes:
        console.print("no contract change" if plan.old_version else "first version: nothing to compare")
    for level in ("breaking", "semantic", "safe"):
        changes = plan.of(level)  # type: ignore[arg-type, unused-ignore]
        if not changes:
            continue
        style = LEVEL_STYLE[level]
        console.print(f"\n[{style}]{level} ({len(changes)})[/{style}]")
        for c in changes:
            console.print(f"  {c.path}: {c.message}", markup=False, highlight=False, soft_wrap=True)
            if level == "safe":
                continue
            if not c.affected:
                console.print("    blast radius: no consumer's view changes", style="dim", highlight=False)
            for a in c.affected:
                if a.purpose is None:
                    console.print(
                        f"    affects {a.consumer} (owner {a.owner or 'not set'}; no subscription relies on this)",
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )
                    continue
                sla = ", ".join(
                    x
                    for x in (
                        f"freshness {a.freshness}" if a.freshness else "",
                        f"p99 {a.latency_p99_ms:g} ms" if a.latency_p99_ms is not None else "",
                        f"pinned to major {a.major}" if a.major is not None else "",
                    )
                    if x
                )
                console.print(
                    f"    affects {a.consumer} (owner {a.owner or 'not set'}; purpose: {a.purpose}"
                    + (f"; SLA: {sla}" if sla else "")
                    + ")",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
    if plan.semver is not None:
        style = "green" if plan.semver.ok else "red"
        console.print(f"\nversion: [{style}]{plan.semver.message}[/{style}]", highlight=False, soft_wrap=True)


@app.command()
def plan(
    spec: SpecArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="Compare with this spec file instead of the version recorded in the store."),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Compare with the published contract: each change, its blast radius, the semver needed.

    Exit codes: 0 safe, 1 breaking (or a version that does not fit the changes), 2 invalid spec.
    """
    from c360.governance.contracts import plan_against_store
    from c360.spec.diff import diff

    s = _load_valid(spec)
    try:
        if against is not None:
            result = diff(_load_valid(against).model, s.model)
        else:
            result = plan_against_store(open_store(s, store), s.model)
    except C360Error as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, default=str) + "\n")
    else:
        print_plan(result)
    raise typer.Exit(result.exit_code)


@app.command()
@friendly
def apply(
    spec: SpecArg,
    approved_by: Annotated[str, typer.Option("--approved-by", help="Who approved the plan.")],
    store: StoreOpt = None,
) -> None:
    """Record the spec as the new contract version, with the plan that was approved."""
    from c360.engine.materialise import check_plan
    from c360.governance.contracts import apply as run_apply

    s = open_spec(spec)
    problems = check_plan(s.model)
    if problems:
        raise C360Error("spec is invalid: " + "; ".join(problems))
    result = run_apply(open_store(s, store), s.model, s.text, approved_by)
    print_plan(result)
    console.print(
        f"\n[green]applied[/green] {s.model.product} {s.model.version}, approved by {approved_by}", highlight=False
    )


@app.command()
@friendly
def subscriptions(
    spec: SpecArg, store: StoreOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Every subscription with its SLAs and live compliance (exit 1 when one is violated)."""
    from c360.governance.sla import evaluate

    s = open_spec(spec)
    st = open_store(s, store)
    statuses = evaluate(s.model, st)  # the server's evaluation; latency is judged where reads are served
    if as_json:
        sys.stdout.write(json.dumps([x.as_dict() for x in statuses], indent=2) + "\n")
    else:
        table = Table("consumer", "purpose", "fields", "freshness", "age", "latency p99", "major", "status")
        for x in statuses:
            age = _age(x.age_seconds)
            fresh = f"[{'green' if x.freshness_ok else 'red'}]{x.freshness}[/]" if x.freshness else ""
            lat = f"{x.latency_p99_ms:g} ms" if x.latency_p99_ms is not None else ""
            if x.observed_p99_ms is not None:
                lat += f" (seen {x.observed_p99_ms:.1f})"
            status = "[green]ok[/green]" if x.compliant else "[red]" + "; ".join(x.violations) + "[/red]"
            table.add_row(
                x.consumer,
                x.purpose,
                ", ".join(x.fields),
                fresh,
                age,
                lat,
                str(x.major) if x.major is not None else "",
                status,
            )
        console.print(table)
    if any(not x.compliant for x in statuses):
        raise typer.Exit(1)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


@contract_app.command("export")
@friendly
def contract_export(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to write into.")],
    fmt: Annotated[str, typer.Option("--format", help="odcs or jsonschema.")] = "odcs",
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="C360_STORE_URL",
            help="Store URL named in the ODCS servers block; a PostgreSQL store gets the product's view.",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Also write the published product as Parquet into this directory (ODCS only)."),
    ] = None,
) -> None:
    """Write the contract: ODCS v3 (product and each consumer view) or JSON Schema per consumer.

    With ODCS, ``servers:`` says where the published product can be tested (``datacontract
    test``): with --data, a Parquet file of it written there; on a PostgreSQL store, the view
    ``c360_<product>`` that export (re)creates in the store.
    """
    from c360.governance.contracts import export
    from c360.governance.contracts_odcs import write_odcs

    s = open_spec(spec)
    if fmt != "odcs":
        if data is not None:
            raise C360Error("--data writes the product for an ODCS contract: use it with --format odcs")
        for path in export(s.model, out, fmt):
            console.print(f"wrote {path}", highlight=False, soft_wrap=True)
        return
    parquet = _publish_relation(s, store, data)
    for path in write_odcs(s.model, out, store_url=store, data=parquet):
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def _publish_relation(spec: Spec, url: str | None, data: Path | None) -> Path | None:
    """The product's flat relation: a Parquet file in ``data`` (its path), and a PostgreSQL store's view."""
    from c360.store.product_relation import create_view, relation_name, write_parquet

    postgres = bool(url) and str(url).split(":", 1)[0].split("+", 1)[0].lower() in ("postgresql", "postgres")
    if data is None and not postgres:
        return None
    product = spec.model
    fields = {name: f.type for name, f in product.fields.items()}
    st = open_store(spec, url)
    try:
        parquet = None
        if data is not None:
            parquet = data / f"{relation_name(product.product)}.parquet"
            rows = write_parquet(st, fields, parquet)
            console.print(f"wrote {parquet} ({rows} customers)", highlight=False, soft_wrap=True)
        if st.dialect == "postgresql":
            view = create_view(st, product.product, fields)
            console.print(f"created view {view} (the published snapshot)", highlight=False)
        return parquet
    finally:
        st.close()


@app.command()
@friendly
def docs(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the site into.")],
    store: StoreOpt = None,
) -> None:
    """Write the product's documentation as a static HTML site."""
    from c360.governance.contracts import approved_plans, changelog
    from c360.governance.docs import Site, VersionEntry, write_site
    from c360.governance.sla import evaluate

    s = open_spec(spec)
    st = open_store(s, store)
    approved = approved_plans(st)
    history = [
        VersionEntry(v.version, v.applied_at, v.applied_by, plan, approved.get(v.version)) for v, plan in changelog(st)
    ]
    snap = st.current_snapshot()
    statuses = evaluate(s.model, st, built_at=snap.built_at) if snap else None
    index = write_site(Site(s.model, history, statuses, served=_pinned_specs(s, st)), out)
    console.print(f"wrote {index}", highlight=False, soft_wrap=True)


def _pinned_specs(spec: Spec, store: Store) -> dict[str, ProductSpec]:
    """Consumers pinned to an earlier major → the recorded spec they are served, where recorded."""
    from c360.core.clock import utcnow
    from c360.governance.majors import due, recorded_spec

    out: dict[str, ProductSpec] = {}
    for major, consumers in due(spec.model, utcnow()).items():
        try:
            old = recorded_spec(store, spec, major)
        except C360Error:
            continue  # its shape cannot be served either; the page shows the current view
        if old is not None:
            out.update(dict.fromkeys(consumers, old.model))
    return out


@app.command()
@friendly
def lineage(
    spec: SpecArg,
    field: Annotated[str | None, typer.Argument(help="One field (default: every field).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where each field comes from: source, stream, columns and expression, derived from its SQL."""
    from c360.core.text import closest
    from c360.governance.lineage import field_lineage
    from c360.governance.openlineage import column_transformations

    s = open_spec(spec)
    m = s.model
    names = m.field_names
    if field is not None:
        if field not in names:
            hint = closest(field, names)
            raise C360Error(f"unknown field '{field}'" + (f"; did you mean '{hint}'?" if hint else ""))
        names = [field]
    rows: list[dict[str, Any]] = []
    for name in names:
        how = (
            {}
            if name == "customer_id"
            else {
                (src, col): f"{kind.lower()} {sub.lower()}"
                for src, col, kind, sub in column_transformations(m.fields[name].expr)
            }
        )
        expr = None if name == "customer_id" else " ".join(m.fields[name].expr.split())
        for x in field_lineage(m, name):
            rows.append({"field": name, **x, "transformation": how.get((x["source"], x["column"])), "expression": expr})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("field", "source", "stream", "column", "transformation")
    for r in rows:
        table.add_row(
            r["field"],
            r["source"],
            str(r.get("stream") or ""),
            str(r.get("path") or r["column"]),
            str(r.get("transformation") or r.get("transform") or ""),
        )
    console.print(table)
    if field is not None and rows and rows[0]["expression"]:
        console.print(f"expression: {rows[0]['expression']}", markup=False, highlight=False, soft_wrap=True)
