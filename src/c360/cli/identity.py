"""``c360 identity``: evaluate, explain, export, and steward the identity map."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from c360.cli.main import JsonFlag, SpecArg, StoreOpt, app, console, friendly, open_spec, open_store, write_json
from c360.core.errors import C360Error

identity_app = typer.Typer(
    help="The identity map: evaluate, explain, export, link, unlink, review.", no_args_is_help=True
)
app.add_typer(identity_app, name="identity")


def _rid(text: str) -> str:
    source, sep, key = text.partition(":")
    if not sep or not source or not key:
        raise typer.BadParameter(
            f"'{text}' is not a source record; write it as source:key, e.g. crm:0018d00PXgtqk9DAMQ"
        )
    return text


@identity_app.command("evaluate")
@friendly
def evaluate_cmd(
    spec: SpecArg,
    truth: Annotated[Path, typer.Option("--truth", help="CSV: source,source_key,true_account_id[,kind].")],
    truth_column: Annotated[
        str | None,
        typer.Option(
            "--truth-column", help="The truth file's id column (default: true_account_id, or its one true_… column)."
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare the current identity map with a truth file: pairwise, cross-source and B-cubed figures."""
    from c360.identity.evaluate import evaluate, evaluate_all, read_truth
    from c360.store import identity as idmap

    s = open_spec(spec)
    st = open_store(s, store)
    try:
        rows = read_truth(truth, truth_column)
    except (OSError, ValueError) as exc:
        raise C360Error(str(exc)) from exc
    predicted = {f"{r.source}:{r.key}": r.customer_id for r in idmap.all_rows(st)}
    if not predicted:
        raise C360Error(
            "no identity map in this store yet (or the builds so far failed): run `c360 build SPEC` "
            "and evaluate what it published"
        )
    staged = {(src, r.key) for src in s.model.sources for r in st.staged(src)}
    kept = [t for t in rows if (t.source, t.key) in staged]
    scores = evaluate(kept, predicted)
    full = evaluate_all(kept, predicted)
    if as_json:
        sys.stdout.write(json.dumps({**full, "truth_rows_not_staged": len(rows) - len(kept)}) + "\n")
        return
    table = Table(
        "measure",
        "precision",
        "recall",
        "F1",
        title=f"{scores.records:,} records, "
        f"{scores.true_entities:,} true entities, {scores.predicted_clusters:,} customers",
    )
    table.add_row("pairwise", f"{scores.precision:.4f}", f"{scores.recall:.4f}", f"{scores.f1:.4f}")
    table.add_row(
        "pairwise, across sources",
        f"{scores.cross_source_precision:.4f}",
        f"{scores.cross_source_recall:.4f}",
        f"{scores.cross_source_f1:.4f}",
    )
    table.add_row("B-cubed", f"{scores.bcubed_precision:.4f}", f"{scores.bcubed_recall:.4f}", f"{scores.bcubed_f1:.4f}")
    dec = full["decidable"]
    table.add_row("pairwise, decidable records", f"{dec['precision']:.4f}", f"{dec['recall']:.4f}", f"{dec['f1']:.4f}")
    best = full["ceiling"]
    table.add_row(
        "pairwise, best possible without guessing",
        f"{best['precision']:.4f}",
        f"{best['recall']:.4f}",
        f"{best['f1']:.4f}",
    )
    console.print(table)
    console.print(
        f"undecidable records (no evidence can place them): {full['undecidable_records']}, "
        f"of which guessed into a customer: {full['undecidable_guessed']}"
    )
    console.print(
        f"over-merged true entities: {scores.over_merged_entities}; split: {scores.split_entities}; "
        f"unresolved records: {scores.unresolved}; truth rows not staged: {len(rows) - len(kept)}"
    )
    kinds = Table("kind", "records", "in an over-merged customer", "of a split entity", title="by kind")
    for kind, k in scores.by_kind.items():
        kinds.add_row(kind, str(k["records"]), str(k["in_over_merged_cluster"]), str(k["of_split_entity"]))
    console.print(kinds)


