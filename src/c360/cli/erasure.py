"""The ``erase``, ``erasures``, ``subject export`` and ``audit`` commands: rights and proof."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from c360.cli.main import SpecArg, StoreOpt, app, console, err, friendly, open_spec, open_store

erasures_app = typer.Typer(help="Erasure requests and their delivery to consumers.", no_args_is_help=True)
app.add_typer(erasures_app, name="erasures")
subject_app = typer.Typer(help="Data subjects' rights: access (GDPR Art. 15).", no_args_is_help=True)
app.add_typer(subject_app, name="subject")
audit_app = typer.Typer(help="The hash-chained audit log: verify and export it.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


@app.command()
@friendly
def erase(
    spec: SpecArg,
    reason: Annotated[str, typer.Option("--reason", help="Why, e.g. 'Art. 17 request, ticket 4711'.")],
    customer: Annotated[str | None, typer.Option("--customer", help="Erase this customer id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Erase the person with this email.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="With --key: erase this record's person.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="The record's key in --source.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show exactly what would change; change nothing (the look-up is audited).")
    ] = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="SQLite: also rebuild the database file afterwards.")
    ] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a data subject in one transaction: staging, identity map, snapshots, audit.

    A dry run shows the operator every record (they hold the store anyway), and leaves an
    audit row like the API's dry runs: a look-up of a person is a read of personal data.
    """
    from c360.governance.erasure import SubjectRef
    from c360.governance.erasure import dry_run as plan_erasure
    from c360.governance.erasure import erase as run_erase
    from c360.governance.outbox import deliver

    s = open_spec(spec)
    st = open_store(s, store)
    who = SubjectRef(customer_id=customer, email=email, source=source, key=key)
    if dry_run:
        result = plan_erasure(st, s, who, reason=reason, shown="plan")
    else:
        result = run_erase(st, s, who, reason=reason, compact=vacuum)
    plan = result.plan
    if as_json:
        _print_json(
            {"committed": result.committed, **(plan.describe() if dry_run else plan.summary()), "subject": plan.subject}
        )
    else:
        head = (
            "[yellow]dry run: nothing changed[/yellow] (the look-up is in the audit log)"
            if dry_run
            else f"[green]erased[/green] {plan.erasure_id}"
        )
        console.print(f"{head}; subject {plan.subject}; scope {plan.scope} ({plan.grain} grain)")
        if dry_run:
            table = Table("source", "key", "action", "customer")
            for r in plan.records:
                table.add_row(r.source, r.key, r.action, r.customer_id or "")
            console.print(table)
        counts = plan.counts()
        console.print(
            f"records: {counts['records']}; customers removed: {counts['customers_removed']}; "
            f"snapshot rows in versions {counts['snapshot_versions']}: {counts['snapshot_rows']}; "
            f"quarantined rows: {counts['quarantined']}; "
            f"other records scrubbed of the subject's email or phone: {counts['scrubbed']}; "
            f"suppression entries: {counts['suppressed']}"
        )
        for name, what in plan.fields.items():
            console.print(f"  {name}: {what}", highlight=False)
        if plan.consumers:
            console.print(f"consumers notified by webhook: {', '.join(plan.consumers)}")
        console.print("source systems to notify (c360 does not delete in them): " + ", ".join(plan.notify_sources))
    if result.committed and result.wal_checkpointed is False:
        err.print(
            "[yellow]readers held the SQLite write-ahead log: old page images stay in it until "
            "its next checkpoint, when no server is reading[/yellow]"
        )
    if result.committed and plan.consumers:
        sent = deliver(st)
        if sent.failed:
            err.print(f"{sent.failed} webhook(s) not yet acknowledged; retried by `c360 erasures deliver`")


