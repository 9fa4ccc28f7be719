"""``c360 consumers``: consumers' API keys — create, list, rotate, revoke; keys can expire.

A key is shown once, when it is made, and stored only as a hash; ``list`` shows each
key's prefix so a person can tell keys apart without seeing them.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from c360.cli.main import SpecArg, StoreOpt, app, console, friendly, open_spec, open_store
from c360.core.clock import iso, utcnow
from c360.core.errors import C360Error, NotFound
from c360.core.ids import hash_key, shown_prefix
from c360.spec.validate import Spec
from c360.store import Store, keys

consumers_app = typer.Typer(help="Consumers' keys: create, list, rotate, revoke.", no_args_is_help=True)
app.add_typer(consumers_app, name="consumers")

NameArg = Annotated[str, typer.Argument(help="The consumer, as named in the spec.")]
ExpiresOpt = Annotated[
    int | None, typer.Option("--expires-in-days", min=1, help="The key expires after this many days.")
]


def _known(spec: Spec, name: str) -> None:
    if name not in spec.model.consumers:
        from c360.core.text import closest

        hint = closest(name, spec.model.consumers)
        raise NotFound(f"unknown consumer '{name}'" + (f"; did you mean '{hint}'?" if hint else ""))


def _expiry(days: int | None) -> dt.datetime | None:
    return utcnow() + dt.timedelta(days=days) if days else None


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


def _by(st: Store) -> keys.Audited:
    """The person running the command, and the audit chain's MAC: each change commits with its audit row."""
    from c360.governance import audit

    return keys.Audited(audit.audit_key(st.engine).mac, audit.actor_of())


@consumers_app.command("create")
@friendly
def create(spec: SpecArg, name: NameArg, store: StoreOpt = None, expires_in_days: ExpiresOpt = None) -> None:
    """Create a key for a consumer; it is shown once and stored only as a hash."""
    s = open_spec(spec)
    _known(s, name)
    st = open_store(s, store)
    key = keys.create(
        st, name, expires_at=_expiry(expires_in_days), by=_by(st), note={"expires_in_days": expires_in_days}
    )
    console.print(key, highlight=False, soft_wrap=True)


@consumers_app.command("list")
@friendly
def list_keys(
    spec: SpecArg,
    name: Annotated[str | None, typer.Argument(help="Only this consumer's keys.")] = None,
    store: StoreOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every key: consumer, prefix, created, expires; active, expired or revoked."""
    s = open_spec(spec)
    st = open_store(s, store)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for r in keys.listing(st, name):
        expires, revoked = _aware(r.expires_at), _aware(r.revoked_at)
        status = "revoked" if revoked else "expired" if expires and expires <= now else "active"
        rows.append(
            {
                "consumer": r.consumer,
                "prefix": shown_prefix(r.prefix, r.consumer),
                "created_at": iso(_aware(r.created_at) or now),
                "expires_at": iso(expires) if expires else None,
                "revoked_at": iso(revoked) if revoked else None,
                "status": status,
                "in_spec": r.consumer in s.model.consumers,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("consumer", "key prefix", "created", "expires", "status")
    for row in rows:
        status = row["status"] if row["in_spec"] else f"{row['status']} (not in the spec: denied)"
        table.add_row(row["consumer"], row["prefix"] + "…", row["created_at"], row["expires_at"] or "never", status)
    console.print(table)


@consumers_app.command("rotate")
@friendly
def rotate(
    spec: SpecArg,
    name: NameArg,
    store: StoreOpt = None,
    grace_hours: Annotated[
        float, typer.Option("--grace-hours", min=0, help="Old keys keep working this long (0: revoked now).")
    ] = 0,
    expires_in_days: ExpiresOpt = None,
) -> None:
    """Make a new key for a consumer and retire its old ones (now, or after a grace period)."""
    s = open_spec(spec)
    _known(s, name)
    st = open_store(s, store)
    # The old keys' retirement, the new key and the audit row commit together, or none of them.
    key, old = keys.rotate(st, name, grace_hours=grace_hours, expires_at=_expiry(expires_in_days), by=_by(st))
    when = f"expire in {grace_hours:g}h" if grace_hours > 0 else "are revoked"
    console.print(f"new key for {name} (shown once); {old} old key(s) {when}:", highlight=False)
    console.print(key, highlight=False, soft_wrap=True)


@consumers_app.command("revoke")
@friendly
def revoke(
    spec: SpecArg,
    name: NameArg,
    store: StoreOpt = None,
    key_prefix: Annotated[
        str | None, typer.Option("--key", help="Only the key with this prefix (as `list` shows it).")
    ] = None,
) -> None:
    """Revoke every key of a consumer, or just one by its prefix."""
    s = open_spec(spec)
    st = open_store(s, store)
    pick = None if key_prefix is None else _one_by_prefix(name, key_prefix)
    n = keys.revoke(st, name, pick=pick, by=_by(st), note={"prefix": key_prefix})
    console.print(f"revoked {n} key(s) of {name}")


def _one_by_prefix(name: str, key_prefix: str) -> Callable[[Sequence[keys.KeyRow]], int]:
    """Which active key of ``name`` the prefix names: the whole key, or the start of one key's prefix."""
    given = key_prefix.rstrip("…")
    wanted = given.removeprefix(f"c360_{name}_")

    def pick(active: Sequence[keys.KeyRow]) -> int:
        # The whole key, or the start of one key's prefix as `list` shows it.
        hits = [r.id for r in active if r.key_hash == hash_key(given)]
        if not hits and wanted:
            hits = [
                r.id for r in active if shown_prefix(r.prefix, name).startswith(given) or r.prefix.startswith(wanted)
            ]
        if not hits:
            raise C360Error(f"no active key of {name} has the prefix '{given}'; see `c360 consumers list`")
        if len(hits) > 1:
            raise C360Error(
                f"the prefix '{given}' matches {len(hits)} active keys of {name}: give more of it "
                "(as `c360 consumers list` shows it), or omit --key to revoke them all"
            )
        return hits[0]

    return pick
