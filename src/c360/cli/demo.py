"""``c360 demo``: generate the four demo sources, build the product and serve it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from c360.cli.main import app, console, friendly, print_build_summary

demo_app = typer.Typer(help="The demo product: four messy sources, one governed Customer 360.")
app.add_typer(demo_app, name="demo")

TEMPLATE = Path(__file__).resolve().parents[1] / "demo" / "product.yaml"

DirOpt = Annotated[Path, typer.Option("--dir", help="Where to write the demo.")]
AccountsOpt = Annotated[int, typer.Option("--accounts", min=1, help="How many true accounts.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")]
DifficultyOpt = Annotated[str, typer.Option("--difficulty", help="easy, default or hard.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Anchor date of the data (YYYY-MM-DD; default today).")]


def generate_demo(out: Path, accounts: int, seed: int, difficulty: str, as_of: str | None) -> Path:
    from c360.demo.generator import generate

    if difficulty not in ("easy", "default", "hard"):
        raise typer.BadParameter(f"'{difficulty}' is not one of easy, default, hard", param_hint="--difficulty")
    day = dt.date.fromisoformat(as_of) if as_of else None
    out.mkdir(parents=True, exist_ok=True)
    report = generate(out, accounts=accounts, seed=seed, difficulty=difficulty, as_of=day)
    spec = out / "product.yaml"
    shutil.copyfile(TEMPLATE, spec)
    console.print(
        f"wrote the demo sources for {accounts:,} accounts to {out}/ ({', '.join(Path(f).name for f in report.files)})"
    )
    return spec


@demo_app.command("generate")
@friendly
def generate_cmd(
    dir: DirOpt = Path("demo-out"),
    accounts: AccountsOpt = 2000,
    seed: SeedOpt = 7,
    difficulty: DifficultyOpt = "default",
    as_of: AsOfOpt = None,
) -> None:
    """Write the demo's source files, truth file and product spec to DIR."""
    generate_demo(dir, accounts, seed, difficulty, as_of)


@demo_app.callback(invoke_without_command=True)
@friendly
def demo(
    ctx: typer.Context,
    dir: DirOpt = Path("demo-out"),
    accounts: AccountsOpt = 2000,
    seed: SeedOpt = 7,
    difficulty: DifficultyOpt = "default",
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build, print the keys, and stop.")] = False,
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8360,
) -> None:
    """Generate the demo sources, build the product, write consumers' keys, and serve it."""
    if ctx.invoked_subcommand is not None:
        return
    from c360.cli.reporter import RichReporter
    from c360.pipeline.build import build
    from c360.spec.validate import load_spec
    from c360.store import Store, default_url

    spec_path = generate_demo(dir, accounts, seed, difficulty, None)
    spec = load_spec(spec_path)
    store = Store.open(default_url(spec.base_dir))
    with RichReporter(console) as rep:
        report = build(spec, store, full=True, reporter=rep)
    print_build_summary(report)

    keys = {name: store.create_key(name) for name in spec.model.consumers}
    keys_file = dir / "keys.json"
    keys_file.write_text(json.dumps(keys, indent=2) + "\n")
    keys_file.chmod(0o600)
    some_id = next(iter(store.snapshot_rows(report.version or 0)), ("<id>", b""))[0]
    base = f"http://{host}:{port}"
    console.print(f"\nconsumers' keys written to {keys_file} (shown once):")
    for name, key in keys.items():
        console.print(f"  {name:<12} {key}", highlight=False)
    console.print("\ntry:")
    for name in ("finance", "support"):
        if name in keys:
            console.print(
                f"  curl -s -H 'Authorization: Bearer {keys[name]}' {base}/v1/customers/{some_id}",
                highlight=False,
                soft_wrap=True,
            )
    console.print(f"  curl -s {base}/v1/customers/{some_id}    # no key: 401", highlight=False)
    if "product_owner" in keys:
        console.print(
            f"  open {base}/app in a browser and sign in with product_owner's key (the web app: "
            "fields and lineage, customers, the review queue, the audit log, erasure)",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"  {base}/docs and {base}/redoc: the API's documentation, served offline", highlight=False)
    if no_serve:
        return
    from c360.api.serve import run

    console.print(f"\nserving {spec.model.product} on {base} (Ctrl-C to stop)")
    run(spec_path, None, host=host, port=port)