@erasures_app.command("list")
@friendly
def erasures_list(spec: SpecArg, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Every erasure with its delivery state per consumer."""
    from c360.governance.erasure import requests

    rows = requests(open_store(open_spec(spec), store))
    if as_json:
        _print_json(
            [
                {
                    "erasure_id": r.erasure_id,
                    "requested_at": r.requested_at.isoformat(),
                    "actor": r.actor,
                    "scope": r.scope,
                    "subject": r.subject,
                    "deliveries": r.deliveries,
                    "notify_sources": r.report.get("notify_sources", []),
                }
                for r in rows
            ]
        )
        return
    table = Table("erasure", "requested", "by", "scope", "subject", "consumers", "notify sources")
    for r in rows:
        states = ", ".join(f"{c}: {s}" for c, s in sorted(r.deliveries.items())) or "-"
        table.add_row(
            r.erasure_id,
            f"{r.requested_at:%Y-%m-%d %H:%M}",
            r.actor,
            r.scope,
            r.subject,
            states,
            ", ".join(r.report.get("notify_sources", [])),
        )
    console.print(table)


@erasures_app.command("deliver")
@friendly
def erasures_deliver(spec: SpecArg, store: StoreOpt = None) -> None:
    """Deliver due erasure events to consumers' webhooks (failures are retried with backoff)."""
    from c360.governance.outbox import deliver

    out = deliver(open_store(open_spec(spec), store))
    console.print(f"delivered {out.delivered}; not acknowledged {out.failed}")


@subject_app.command("export")
@friendly
def subject_export(
    spec: SpecArg,
    email: Annotated[str, typer.Option("--email", help="The person's email address.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")] = None,
    store: StoreOpt = None,
) -> None:
    """Everything the product holds about a person, with where each item came from (Art. 15)."""
    from c360.governance.subject import export_subject

    s = open_spec(spec)
    doc = export_subject(open_store(s, store), s, email=email)
    text = json.dumps(doc, indent=2, default=str) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    out.chmod(0o600)
    console.print(f"wrote {len(doc['records'])} record(s) and {len(doc['customers'])} customer record(s) to {out}")


@audit_app.command("verify")
@friendly
def audit_verify(
    spec: SpecArg,
    store: StoreOpt = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            "--checkpoints", help="An earlier `audit export` file whose signed checkpoints the chain must still match."
        ),
    ] = None,
) -> None:
    """Recompute the audit chain; name the first altered, deleted, inserted or reordered row."""
    from c360.governance.audit import audit_key, check_signature, read_checkpoints, verify

    st = open_store(open_spec(spec), store)
    pins: list[dict[str, Any]] = []
    if checkpoints is not None:
        pins = read_checkpoints(checkpoints.read_bytes().splitlines())
        key = audit_key(st.engine)
        bad = [c for c in pins if not check_signature(key, c)]
        if bad:
            err.print(f"[red]checkpoint at row {bad[0]['count']} has a bad signature[/red]")
            raise typer.Exit(1)
    result = verify(st, pins)
    if not result.ok:
        err.print(f"[red]audit chain broken at {result.problem}[/red]", highlight=False)
        raise typer.Exit(1)
    rate = result.rows / result.seconds if result.seconds else 0.0
    console.print(f"[green]ok[/green] {result.rows:,} row(s), head {result.head_hash[:16]}… ({rate:,.0f} rows/s)")


@audit_app.command("export")
@friendly
def audit_export(
    spec: SpecArg,
    out: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")] = None,
    every: Annotated[int, typer.Option("--every", min=1, help="A signed checkpoint every N rows.")] = 1000,
    store: StoreOpt = None,
) -> None:
    """Write the audit chain as JSON Lines with signed checkpoints (chain head + count)."""
    from c360.governance.audit import export

    st = open_store(open_spec(spec), store)
    if out is None:
        export(st, sys.stdout.buffer, every=every)
        sys.stdout.flush()
        return
    with out.open("wb") as f:
        n = export(st, f, every=every)
    console.print(f"wrote {n:,} row(s) to {out}")
