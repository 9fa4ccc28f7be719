"""``c360 consumers``: consumers' API keys — create, list, rotate, revoke; keys can expire.

A key is shown once, when it is made, and stored only as a hash; ``list`` shows each
key's prefix so a person can tell keys apart without seeing them.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import and_, select, update

from c360.cli.main import SpecArg, StoreOpt, app, console, friendly, open_spec, open_store
from c360.core.clock import iso, utcnow
from c360.core.errors import C360Error
from c360.core.ids import hash_key, key_prefix, shown_prefix
from c360.spec.validate import Spec
from c360.store.schema import consumer_keys

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
        raise C360Error(f"unknown consumer '{name}'" + (f"; did you mean '{hint}'?" if hint else ""))


def _expiry(days: int | None) -> dt.datetime | None:
    return utcnow() + dt.timedelta(days=days) if days else None


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)


@consumers_app.command("create")
@friendly
def create(spec: SpecArg, name: NameArg, store: StoreOpt = None, expires_in_days: ExpiresOpt = None) -> None:
    """Create a key for a consumer; it is shown once and stored only as a hash."""
    s = open_spec(spec)
    _known(s, name)
    st = open_store(s, store)
    key = st.create_key(name, expires_at=_expiry(expires_in_days))
    _audit(st, "key_created", name, prefix=shown_prefix(key_prefix(key, name), name), expires_in_days=expires_in_days)
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
    q = select(consumer_keys).order_by(consumer_keys.c.consumer, consumer_keys.c.id)
    if name is not None:
        q = q.where(consumer_keys.c.consumer == name)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    with st.engine.connect() as conn:
        for r in conn.execute(q):
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
    now = utcnow()
    with st.engine.begin() as conn:
        old = [
            r.id
            for r in conn.execute(
                select(consumer_keys.c.id, consumer_keys.c.expires_at).where(
                    and_(consumer_keys.c.consumer == name, consumer_keys.c.revoked_at.is_(None))
                )
            )
        ]
        if old and grace_hours > 0:
            until = now + dt.timedelta(hours=grace_hours)
            # Only shorten: a key already due to expire sooner keeps its earlier date.
            conn.execute(
                update(consumer_keys)
                .where(
                    consumer_keys.c.id.in_(old),
                    (consumer_keys.c.expires_at.is_(None) | (consumer_keys.c.expires_at > until)),
                )
                .values(expires_at=until)
            )
        elif old:
            conn.execute(update(consumer_keys).where(consumer_keys.c.id.in_(old)).values(revoked_at=now))
    key = st.create_key(name, expires_at=_expiry(expires_in_days))
    _audit(
        st,
        "key_rotated",
        name,
        prefix=shown_prefix(key_prefix(key, name), name),
        old_keys=len(old),
        grace_hours=grace_hours,
    )
    when = f"expire in {grace_hours:g}h" if grace_hours > 0 else "are revoked"
    console.print(f"new key for {name} (shown once); {len(old)} old key(s) {when}:", highlight=False)
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
    if key_prefix is None:
        n = st.revoke_keys(name)
    else:
        given = key_prefix.rstrip("…")
        wanted = given.removeprefix(f"c360_{name}_")
        with st.engine.begin() as conn:
            active = conn.execute(
                select(consumer_keys.c.id, consumer_keys.c.prefix, consumer_keys.c.key_hash).where(
                    consumer_keys.c.consumer == name, consumer_keys.c.revoked_at.is_(None)
                )
            ).all()
            # The whole key, or the start of one key's prefix as `list` shows it.
            hits = [r.id for r in active if r.key_hash == hash_key(given)]
            if not hits and wanted:
                hits = [
                    r.id
                    for r in active
                    if shown_prefix(r.prefix, name).startswith(given) or r.prefix.startswith(wanted)
                ]
            if not hits:
                raise C360Error(f"no active key of {name} has the prefix '{given}'; see `c360 consumers list`")
            if len(hits) > 1:
                raise C360Error(
                    f"the prefix '{given}' matches {len(hits)} active keys of {name}: give more of it "
                    "(as `c360 consumers list` shows it), or omit --key to revoke them all"
                )
            n = int(
                conn.execute(
                    update(consumer_keys).where(consumer_keys.c.id == hits[0]).values(revoked_at=utcnow())
                ).rowcount
            )
    _audit(st, "key_revoked", name, keys=n, prefix=key_prefix)
    console.print(f"revoked {n} key(s) of {name}")


def _audit(st: Any, kind: str, consumer: str, **detail: Any) -> None:
    """Every change to a consumer's credentials is an audit row (never the key itself)."""
    from c360.governance import audit

    audit.record(st, kind, audit.actor_of(), None, {"consumer": consumer, **detail})