@identity_app.command("explain")
@friendly
def explain_cmd(
    spec: SpecArg,
    customer_id: Annotated[str, typer.Argument(help="The customer to explain.")],
    store: StoreOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Every source record of a customer, and why each is there (rule, match weights, pin)."""
    from c360.store import identity as idmap

    s = open_spec(spec)
    st = open_store(s, store)
    rows = idmap.customer_records(st, customer_id)
    if not rows:
        target = idmap.alias_target(st, customer_id)
        hint = f"; it was merged into {target}" if target else ""
        raise C360Error(f"no customer '{customer_id}' in the identity map{hint}")
    mine = {f"{r.source}:{r.key}" for r in rows}
    near = [(a, b, p, ev) for a, b, p, ev in idmap.review_pairs(st) if a in mine or b in mine]
    if as_json:
        write_json(
            {
                "customer_id": customer_id,
                "records": [
                    {"source": r.source, "key": r.key, "method": r.method, "score": r.score, "evidence": r.evidence}
                    for r in rows
                ],
                "candidates": _candidates_json(near, mine),
            }
        )
        return
    table = Table("record", "method", "score", "evidence", title=f"customer {customer_id}")
    for r in rows:
        score = f"{r.score:.3f}" if r.score is not None else ""
        table.add_row(f"{r.source}:{r.key}", r.method, score, _evidence_detail(r.evidence or {}))
    console.print(table)
    if near:
        console.print(_candidates_table(near, mine))
    elif len(rows) == 1:
        console.print(
            "no candidate scored near it: no other record shares its name, domain, phone, postcode, "
            "person or identifiers"
        )


# A review pair: (record, record, probability, evidence).
_Pair = tuple[str, str, float, dict[str, Any]]


def _nearest_pairs(near: list[_Pair], mine: set[str]) -> list[_Pair]:
    """The ten most likely candidates, each as (our record, the candidate, probability, evidence)."""
    out = []
    for a, b, p, ev in sorted(near, key=lambda x: -x[2])[:10]:
        ours, other = (a, b) if a in mine else (b, a)
        out.append((ours, other, p, ev))
    return out


def _candidates_json(near: list[_Pair], mine: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "record": ours,
            "candidate": other,
            "probability": p,
            "weights": ev.get("weights", {}),
            "refused": ev.get("refused"),
        }
        for ours, other, p, ev in _nearest_pairs(near, mine)
    ]


def _evidence_detail(ev: dict[str, Any]) -> str:
    """Why a record is in its customer, in words."""
    if "weights" in ev:
        return f"with {ev.get('with')}: " + ", ".join(f"{k} {v:+.1f}" for k, v in ev["weights"].items())
    if "rule" in ev:
        return f"with {ev.get('with')}: rule {ev['rule']} (value {ev.get('value')})"
    if "parent" in ev:
        return f"belongs to {ev['parent']}"
    return json.dumps(ev) if ev else "no link: a customer of its own"


def _candidates_table(near: list[_Pair], mine: set[str]) -> Table:
    cands = Table(
        "record",
        "candidate",
        "probability",
        "match weights",
        "not linked because",
        title="nearest candidates it was not linked to",
    )
    for ours, other, p, ev in _nearest_pairs(near, mine):
        weights = ", ".join(f"{k} {v:+.1f}" for k, v in ev.get("weights", {}).items() if v)
        why = ev.get("refused") or ("below the threshold, or another candidate nearly as likely" if p < 1 else "")
        cands.add_row(ours, other, f"{p:.3f}", weights, why)
    return cands


@identity_app.command("export")
@friendly
def export_cmd(
    spec: SpecArg,
    store: StoreOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of standard output.")] = None,
) -> None:
    """The identity map: source,source_key,customer_id,method,score; unresolved records with no customer."""
    from c360.store import identity as idmap

    if fmt not in ("csv", "jsonl"):
        raise typer.BadParameter(f"'{fmt}' is not csv or jsonl", param_hint="--format")
    s = open_spec(spec)
    st = open_store(s, store)
    rows = idmap.all_rows(st)
    # Records the build could not place are part of the map too: listed, with no customer.
    placed = {(r.source, r.key) for r in rows}
    rows += [
        idmap.MapRow(name, r.key, "", "unresolved", None, None)
        for name, src in s.model.sources.items()
        if src.belongs_to is None
        for r in st.staged(name)
        if (name, r.key) not in placed
    ]
    f = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        if fmt == "csv":
            w = csv.writer(f)
            w.writerow(["source", "source_key", "customer_id", "method", "score"])
            for r in rows:
                w.writerow([r.source, r.key, r.customer_id, r.method, "" if r.score is None else f"{r.score:.4f}"])
        else:
            for r in rows:
                f.write(
                    json.dumps(
                        {
                            "source": r.source,
                            "source_key": r.key,
                            "customer_id": r.customer_id,
                            "method": r.method,
                            "score": r.score,
                        }
                    )
                    + "\n"
                )
    finally:
        if out:
            f.close()
    if out:
        console.print(f"wrote {len(rows):,} rows to {out}")


def _pin(kind: str, spec: Path, a: str, b: str, reason: str | None, store: str | None, by: str | None) -> None:
    from c360.store import identity as idmap

    s = open_spec(spec)
    for rid in (a, b):
        source = rid.split(":", 1)[0]
        if source not in s.model.sources:
            raise C360Error(f"unknown source '{source}' in '{rid}' (known: {', '.join(s.model.sources)})")
    if a == b:
        raise C360Error("a record cannot be pinned to itself")
    st = open_store(s, store)
    idmap.add_pin(st, kind, a, b, reason, by)
    # Audit rows hold no personal data: a source key can be an e-mail, so only its hash goes in.
    from c360.core.jsonutil import content_hash
    from c360.governance import audit

    audit.record(
        st,
        "identity_pin",
        audit.actor_of(),
        None,
        {"pin": kind, "left": content_hash(a)[:16], "right": content_hash(b)[:16]},
    )
    console.print(f"pinned: {a} {'with' if kind == 'link' else 'apart from'} {b}; every later build honours it")


ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept with the decision).")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who decided.")]


@identity_app.command("link")
@friendly
def link_cmd(
    spec: SpecArg,
    a: Annotated[str, typer.Argument(callback=_rid)],
    b: Annotated[str, typer.Argument(callback=_rid)],
    reason: ReasonOpt = None,
    by: ByOpt = None,
    store: StoreOpt = None,
) -> None:
    """Pin two source records (source:key) to the same customer."""
    _pin("link", spec, a, b, reason, store, by)


@identity_app.command("unlink")
@friendly
def unlink_cmd(
    spec: SpecArg,
    a: Annotated[str, typer.Argument(callback=_rid)],
    b: Annotated[str, typer.Argument(callback=_rid)],
    reason: ReasonOpt = None,
    by: ByOpt = None,
    store: StoreOpt = None,
) -> None:
    """Pin two source records (source:key) to different customers."""
    _pin("unlink", spec, a, b, reason, store, by)


@identity_app.command("review")
@friendly
def review_cmd(
    spec: SpecArg,
    store: StoreOpt = None,
    limit: Annotated[int, typer.Option(help="Show at most this many pairs.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Borderline pairs of the last build (between the review and the match threshold), with evidence."""
    from c360.store import identity as idmap

    s = open_spec(spec)
    pairs = idmap.review_pairs(open_store(s, store))
    if as_json:
        write_json(
            {
                "total": len(pairs),
                "pairs": [
                    {"left": a, "right": b, "probability": p, "weights": ev.get("weights", {}), "evidence": ev}
                    for a, b, p, ev in pairs[:limit]
                ],
            }
        )
        return
    table = Table("left", "right", "probability", "match weights")
    for a, b, p, ev in pairs[:limit]:
        weights = ", ".join(f"{k} {v:+.1f}" for k, v in ev.get("weights", {}).items())
        table.add_row(a, b, f"{p:.3f}", weights)
    console.print(table)
    console.print(f"{len(pairs)} pair(s) to review; decide with `c360 identity link|unlink SPEC A B`")
